// Command polykv compares polykv's backends and moves data between stores.
//
//	polykv bench    compare the backends on workloads (make bench runs it)
//	polykv inspect  describe a store: backend, marker, size, key families
//	polykv dump     write every key and value of a store to stdout
//	polykv load     read a dump from stdin into a store
//	polykv copy     copy a store into another (any backends), then verify
//	polykv check    check a nodestore's counters against a scan
//	polykv recover  recover a store a killed process left (Badger), for the read-only commands
//
// Stores are named by DSNs (see kv.ParseDSN): badger:///abs/dir,
// pebble:rel/dir, bbolt:///dir?sync=false, auto:///dir, memory:.
//
// Every subcommand has --help and exits non-zero on any failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	hidden  bool
	run     func(ctx context.Context, io stdio, args []string) error
}

// stdio are a command's streams, so tests can run commands in-process.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

var commands []command

func init() {
	commands = []command{
		{name: "bench", summary: "compare the backends on workloads (tables, JSON, CSV, charts)", run: runBench},
		{name: "inspect", summary: "describe a store: backend, marker, size on disk, key families with counts and first keys", run: runInspect},
		{name: "dump", summary: "write every key and value of a store to stdout (polykv dump format)", run: runDump},
		{name: "load", summary: "read a polykv dump from stdin into an empty store", run: runLoad},
		{name: "copy", summary: "copy every key of one store into another (any backends), then verify", run: runCopy},
		{name: "check", summary: "check a nodestore's counters against a full scan", run: runCheck},
		{name: "scale", summary: "chart throughput and peak RSS against size from bench reports (make bench-scale)", run: runScale},
		{name: "recover", summary: "open a store a killed process left read-write once, so read-only commands can open it", run: runRecover},
		{name: childCommand, hidden: true, run: runBenchChild},
	}
}

// errUsage marks a command-line mistake: exit code 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal cancels ctx: the command stops at its next
		// step. Restore the default so that a second one kills a command
		// blocked where ctx cannot reach (reading stdin).
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, stdio{os.Stdin, os.Stdout, os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code: 0 on success,
// 1 on failure, 2 on a usage error.
func run(ctx context.Context, s stdio, args []string) int {
	isHelp := func(a string) bool { return a == "-h" || a == "--help" || a == "help" }
	if len(args) == 0 || isHelp(args[0]) {
		// "help CMD" is "CMD --help"; help about help is the usage (it
		// used to recurse forever).
		if len(args) > 1 && !isHelp(args[1]) {
			return run(ctx, s, []string{args[1], "--help"})
		}
		usage(s.out)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, s, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(s.err, "polykv %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(s.err, "polykv %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(s.err, "polykv: unknown command %q\n\n", args[0])
	usage(s.err)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "polykv: one ordered key-value interface over Badger, Pebble, bbolt and memory.\n\nUsage: polykv <command> [flags] [arguments]\n\nCommands:\n")
	var names []string
	width := 0
	for _, c := range commands {
		if !c.hidden {
			names = append(names, c.name)
			width = max(width, len(c.name))
		}
	}
	sort.Strings(names)
	for _, c := range commands {
		if !c.hidden {
			fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
		}
	}
	fmt.Fprintf(w, "\nStores are named by DSNs: badger:///abs/dir, pebble:rel/dir, bbolt:///dir?sync=false,\nauto:///dir (the backend its marker names), memory:.\n\nRun 'polykv <command> --help' for a command's flags.\n")
}

// newFlags returns a flag set that reports errors instead of exiting, and
// prints usage text (the command line and a description) for --help.
func newFlags(s stdio, name, args, doc string) *flag.FlagSet {
	fs := flag.NewFlagSet("polykv "+name, flag.ContinueOnError)
	fs.SetOutput(s.err)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: polykv %s %s\n\n%s\n", name, args, strings.TrimSpace(doc))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(out, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses args; --help prints the usage to stdout and returns
// flag.ErrHelp; a bad flag is a usage error.
func parse(fs *flag.FlagSet, s stdio, args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(s.out)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v (see --help)", errUsage, err)
	}
	return nil
}

// wantArgs checks the number of positional arguments.
func wantArgs(fs *flag.FlagSet, names ...string) error {
	if fs.NArg() != len(names) {
		return fmt.Errorf("%w: want %d argument(s) (%s), got %d (see --help)", errUsage, len(names), strings.Join(names, " "), fs.NArg())
	}
	return nil
}

// Command polykv compares polykv's backends, reads and maintains stores, and
// moves data between them.
//
//	polykv bench    compare the backends on workloads (make bench runs it)
//	polykv inspect  describe a store: backend, marker, size, key families
//	polykv get      print the value of one key (escaped, hex or raw)
//	polykv scan     print keys and values in order: by prefix or range, reversed, limited
//	polykv stats    print a store's figures: options, guarantees, engine statistics, size
//	polykv compact  reclaim a store's space now and print its size before and after
//	polykv dump     write every key and value of a store to stdout
//	polykv load     read a dump from stdin into a store
//	polykv backup   write a consistent backup of a store to a file (restore: load)
//	polykv copy     copy a store into another (any backends), then verify
//	polykv check    check a nodestore's counters against a scan
//	polykv verify   read every stored byte through the engine's checks, report damage
//	polykv scale    chart throughput and peak RSS against size from bench reports
//	polykv recover  recover a store a killed process left (Badger), for the read-only commands
//	polykv serve    serve the operator web view of a store at rest (read-only)
//
// Stores are named by DSNs (see kv.ParseDSN): badger:///abs/dir,
// pebble:rel/dir, bbolt:///dir?sync=false, auto:///dir, memory:.
//
// Flags may come before or after the arguments (polykv scan DSN --limit 5);
// "--" ends them. Every subcommand has --help. The exit code is 0 on
// success, 1 on a failure (a key not found, a store that cannot be opened),
// 2 on a usage error (a bad flag or argument, a malformed DSN, an unknown
// backend).
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
	"sync"
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
		{name: "get", summary: "print the value of one key (escaped, hex or raw)", run: runGet},
		{name: "scan", summary: "print keys and values in order: by prefix or range, reversed, limited", run: runScan},
		{name: "stats", summary: "print a store's figures: backend, options, guarantees, engine statistics, size on disk", run: runStats},
		{name: "compact", summary: "reclaim a store's space now (engine compaction) and print its size before and after", run: runCompact},
		{name: "dump", summary: "write every key and value of a store to stdout (polykv dump format)", run: runDump},
		{name: "load", summary: "read a polykv dump from stdin into an empty store", run: runLoad},
		{name: "backup", summary: "write a consistent backup of a store to a file (restore it with load)", run: runBackup},
		{name: "copy", summary: "copy every key of one store into another (any backends), then verify", run: runCopy},
		{name: "check", summary: "check a nodestore's counters against a full scan", run: runCheck},
		{name: "verify", summary: "read every key and value through the engine's checksums; report damage", run: runVerify},
		{name: "scale", summary: "chart throughput and peak RSS against size from bench reports (make bench-scale)", run: runScale},
		{name: "recover", summary: "open a store a killed process left read-write once, so read-only commands can open it", run: runRecover},
		{name: "serve", summary: "serve the operator web view (progress, logs, keys, metrics) of a store, read-only", run: runServe},
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
		out := &outWriter{w: s.out}
		s.out = out
		err := c.run(ctx, s, args[1:])
		if err == nil {
			if werr := out.failed(); werr != nil {
				// A report that did not reach its reader is a failure
				// (stdout on a full disk, a closed pipe).
				err = fmt.Errorf("write the output: %w", werr)
			}
		}
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(s.err, "polykv %s: %s\n", c.name, printable(err.Error()))
			return 2
		default:
			fmt.Fprintf(s.err, "polykv %s: %s\n", c.name, printable(err.Error()))
			return 1
		}
	}
	fmt.Fprintf(s.err, "polykv: unknown command %q\n\n", args[0])
	usage(s.err)
	return 2
}

// outWriter is a command's stdout: it remembers the first write error, so
// that a command whose output was lost does not exit 0 (every command
// checks it through run, whether or not it checks its own writes).
type outWriter struct {
	w   io.Writer
	mu  sync.Mutex
	err error
}

func (o *outWriter) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil {
		o.mu.Lock()
		if o.err == nil {
			o.err = err
		}
		o.mu.Unlock()
	}
	return n, err
}

// failed returns the first write error, or nil.
func (o *outWriter) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "polykv: one ordered key-value interface over Badger, Pebble, bbolt, memory and etcd.\n\nUsage: polykv <command> [flags] [arguments]\n\nCommands:\n")
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
// flag.ErrHelp; a bad flag is a usage error. Flags may come after the
// positional arguments as well as before them ("polykv scan DSN --limit 5");
// "--" ends the flags, so an argument after it that starts with '-' is a
// positional one.
func parse(fs *flag.FlagSet, s stdio, args []string) error {
	flags, pos, complete := splitArgs(fs, args)
	for _, a := range flags {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(s.out)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if complete {
		// The flags first, then the positional arguments after a "--" (the
		// flag package stops at the first argument that is not a flag).
		flags = append(append(flags, "--"), pos...)
	}
	if err := fs.Parse(flags); err != nil {
		return fmt.Errorf("%w: %v (see --help)", errUsage, err)
	}
	return nil
}

// splitArgs separates args into flag arguments (each flag with its value,
// in order) and positional arguments, so that flags may follow positional
// arguments. A flag that is not a boolean takes the next argument as its
// value, whatever it looks like, as the flag package does. complete is
// false when the last flag lacks its value: fs.Parse of flags alone then
// reports it (appending "--" would hand it "--" as the value).
func splitArgs(fs *flag.FlagSet, args []string) (flags, pos []string, complete bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(pos, args[i+1:]...), true
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a) // "-" alone is an argument (stdin, by convention)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimPrefix(a[1:], "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // not defined: fs.Parse reports it
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 == len(args) {
			return flags, pos, false
		}
		i++
		flags = append(flags, args[i])
	}
	return flags, pos, true
}

// wantArgs checks the number of positional arguments.
func wantArgs(fs *flag.FlagSet, names ...string) error {
	if fs.NArg() != len(names) {
		return fmt.Errorf("%w: want %d argument(s) (%s), got %d (see --help)", errUsage, len(names), strings.Join(names, " "), fs.NArg())
	}
	return nil
}

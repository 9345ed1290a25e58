package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/polykv/polykv/bench"
	"github.com/polykv/polykv/kv"
)

const statsDoc = `
Prints what a store says about itself: its backend and how it was opened
(kv.DB.Info: path, durability, memory budget, the backend's guarantees), the
engine's own figures (kv.DB.Stats: the bytes of its files and of its caches
and memtables, and the figures only this engine has, by name, as in the
backend's Stats documentation), and the size of the store directory on disk
(allocated blocks, marker and lock file included; none for a memory store
or a store on a cluster). The store is opened
read-only; the figures are those of that open (cache hits and compactions
count from it). 'polykv inspect' counts the keys.
`

// statsReport is stats' output.
type statsReport struct {
	DSN          string          `json:"dsn"`
	Backend      string          `json:"backend"`
	Path         string          `json:"path,omitempty"`
	Durability   string          `json:"durability"`
	ReadOnly     bool            `json:"read_only"`
	MemoryBudget int64           `json:"memory_budget"`
	Guarantees   map[string]bool `json:"guarantees"`
	DiskBytes    int64           `json:"disk_bytes,omitempty"`
	Engine       engineFigures   `json:"engine"`
}

type engineFigures struct {
	DiskBytes   int64            `json:"disk_bytes"`
	MemoryBytes int64            `json:"memory_bytes"`
	Extra       map[string]int64 `json:"extra"`
}

func runStats(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "stats", "[flags] DSN", statsDoc)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	db, err := parseAndOpen(ctx, fs, s, args, true)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.Stats()
	if err != nil {
		return err
	}
	info := db.Info()
	var disk int64
	if onDisk(info) {
		// While the store is open, as the engine's own figures.
		if disk, err = bench.DiskUsage(info.Path); err != nil {
			return fmt.Errorf("measure the size on disk: %w", err)
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	g := info.Guarantees
	rep := statsReport{
		DSN:          kv.RedactDSN(fs.Arg(0)),
		Backend:      st.Backend,
		Path:         info.Path,
		Durability:   info.Durability.String(),
		ReadOnly:     info.ReadOnly,
		MemoryBudget: info.MemoryBudget,
		DiskBytes:    disk,
		Guarantees: map[string]bool{
			"persistent":                 g.Persistent,
			"nosync_keeps_acked_on_kill": g.NoSyncKeepsAckedOnKill,
			"atomic_delete_range":        g.AtomicDeleteRange,
			"read_only_open_after_kill":  g.ReadOnlyOpenAfterKill,
			"shared":                     g.Shared,
			"detects_value_damage":       g.DetectsValueDamage,
		},
		Engine: engineFigures{DiskBytes: st.Engine.DiskBytes, MemoryBytes: st.Engine.MemoryBytes, Extra: st.Engine.Extra},
	}
	if rep.Engine.Extra == nil {
		rep.Engine.Extra = map[string]int64{}
	}
	if *asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(s.out, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "store:\t%s\n", rep.DSN)
	fmt.Fprintf(tw, "backend:\t%s\n", rep.Backend)
	if rep.Path != "" {
		fmt.Fprintf(tw, "path:\t%s\n", rep.Path)
	}
	fmt.Fprintf(tw, "durability:\t%s\n", rep.Durability)
	fmt.Fprintf(tw, "read-only:\t%v\n", rep.ReadOnly)
	fmt.Fprintf(tw, "memory budget:\t%s\n", kv.FormatSize(rep.MemoryBudget))
	var promised []string
	for _, name := range slices.Sorted(maps.Keys(rep.Guarantees)) {
		if rep.Guarantees[name] {
			promised = append(promised, name)
		}
	}
	fmt.Fprintf(tw, "guarantees:\t%s\n", strings.Join(promised, ", "))
	if onDisk(info) {
		fmt.Fprintf(tw, "on disk:\t%d bytes (allocated blocks, whole directory)\n", rep.DiskBytes)
	}
	fmt.Fprintf(tw, "engine disk:\t%d bytes\n", rep.Engine.DiskBytes)
	fmt.Fprintf(tw, "engine memory:\t%d bytes\n", rep.Engine.MemoryBytes)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Engine.Extra) == 0 {
		return nil
	}
	fmt.Fprintf(s.out, "\n%s figures:\n", rep.Backend)
	tw = tabwriter.NewWriter(s.out, 2, 8, 2, ' ', 0)
	for _, name := range slices.Sorted(maps.Keys(rep.Engine.Extra)) {
		fmt.Fprintf(tw, "  %s\t%d\n", name, rep.Engine.Extra[name])
	}
	return tw.Flush()
}

// onDisk reports whether the store is a directory of this machine (not a
// memory store, nor a store on a cluster, whose Path is not a directory).
func onDisk(info kv.Info) bool { return info.Path != "" && !info.Guarantees.Shared }

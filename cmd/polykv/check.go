package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/polykv/polykv/nodestore"
)

const checkDoc = `
Checks the nodestore in a store (nodestore.Store.Check): every node in
exactly one status key, every child index entry pointing at a stored node
whose parent it names, and every per-(queue, level, status) counter equal to
a full scan of the node keys. It reads one consistent snapshot; the store is
opened read-only. Exit code 0: consistent; 1: problems found (listed) or the
check could not run.

check checks nodestore's bookkeeping (nodes, index, counters), not the
stored bytes: run polykv verify for that. A value damaged on disk that still
decodes, or a node lost with its index entry and counter, passes check.

With --counts, it also prints the counters (queue, level, traversal/copy
status, count).
`

func runCheck(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "check", "[flags] DSN", checkDoc)
	counts := fs.Bool("counts", false, "also print every counter")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	db, err := parseAndOpen(ctx, fs, s, args, true)
	if err != nil {
		return err
	}
	defer db.Close()
	ns := nodestore.New(db)
	rep, err := ns.Check(ctx)
	if err != nil {
		return err
	}
	var entries []nodestore.CountEntry
	if *counts {
		if entries, err = ns.Counts(ctx); err != nil {
			return err
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			nodestore.CheckReport
			OK     bool                   `json:"ok"`
			Counts []nodestore.CountEntry `json:"counts,omitempty"`
		}{rep, rep.OK(), entries}); err != nil {
			return err
		}
	} else {
		queues := make([]string, 0, len(rep.Nodes))
		for q := range rep.Nodes {
			queues = append(queues, string(q))
		}
		sort.Strings(queues)
		for _, q := range queues {
			fmt.Fprintf(s.out, "%s: %d nodes\n", q, rep.Nodes[nodestore.QueueType(q)])
		}
		for _, e := range entries {
			fmt.Fprintf(s.out, "count %s level %d %s/%s: %d\n", e.Queue, e.Level, e.Traversal, e.Copy, e.N)
		}
		for _, p := range rep.Problems {
			fmt.Fprintf(s.out, "PROBLEM: %s\n", p)
		}
		if rep.Truncated {
			fmt.Fprintf(s.out, "(more than %d problems; the list is truncated)\n", nodestore.MaxProblems)
		}
	}
	if rep.Truncated {
		return fmt.Errorf("more than %d problems found (only the first %d are listed)", nodestore.MaxProblems, len(rep.Problems))
	}
	if !rep.OK() {
		return fmt.Errorf("%d problem(s) found", len(rep.Problems))
	}
	if !*asJSON {
		fmt.Fprintln(s.out, "ok: nodes, index and counters are consistent")
		fmt.Fprintln(s.out, "(checks nodestore's bookkeeping (nodes, index, counters), not the stored bytes: run polykv verify for that)")
	}
	return nil
}

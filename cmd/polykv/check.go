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

Two repairs open the store read-write instead (other processes sharing an
etcd store may go on writing meanwhile):

  --repair-counts  when the check finds problems, correct every counter
                   from a scan of the node keys (nodestore.RebuildCounts:
                   what a "run RebuildCounts" error asks for), then check
                   again and report what is left. It repairs counters
                   only: a problem of the nodes or of the index stays.
  --fold           fold counter stripes into their counter keys
                   (nodestore.FoldCounts): after a traversal by several
                   processes on a shared store, the store then has the key
                   layout of a local one. The counts do not change.
`

func runCheck(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "check", "[flags] DSN", checkDoc)
	counts := fs.Bool("counts", false, "also print every counter")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	repair := fs.Bool("repair-counts", false, "when the check finds problems, correct the counters from a scan of the nodes, and check again (opens the store read-write)")
	fold := fs.Bool("fold", false, "fold counter stripes into their counter keys (opens the store read-write)")
	if err := parse(fs, s, args); err != nil {
		return err
	}
	if err := wantArgs(fs, "DSN"); err != nil {
		return err
	}
	db, err := openDSN(ctx, fs.Arg(0), !*repair && !*fold)
	if err != nil {
		return err
	}
	defer db.Close()
	ns := nodestore.New(db)
	rep, err := ns.Check(ctx)
	if err != nil {
		return err
	}
	// What the repairs did: printed before the report, or in it with --json.
	var repaired struct {
		Before  int  `json:"problems_before"`
		Rebuilt bool `json:"counts_rebuilt"`
		Folded  int  `json:"counters_folded"`
	}
	if *repair && !rep.OK() {
		repaired.Before, repaired.Rebuilt = len(rep.Problems), true
		if err := ns.RebuildCounts(ctx); err != nil {
			return err
		}
		if rep, err = ns.Check(ctx); err != nil {
			return err
		}
	}
	if *fold {
		n, err := ns.FoldCounts(ctx)
		if err != nil {
			return err
		}
		repaired.Folded = n
	}
	var entries []nodestore.CountEntry
	var countsErr error // the counters could not be listed (damaged): the report is printed all the same
	if *counts {
		entries, countsErr = ns.Counts(ctx)
	}
	if err := db.Close(); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		out := struct {
			nodestore.CheckReport
			OK       bool                   `json:"ok"`
			Counts   []nodestore.CountEntry `json:"counts,omitempty"`
			Repaired any                    `json:"repaired,omitempty"`
		}{CheckReport: rep, OK: rep.OK(), Counts: entries}
		if *repair || *fold {
			out.Repaired = repaired
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		if repaired.Rebuilt {
			fmt.Fprintf(s.out, "repaired: %d problem(s) found; counters corrected from a scan of the nodes; checked again:\n", repaired.Before)
		}
		if *fold {
			fmt.Fprintf(s.out, "folded: the stripes of %d counter(s)\n", repaired.Folded)
		}
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
			fmt.Fprintf(s.out, "PROBLEM: %s\n", printableLine(p))
		}
		if rep.Truncated {
			fmt.Fprintf(s.out, "(more than %d problems; the list is truncated)\n", nodestore.MaxProblems)
		}
	}
	if countsErr != nil {
		if rep.OK() {
			return fmt.Errorf("--counts: %w", countsErr)
		}
		fmt.Fprintf(s.err, "polykv check: --counts: %s\n", printable(countsErr.Error()))
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

package bench

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/polykv/polykv/nodestore"
)

// The copy-status workload: the engine's copy workers. The load phase
// stores --size files, traversed and waiting to be copied, in the folders
// of one level (BatchInsertNodes); the measured phase has --producers
// goroutines (default 16) each mark its share of the files copied, one
// SetCopyStatus (one transaction) per file, as a worker does after copying
// it (each file belongs to one worker). Under --sync every commit must be
// durable before it returns, so this is where group commit shows: engines
// that let concurrent commits share an fsync (kv.SyncDeferrer) run it
// several times faster than one commit per fsync. The run verifies each
// returned node and that the level's counts end with every file copied and
// none pending.

const (
	copyStatusDefault = 20_000
	copyStatusWorkers = 16
	copyStatusFanout  = 100 // files per folder
)

func init() {
	register(Workload{
		Name:        "copy-status",
		Group:       "nodestore",
		DefaultSize: copyStatusDefault,
		Doc: fmt.Sprintf("--producers goroutines (default %d) mark --size pending files copied, one SetCopyStatus "+
			"transaction each, as copy workers do (compare with --sync: group commit); unit: file", copyStatusWorkers),
		Run: runCopyStatus,
	})
}

func copyStatusPath(i int) string {
	return "/data/d" + strconv.Itoa(i/copyStatusFanout) + "/f" + strconv.Itoa(i) + ".bin"
}

func runCopyStatus(e *Env) error {
	e.SetUnit("file")
	n := e.Spec.sizeOr(copyStatusDefault)
	workers := e.Spec.producersOr(copyStatusWorkers)
	st, err := e.OpenStore()
	if err != nil {
		return err
	}
	ns := nodestore.New(st)
	const level = 2
	err = e.Load(int64(n), func() error {
		folders := (n + copyStatusFanout - 1) / copyStatusFanout
		ops := make([]nodestore.InsertOperation, 0, 1+folders+n)
		add := func(level int, ts nodestore.TraversalStatus, cs nodestore.CopyStatus, s nodestore.NodeState) {
			s.Depth = level
			ops = append(ops, nodestore.InsertOperation{QueueType: nodestore.QueueSrc, Level: level,
				TraversalStatus: ts, CopyStatus: cs, State: &s})
		}
		done := nodestore.TraversalStatusSuccessful
		add(0, done, nodestore.CopyStatusSuccessful, nodestore.NodeState{ID: "root", Name: "data", Path: "/data", Type: nodestore.NodeTypeFolder})
		for f := range folders {
			dir := "/data/d" + strconv.Itoa(f)
			add(1, done, nodestore.CopyStatusSuccessful, nodestore.NodeState{ID: dir, ParentID: "root", ParentPath: "/data",
				Name: "d" + strconv.Itoa(f), Path: dir, Type: nodestore.NodeTypeFolder})
		}
		mtime := time.Unix(1_700_000_000, 0).UTC()
		for i := range n {
			p := copyStatusPath(i)
			add(level, done, nodestore.CopyStatusPending, nodestore.NodeState{ID: p, ParentID: "/data/d" + strconv.Itoa(i/copyStatusFanout),
				ParentPath: "/data/d" + strconv.Itoa(i/copyStatusFanout), Name: "f" + strconv.Itoa(i) + ".bin", Path: p,
				Type: nodestore.NodeTypeFile, Size: int64(i % 100_000), MTime: mtime, CopyNeeded: true})
		}
		res, err := ns.BatchInsertNodes(e.Ctx, ops)
		if err != nil {
			return err
		}
		if len(res.Skipped) > 0 {
			return fmt.Errorf("load: %d nodes skipped, first: %v", len(res.Skipped), res.Skipped[0])
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = e.MeasureFunc(func() (int64, error) {
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += workers {
					start := time.Now()
					node, err := ns.SetCopyStatus(e.Ctx, nodestore.QueueSrc, copyStatusPath(i), nodestore.CopyStatusSuccessful)
					if err != nil {
						errs[w] = fmt.Errorf("worker %d, file %d: %w", w, i, err)
						return
					}
					e.Record(time.Since(start))
					if node.Copy != nodestore.CopyStatusSuccessful || node.State.Path != copyStatusPath(i) {
						errs[w] = fmt.Errorf("worker %d, file %d: SetCopyStatus returned %s with copy status %q", w, i, node.State.Path, node.Copy)
						return
					}
				}
			}()
		}
		wg.Wait()
		return int64(n), errors.Join(errs...)
	})
	if err != nil {
		return err
	}
	copied, err := ns.Count(e.Ctx, nodestore.QueueSrc, level, nodestore.TraversalStatusSuccessful, nodestore.CopyStatusSuccessful)
	if err != nil {
		return err
	}
	pending, err := ns.Count(e.Ctx, nodestore.QueueSrc, level, nodestore.TraversalStatusSuccessful, nodestore.CopyStatusPending)
	if err != nil {
		return err
	}
	if copied != int64(n) || pending != 0 {
		return fmt.Errorf("after the run: %d files copied and %d pending, want %d and 0", copied, pending, n)
	}
	e.Extra("workers", float64(workers))
	e.Verified(fmt.Sprintf("%d files marked copied by %d workers; counts %d copied, 0 pending", n, workers, copied))
	return nil
}

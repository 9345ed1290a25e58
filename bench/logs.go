package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/polykv/polykv/logstore"
)

// The logs workload: Producers goroutines add Size entries in total
// through one logstore.LogBuffer (batch 500, the seed's size); the measured
// phase runs from the first Add to the return of Stop (every entry
// written). Then, timed apart as extra figures: every level read back with
// ByLevel, and the newest 100 entries of each level with Newest. The run
// verifies that every entry was read back exactly once, under its level,
// and that Newest returns each level's entries newest first.

const (
	logsDefault   = 200_000
	logsBatch     = logstore.DefaultBatchSize
	logsProducers = 4
	logsNewest    = 100
)

// logLevelOf picks an entry's level with a fixed mix: mostly info and
// debug, a few warnings and errors, rare critical and trace.
func logLevelOf(r *rand.Rand) logstore.Level {
	switch p := r.IntN(1000); {
	case p < 50:
		return logstore.LevelTrace
	case p < 300:
		return logstore.LevelDebug
	case p < 850:
		return logstore.LevelInfo
	case p < 950:
		return logstore.LevelWarning
	case p < 995:
		return logstore.LevelError
	default:
		return logstore.LevelCritical
	}
}

func runLogs(e *Env) error {
	e.SetUnit("entry")
	n := e.Spec.sizeOr(logsDefault)
	producers := e.Spec.producersOr(logsProducers)
	st, err := e.OpenStore()
	if err != nil {
		return err
	}
	buf := logstore.NewLogBufferOptions(st, logstore.Options{BatchSize: logsBatch, Interval: time.Second})
	stopped := false
	e.OnClose(func() error {
		if !stopped {
			return buf.Stop()
		}
		return nil
	})
	perLevel := make([]map[logstore.Level]int, producers)
	var logical int64
	var logicalMu sync.Mutex
	err = e.MeasureFunc(func() (int64, error) {
		var wg sync.WaitGroup
		errs := make([]error, producers)
		for p := range producers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.Rand("logs-" + strconv.Itoa(p))
				counts := map[logstore.Level]int{}
				perLevel[p] = counts
				var bytes int64
				for i := p; i < n; i += producers {
					lvl := logLevelOf(r)
					entry := logstore.LogEntry{
						Level:    lvl,
						Entity:   "worker",
						EntityID: "worker-" + strconv.Itoa(p),
						Queue:    [2]string{"src", "dst"}[i&1],
						Message:  "seq=" + strconv.Itoa(i) + " copied /data/projects/migration/batch/file-" + strconv.Itoa(r.IntN(1_000_000)),
					}
					start := time.Now()
					if err := buf.Add(entry); err != nil {
						errs[p] = fmt.Errorf("producer %d, entry %d: %w", p, i, err)
						return
					}
					e.Record(time.Since(start))
					counts[lvl]++
					bytes += int64(len(entry.Message) + len(entry.EntityID) + len(entry.Entity) + 60)
				}
				logicalMu.Lock()
				logical += bytes
				logicalMu.Unlock()
			}()
		}
		wg.Wait()
		stopErr := buf.Stop()
		stopped = true
		if err := errors.Join(errors.Join(errs...), stopErr); err != nil {
			return 0, err
		}
		return int64(n), nil
	})
	if err != nil {
		return err
	}
	e.Wrote(logical)

	// Read every level back and check each entry once.
	want := map[logstore.Level]int{}
	for _, c := range perLevel {
		for l, k := range c {
			want[l] += k
		}
	}
	seen := make([]bool, n)
	// The last logsNewest IDs of each level, in the order ByLevel reads
	// them (oldest first): what Newest must return, newest first.
	last := map[logstore.Level][]string{}
	start := time.Now()
	read := 0
	for _, lvl := range logstore.Levels() {
		got := 0
		ring := make([]string, logsNewest)
		err := logstore.ByLevel(e.Ctx, st, lvl, func(le logstore.LogEntry) error {
			i, err := seqOf(le.Message)
			if err != nil || i >= n {
				return fmt.Errorf("entry %s: unexpected message %q", le.ID, le.Message)
			}
			if seen[i] {
				return fmt.Errorf("entry seq=%d read twice", i)
			}
			if le.Level != lvl {
				return fmt.Errorf("entry seq=%d has level %s under %s", i, le.Level, lvl)
			}
			seen[i] = true
			ring[got%logsNewest] = le.ID
			got++
			return nil
		})
		if err != nil {
			return err
		}
		for j := max(0, got-logsNewest); j < got; j++ {
			last[lvl] = append(last[lvl], ring[j%logsNewest])
		}
		if got != want[lvl] {
			return fmt.Errorf("level %s: read %d entries, wrote %d", lvl, got, want[lvl])
		}
		read += got
	}
	byLevel := time.Since(start)
	if read != n {
		return fmt.Errorf("read back %d entries, wrote %d", read, n)
	}
	e.Extra("by_level_entries_per_sec", float64(read)/byLevel.Seconds())

	start = time.Now()
	newest := map[logstore.Level][]logstore.LogEntry{}
	for _, lvl := range logstore.Levels() {
		if newest[lvl], err = logstore.Newest(e.Ctx, st, logsNewest, lvl); err != nil {
			return err
		}
	}
	e.Extra("newest100_ms_per_level", time.Since(start).Seconds()*1000/float64(len(logstore.Levels())))
	for _, lvl := range logstore.Levels() {
		got, want := newest[lvl], last[lvl]
		if len(got) != len(want) {
			return fmt.Errorf("newest %d of %s: got %d entries, want %d", logsNewest, lvl, len(got), len(want))
		}
		for j := range got {
			if w := want[len(want)-1-j]; got[j].ID != w {
				return fmt.Errorf("newest of %s: entry %d is %s, want %s (the %d-th newest ByLevel read)", lvl, j, got[j].ID, w, j+1)
			}
		}
	}
	e.Verified(fmt.Sprintf("%d entries read back once each under their level; newest-%d of 6 levels, each the last %d ByLevel read, newest first", n, logsNewest, logsNewest))
	return nil
}

func seqOf(msg string) (int, error) {
	rest, ok := strings.CutPrefix(msg, "seq=")
	if !ok {
		return 0, errors.New("no seq")
	}
	num, _, _ := strings.Cut(rest, " ")
	return strconv.Atoi(num)
}

func init() {
	register(Workload{
		Name:        "logs",
		Group:       "logs",
		DefaultSize: logsDefault,
		Doc: "--producers goroutines (default 4) add --size entries through one LogBuffer (batch 500); " +
			"then every level read back (ByLevel) and the newest 100 per level; unit: entry",
		Run: runLogs,
	})
}

package pebble_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// TestCrashDeleteRange checks, with processes killed by SIGKILL at random
// moments, that a range deletion is atomic across a crash: the declared
// Guarantees.AtomicDeleteRange.
func TestCrashDeleteRange(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the test binary")
	}
	conformance.RunCrash(t, kv.Config{Backend: "pebble"}, conformance.CrashOptions{
		Workload: deleteRangeWorkload{},
		MaxAcks:  30,
	})
}

// deleteRangeWorkload: round i fills the range drk/<i>/ with drKeys keys in
// drChunks separate batches (not atomic together), then writes the marker
// drm/<i> ("the range is full"), then deletes the whole range with one
// DeleteRange; transaction i is that deletion. drKeys is larger than the
// chunk of kv's generic, non-atomic range delete, so a chunked deletion
// killed half way would show.
type deleteRangeWorkload struct{}

const (
	drKeys   = 6000
	drChunks = 6
)

func drKey(round, j int) []byte { return fmt.Appendf(nil, "drk/%08d/%06d", round, j) }
func drRange(round int) []byte  { return fmt.Appendf(nil, "drk/%08d/", round) }
func drMarker(round int) []byte { return fmt.Appendf(nil, "drm/%08d", round) }

// state is what the store holds of one round.
func drState(ctx context.Context, s kv.Store, round int) (full bool, keys int, err error) {
	_, err = s.Get(ctx, drMarker(round))
	switch {
	case err == nil:
		full = true
	case !errors.Is(err, kv.ErrNotFound):
		return false, 0, err
	}
	err = s.Iterate(ctx, kv.IterOptions{Prefix: drRange(round), KeysOnly: true}, func(k, _ []byte) error {
		keys++
		return nil
	})
	return full, keys, err
}

func (deleteRangeWorkload) Child(ctx context.Context, s kv.Store, ack func(int)) error {
	round := 0
	for ; ; round++ { // skip the rounds already deleted
		full, keys, err := drState(ctx, s, round)
		if err != nil {
			return err
		}
		if !full || keys > 0 {
			break
		}
	}
	val := bytes.Repeat([]byte("v"), 40)
	for ; ctx.Err() == nil; round++ {
		full, _, err := drState(ctx, s, round)
		if err != nil {
			return err
		}
		if !full {
			var b kv.Batch
			for c := range drChunks {
				b.Reset()
				for j := c * drKeys / drChunks; j < (c+1)*drKeys/drChunks; j++ {
					if err := b.Set(drKey(round, j), val); err != nil {
						return err
					}
				}
				if err := s.Write(ctx, &b); err != nil {
					return ignoreDone(ctx, err)
				}
			}
			if err := s.Set(ctx, drMarker(round), nil); err != nil {
				return ignoreDone(ctx, err)
			}
		}
		if err := s.DeletePrefix(ctx, drRange(round)); err != nil {
			return ignoreDone(ctx, err)
		}
		ack(round)
	}
	return nil
}

func ignoreDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (deleteRangeWorkload) Check(t testing.TB, s kv.Store, lastAck int) conformance.CrashResult {
	var res conformance.CrashResult
	ctx := t.Context()
	open := false // a round not deleted has been seen
	for round := 0; ; round++ {
		full, keys, err := drState(ctx, s, round)
		if err != nil {
			t.Fatalf("check round %d: %v", round, err)
		}
		switch {
		case full && keys == 0: // deleted: transaction round committed
			if open {
				res.Problems = append(res.Problems, fmt.Sprintf("round %d deleted after a round not deleted: a gap", round))
			}
			res.Committed = round + 1
			continue
		case full && keys != drKeys:
			res.Problems = append(res.Problems, fmt.Sprintf("round %d: %d of %d keys left: range delete half applied", round, keys, drKeys))
		case !full && keys%(drKeys/drChunks) != 0:
			res.Problems = append(res.Problems, fmt.Sprintf("round %d: %d keys, not whole batches", round, keys))
		}
		if !full && keys == 0 {
			return res // nothing of this round: the end
		}
		open = true
	}
}

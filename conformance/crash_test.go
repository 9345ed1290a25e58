package conformance_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// fillTxns commits n transactions of TxnWorkload into a memory store, the
// way a crash-test child does.
func fillTxns(t *testing.T, n int) kv.Store {
	t.Helper()
	db, err := memory.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if n == 0 {
		return db
	}
	ctx, cancel := contextAfter(t, n)
	defer cancel()
	last := -1
	if err := (conformance.TxnWorkload{}).Child(ctx, db, func(i int) {
		last = i
		ctx.ack()
	}); err != nil {
		t.Fatal(err)
	}
	if last != n-1 {
		t.Fatalf("child acknowledged up to %d, want %d", last, n-1)
	}
	return db
}

func TestTxnWorkloadCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		damage  func(t *testing.T, s kv.Store)
		want    int
		problem string // "" for a consistent store
	}{
		{name: "empty", n: 0, want: 0},
		{name: "consistent", n: 60, want: 60},
		{name: "half applied", n: 10, want: 10, problem: "transaction 4 has keys \"ac\"",
			damage: func(t *testing.T, s kv.Store) { del(t, s, "crash/00000004/b") }},
		{name: "delete not applied", n: 10, want: 10, problem: "transaction 6 has keys \"abcd\"",
			damage: func(t *testing.T, s kv.Store) { set(t, s, "crash/00000006/d", "") }},
		{name: "marker missing", n: 10, want: 10, problem: "transaction 9 has keys \"abc\"",
			damage: func(t *testing.T, s kv.Store) { del(t, s, "crash/00000009/d") }},
		{name: "gap", n: 10, want: 10, problem: "transaction 3 missing",
			damage: func(t *testing.T, s kv.Store) {
				for _, sub := range "abc" {
					del(t, s, fmt.Sprintf("crash/00000003/%c", sub))
				}
			}},
		{name: "last behind", n: 10, want: 10, problem: "crash/last = 8",
			damage: func(t *testing.T, s kv.Store) { set(t, s, "crash/last", "8") }},
		{name: "wrong value", n: 10, want: 10, problem: "not the one written",
			damage: func(t *testing.T, s kv.Store) { set(t, s, "crash/00000002/c", "x") }},
		{name: "stray key", n: 3, want: 3, problem: "unexpected key",
			damage: func(t *testing.T, s kv.Store) { set(t, s, "crash/zzz", "") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fillTxns(t, tc.n)
			if tc.damage != nil {
				tc.damage(t, s)
			}
			r := (conformance.TxnWorkload{}).Check(t, s, tc.n-1)
			if r.Committed != tc.want {
				t.Errorf("Committed = %d, want %d", r.Committed, tc.want)
			}
			got := strings.Join(r.Problems, "\n")
			if tc.problem == "" && got != "" {
				t.Errorf("problems in a consistent store:\n%s", got)
			}
			if tc.problem != "" && !strings.Contains(got, tc.problem) {
				t.Errorf("problems %q do not mention %q", got, tc.problem)
			}
		})
	}
}

// The child continues numbering from what it finds.
func TestTxnWorkloadContinues(t *testing.T) {
	s := fillTxns(t, 5)
	ctx, cancel := contextAfter(t, 3)
	defer cancel()
	var acks []int
	if err := (conformance.TxnWorkload{}).Child(ctx, s, func(i int) { acks = append(acks, i); ctx.ack() }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(acks) != "[5 6 7]" {
		t.Errorf("second child acknowledged %v, want [5 6 7]", acks)
	}
	if r := (conformance.TxnWorkload{}).Check(t, s, 7); r.Committed != 8 || len(r.Problems) > 0 {
		t.Errorf("Check = %+v", r)
	}
}

func set(t *testing.T, s kv.Store, k, v string) {
	t.Helper()
	if err := s.Set(t.Context(), []byte(k), []byte(v)); err != nil {
		t.Fatal(err)
	}
}

func del(t *testing.T, s kv.Store, k string) {
	t.Helper()
	if err := s.Delete(t.Context(), []byte(k)); err != nil {
		t.Fatal(err)
	}
}

// The concurrent workload continues numbering from what it finds, its
// acknowledgements increase, and what it leaves is consistent: every
// acknowledged transaction and at most one unacknowledged per writer.
func TestConcurrentTxnWorkload(t *testing.T) {
	s := fillTxns(t, 5)
	w := conformance.ConcurrentTxnWorkload{Writers: 4}
	ctx, cancel := contextAfter(t, 20)
	defer cancel()
	var acks []int
	if err := w.Child(ctx, s, func(i int) { acks = append(acks, i); ctx.ack() }); err != nil {
		t.Fatal(err)
	}
	// ctx ends at the 20th acknowledgement; a writer whose commit was
	// already done acknowledges it too, so up to Writers-1 more follow.
	if len(acks) < 20 || len(acks) > 20+w.Writers-1 || acks[0] < 5 {
		t.Fatalf("acknowledged %v: want 20 to %d acknowledgements from 5 on", acks, 20+w.Writers-1)
	}
	for j := 1; j < len(acks); j++ {
		if acks[j] <= acks[j-1] {
			t.Fatalf("acknowledgements out of order: %v", acks)
		}
	}
	last := acks[len(acks)-1]
	r := w.Check(t, s, last)
	if len(r.Problems) > 0 || r.Committed < last+1 || r.Committed > last+1+w.MaxUnacked() {
		t.Errorf("Check = %+v after acknowledgements up to %d", r, last)
	}
}

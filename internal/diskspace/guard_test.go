package diskspace_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/polykv/polykv/internal/diskspace"
)

// The guard measures at most every Recheck, or when the writes since the
// last measure used half the space above the reserve, and refuses a write
// that would leave less than the reserve.
func TestGuard(t *testing.T) {
	var free, measures atomic.Int64
	g := &diskspace.Guard{Reserve: 1000, Free: func(string) (int64, error) {
		measures.Add(1)
		return free.Load(), nil
	}}
	free.Store(3000)
	// 2000 above the reserve: half of it, 1000, for this write and the
	// next ones without a measure.
	if _, ok, _ := g.Check(100); !ok {
		t.Fatal("a write leaving 2900 free with a reserve of 1000 was refused")
	}
	for range 4 {
		if _, ok, _ := g.Check(100); !ok {
			t.Fatal("a write inside the allowance was refused")
		}
	}
	if n := measures.Load(); n != 1 {
		t.Fatalf("%d measures for writes inside the allowance, want 1", n)
	}
	free.Store(1050)
	// 500 of the allowance left: a write of 600 measures, and would leave
	// 450 of the reserve of 1000.
	if f, ok, _ := g.Check(600); ok || f != 1050 {
		t.Fatalf("a write beyond the allowance, leaving 450 of a 1000 reserve: ok=%v free=%d; want a refusal measuring 1050", ok, f)
	}
	free.Store(1 << 20)
	time.Sleep(diskspace.Recheck)
	if _, ok, _ := g.Check(200); !ok {
		t.Fatal("a write refused after space came back")
	}
	off := &diskspace.Guard{Free: func(string) (int64, error) { t.Fatal("a guard with no reserve measured"); return 0, nil }}
	if _, ok, _ := off.Check(1 << 40); !ok {
		t.Fatal("a guard with no reserve refused a write")
	}
}

// BenchmarkGuardCheck is the cost a guard adds to a commit that needs no
// measure (most of them).
func BenchmarkGuardCheck(b *testing.B) {
	g := &diskspace.Guard{Reserve: 1, Free: func(string) (int64, error) { return 1 << 50, nil }}
	for b.Loop() {
		g.Check(100)
	}
}

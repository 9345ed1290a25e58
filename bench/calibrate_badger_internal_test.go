package bench

import (
	"testing"

	badgerbackend "github.com/polykv/polykv/backends/badger"
)

// TestBadgerBudgetSplitMirror checks that the raw-badger calibration
// target splits the memory budget as the badger backend does (bench may
// not import the backend, so the split is copied).
func TestBadgerBudgetSplitMirror(t *testing.T) {
	for _, budget := range []int64{16 << 20, 128 << 20, 256 << 20, 377 << 20, 378 << 20, 512 << 20, 1 << 30, 8 << 30} {
		n, mt, bc, ic := badgerbackend.MemorySplit(budget)
		if mt != 56<<20 {
			t.Fatalf("backend memtable %d, calibration uses 56 MiB", mt)
		}
		gn, gbc, gic := badgerBudgetSplit(budget, mt)
		if gn != n || gbc != bc || gic != ic {
			t.Errorf("budget %d: calibration %d memtables, caches %d+%d; backend %d, %d+%d", budget, gn, gbc, gic, n, bc, ic)
		}
	}
	if badgerbackend.DefaultNumCompactors != 2 {
		t.Errorf("backend uses %d compactors, calibration 2", badgerbackend.DefaultNumCompactors)
	}
}

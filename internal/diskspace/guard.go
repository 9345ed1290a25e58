package diskspace

import (
	"sync"
	"time"
)

// Recheck is the longest a Guard trusts its last statfs.
const Recheck = 100 * time.Millisecond

// A Guard keeps writes from leaving less than Reserve bytes free on the
// file system holding Dir, and spares most of them the statfs (8 µs on the
// test machine, as much as a small unsynced commit): after a statfs finds
// free bytes above the reserve, writes may take half of the difference,
// for at most Recheck, before the next one. The other half and the reserve
// are the margin for other writers of the file system meanwhile. A Guard
// is safe for concurrent use; its fields must not change once it is used.
type Guard struct {
	Dir string
	// Reserve is the free space to keep; 0 or less turns the guard off.
	Reserve int64
	// Free measures free space (nil: the package's Free).
	Free func(dir string) (int64, error)

	mu        sync.Mutex
	allowance int64
	checked   time.Time
}

// Check reports whether writing n more bytes leaves at least the reserve
// free. When it does not, ok is false and free is what the statfs found.
// err is the statfs's failure.
func (g *Guard) Check(n int64) (free int64, ok bool, err error) {
	if g.Reserve <= 0 {
		return 0, true, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if n <= g.allowance && now.Sub(g.checked) < Recheck {
		g.allowance -= n
		return 0, true, nil
	}
	g.allowance = 0
	measure := g.Free
	if measure == nil {
		measure = Free
	}
	free, err = measure(g.Dir)
	if err != nil {
		return 0, false, err
	}
	if free-n < g.Reserve {
		return free, false, nil
	}
	g.allowance = (free-g.Reserve)/2 - n
	g.checked = now
	return free, true, nil
}

// Spent tells the guard that space was taken outside the writes it checks
// (an engine's own reservation): the next Check measures again.
func (g *Guard) Spent() {
	g.mu.Lock()
	g.allowance = 0
	g.mu.Unlock()
}

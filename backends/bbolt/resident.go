package bbolt

import (
	"log/slog"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// residentCheckEvery is how many operations (writes in committed batches,
// Gets, iterations) pass between two readings of the process's resident
// file pages. A reading costs one pread of /proc/self/statm (about 1 µs, so
// about 4 ns per Get); between two of them the mapping can grow by what
// those operations touch.
const residentCheckEvery = 256

// resident keeps the pages of the data file that this process has mapped
// (its resident file pages, counted in RSS) near a limit, by dropping the
// process's mapping of the whole file (madvise MADV_DONTNEED) when the
// process's resident file pages have grown by the limit since the last
// drop.
//
// Dropping is safe at any time a bbolt transaction is open: bbolt maps
// the file read-only and shared and never writes through the mapping, so a
// dropped page holds nothing the file does not; the next access (by this
// or any concurrent reader) faults the same page back in from the OS page
// cache, or from disk if the kernel has evicted it meanwhile. What must
// not happen is a drop of an address range bbolt is unmapping or has
// unmapped (it could belong to the Go heap by then): bbolt remaps only
// under its mmap lock held exclusively, and every transaction holds that
// lock shared from begin to end, so a drop made within an open transaction
// (the only way drop is called) covers the current mapping, whole.
type resident struct {
	limit  int64 // bytes; 0: never drop
	logger *slog.Logger

	ops      atomic.Int64 // weight noted since the last check
	disabled atomic.Bool  // set when the platform cannot tell or drop
	drops    atomic.Int64 // drops made since Open

	mu        sync.Mutex // one check at a time; the others skip theirs
	threshold int64      // guarded by mu: process file RSS that triggers a drop
	rss       *rssReader // guarded by mu; nil when disabled from the start
}

// newResident returns the drop policy for a store opened with limit (0:
// off).
func newResident(limit int64, logger *slog.Logger) *resident {
	r := &resident{limit: limit, logger: logger}
	if limit <= 0 {
		r.disabled.Store(true)
		return r
	}
	rss, ok := openRSS()
	if !ok {
		r.disabled.Store(true)
		return r
	}
	cur, ok := rss.read()
	if !ok {
		rss.close()
		r.disabled.Store(true)
		return r
	}
	r.rss, r.threshold = rss, cur+limit
	return r
}

// close releases what the policy holds open; the store is closing, so no
// check runs any more.
func (r *resident) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.disabled.Store(true)
	if r.rss != nil {
		r.rss.close()
		r.rss = nil
	}
}

// activeLimit is the limit in force: 0 when off, unsupported, or turned
// off after a failure.
func (r *resident) activeLimit() int64 {
	if r.disabled.Load() {
		return 0
	}
	return r.limit
}

// due records weight operations and reports whether a check is due. It is
// the only cost on the paths of Get, Apply and iterations: one atomic add.
func (r *resident) due(weight int) bool {
	if r.disabled.Load() {
		return false
	}
	return r.ops.Add(int64(weight)) >= residentCheckEvery
}

// note records weight operations made in tx and, when a check is due,
// checks within tx (which must stay open until note returns).
// Nothing is counted while the file fits (a store within its budget pays a
// size read per operation, no atomic).
func (r *resident) note(tx *bolt.Tx, weight int) {
	if r.fits(tx) {
		return
	}
	if r.due(weight) {
		r.check(tx)
	}
}

// fits reports whether the whole file tx sees is smaller than the limit:
// then its mapping cannot hold more pages than the limit, and there is
// nothing to check or drop.
func (r *resident) fits(tx *bolt.Tx) bool { return tx.Size() < r.limit }

// noteAfterWrite records a committed write of weight operations and, when
// a check is due, checks within a read transaction of its own: the write
// transaction is over. kv serializes writers, so no other write (hence no
// remap) is waiting for that transaction to end.
func (r *resident) noteAfterWrite(db *bolt.DB, weight int) {
	if !r.due(weight) {
		return
	}
	tx, err := db.Begin(false)
	if err != nil {
		return // the write succeeded; the next note tries again
	}
	r.check(tx)
	_ = tx.Rollback()
}

// check reads the process's resident file pages and, past the threshold,
// drops the mapping of the whole file. The next threshold is what remains
// resident after the drop (other mapped files, the executable) plus the
// limit, so files mapped by others never make it drop again and again.
func (r *resident) check(tx *bolt.Tx) {
	if !r.mu.TryLock() {
		return // another goroutine is checking
	}
	defer r.mu.Unlock()
	r.ops.Store(0)
	if r.rss == nil { // closed meanwhile
		return
	}
	if r.fits(tx) {
		return
	}
	cur, ok := r.rss.read()
	if !ok {
		r.disabled.Store(true)
		return
	}
	if cur < r.threshold {
		return
	}
	if err := dropMapping(tx); err != nil {
		r.disabled.Store(true)
		r.logger.Warn("bbolt: cannot drop resident pages of the data file; resident_limit is off for this store",
			"err", err)
		return
	}
	r.drops.Add(1)
	if after, ok := r.rss.read(); ok {
		cur = after
	}
	r.threshold = cur + r.limit
}

// dropMapping drops this process's mapping of every page of the file that
// tx can see. tx must be open: it holds bbolt's mmap lock shared, so the
// mapping cannot move meanwhile.
func dropMapping(tx *bolt.Tx) error {
	size := tx.Size() // the high-water mark of the file: at most the mapping
	if size <= 0 {
		return nil
	}
	return dropPages(tx.DB().Info().Data, uintptr(size))
}

package bbolt

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// readerSet is the set of read transactions that the engine's iterators,
// scans and snapshots own. Compact waits for it to be empty. Close rolls
// back what is left in it: bbolt's own Close waits for every read
// transaction, forever when an iterator or a snapshot of the Engine (used
// directly, without kv.DB) was never closed.
type readerSet struct {
	mu   sync.Mutex
	open map[*bolt.Tx]struct{}
}

func (s *readerSet) add(tx *bolt.Tx) {
	s.mu.Lock()
	if s.open == nil {
		s.open = make(map[*bolt.Tx]struct{})
	}
	s.open[tx] = struct{}{}
	s.mu.Unlock()
}

// remove takes tx out of the set and reports whether it was there (false:
// Close has rolled it back already).
func (s *readerSet) remove(tx *bolt.Tx) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.open[tx]
	delete(s.open, tx)
	return ok
}

// count returns how many read transactions are open.
func (s *readerSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

// drain empties the set and returns what it held.
func (s *readerSet) drain() []*bolt.Tx {
	s.mu.Lock()
	defer s.mu.Unlock()
	txs := make([]*bolt.Tx, 0, len(s.open))
	for tx := range s.open {
		txs = append(txs, tx)
	}
	clear(s.open)
	return txs
}

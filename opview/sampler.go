package opview

import (
	"sync"
	"time"

	"github.com/polykv/polykv/nodestore"
)

// sample is one reading of the counters: per queue, the nodes whose
// traversal is done (not pending), and the source nodes whose copy is done
// (successful or failed).
type sample struct {
	t         time.Time
	traversed [2]int64 // by queueIndex
	copied    int64
}

func queueIndex(q nodestore.QueueType) int {
	if q == nodestore.QueueSrc {
		return 1
	}
	return 0
}

func sampleOf(t time.Time, entries []nodestore.CountEntry) sample {
	s := sample{t: t}
	for _, e := range entries {
		if e.Traversal != nodestore.TraversalStatusPending {
			s.traversed[queueIndex(e.Queue)] += e.N
		}
		if e.Queue == nodestore.QueueSrc && (e.Copy == nodestore.CopyStatusSuccessful || e.Copy == nodestore.CopyStatusFailed) {
			s.copied += e.N
		}
	}
	return s
}

// sampler keeps the last samples in a ring.
type sampler struct {
	mu   sync.Mutex
	ring []sample
	next int // where the next sample goes
	n    int // samples held
	err  error
	errT time.Time
}

func newSampler(size int) *sampler { return &sampler{ring: make([]sample, size)} }

func (s *sampler) add(x sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring[s.next] = x
	s.next = (s.next + 1) % len(s.ring)
	s.n = min(s.n+1, len(s.ring))
	s.err = nil
}

func (s *sampler) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err, s.errT = err, time.Now()
}

// samples returns the samples held, oldest first, and the last sampling
// error (nil after a successful sample).
func (s *sampler) samples() ([]sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]sample, 0, s.n)
	for i := range s.n {
		out = append(out, s.ring[(s.next-s.n+i+len(s.ring))%len(s.ring)])
	}
	return out, s.err
}

// rate is the change per second of f between the first and the last
// sample; ok is false with fewer than two samples.
func rate(ss []sample, f func(sample) int64) (perSec float64, ok bool) {
	if len(ss) < 2 {
		return 0, false
	}
	a, b := ss[0], ss[len(ss)-1]
	dt := b.t.Sub(a.t).Seconds()
	if dt <= 0 {
		return 0, false
	}
	return max(0, float64(f(b)-f(a))/dt), true
}

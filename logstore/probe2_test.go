package logstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

type flaky struct {
	kv.Store
	mu sync.Mutex
	r  *rand.Rand
}

func (f *flaky) Write(ctx context.Context, b *kv.Batch) error {
	f.mu.Lock()
	x := f.r.IntN(10)
	f.mu.Unlock()
	switch {
	case x < 3:
		return errors.New("before")
	case x < 5:
		if err := f.Store.Write(ctx, b); err != nil {
			return err
		}
		return errors.New("after")
	}
	return f.Store.Write(ctx, b)
}

func TestProbeBufferStress(t *testing.T) {
	for round := 0; round < 20; round++ {
		ctx := context.Background()
		s, err := kv.Open(ctx, kv.Config{Backend: "memory"})
		if err != nil {
			t.Fatal(err)
		}
		fs := &flaky{Store: s, r: rand.New(rand.NewPCG(uint64(round), 1))}
		buf := logstore.NewLogBufferOptions(fs, logstore.Options{BatchSize: 1 + round%7, MaxPending: 1 + round%5, Interval: time.Millisecond, RetryMin: 100 * time.Microsecond, RetryMax: time.Millisecond})
		var accepted atomic.Int64
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				for i := range 200 {
					var err error
					switch i % 5 {
					case 0:
						c, cancel := context.WithTimeout(ctx, time.Duration(i%3)*100*time.Microsecond)
						err = buf.AddContext(c, logstore.LogEntry{Level: logstore.Levels()[i%6], Message: fmt.Sprint(w, i)})
						cancel()
						if errors.Is(err, context.DeadlineExceeded) {
							continue
						}
					case 1:
						c, cancel := context.WithTimeout(ctx, time.Millisecond)
						_ = buf.Flush(c)
						cancel()
						continue
					default:
						err = buf.Add(logstore.LogEntry{Level: logstore.Levels()[i%6], Message: fmt.Sprint(w, i)})
					}
					if err != nil {
						t.Error(err)
						return
					}
					accepted.Add(1)
				}
			})
		}
		wg.Wait()
		err = buf.Stop()
		st := buf.Stats()
		var n int
		_ = s.Iterate(ctx, kv.IterOptions{Prefix: []byte("log:"), KeysOnly: true}, func(k, v []byte) error { n++; return nil })
		if int64(n) != accepted.Load() || st.Added != uint64(n) || st.Written != st.Added || st.Pending != 0 {
			t.Fatalf("round %d: %d keys, accepted %d, stats %+v, stop %v", round, n, accepted.Load(), st, err)
		}
		s.Close()
	}
}

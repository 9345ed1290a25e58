package nodestore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/polykv/polykv/kv"
)

// RebuildCounts corrects each counter by what its snapshot found wrong
// (rebuild.go). Two runs that read the same state would both apply the
// same correction, so a run holds a lock while it runs: a key outside
// the queues' families, which only a running RebuildCounts holds:
//
//	nodestore:rebuild   value: a 16-byte token, then the expiry (8-byte
//	                    big-endian Unix nanoseconds)
//
// A run takes the lock in a transaction (the key absent, expired, or
// stale), reads its snapshot only then, checks in each of its correcting
// transactions that it still holds the lock, and deletes the key at the
// end. A second run waits for the key to go. The holder renews the expiry
// while it runs; a lock whose holder died is taken over once it has
// expired (rebuildLockTTL) on a shared store, at once on a local one
// (where no other process can hold it: a lock not held in this process is
// stale).
const rebuildLockKey = "nodestore:rebuild"

const (
	rebuildLockTTL     = time.Minute
	rebuildLockRenew   = rebuildLockTTL / 6
	rebuildLockMaxPoll = 500 * time.Millisecond
)

// heldRebuildLocks are the tokens of the rebuild locks this process holds.
var heldRebuildLocks sync.Map // [16]byte → struct{}

// errRebuildLockLost is the error of a rebuild whose lock another run
// took over (it held the lock past its expiry without renewing it).
var errRebuildLockLost = errors.New("another RebuildCounts took over this one's lock (it was not renewed within its expiry): nothing more corrected; run RebuildCounts again if the counters still disagree")

type rebuildLock struct {
	s     *Store
	token [16]byte
	stop  chan struct{}
	done  chan struct{}
}

// lockRebuild waits, within ctx, until it holds the rebuild lock of s's
// store, and renews it until release.
func (s *Store) lockRebuild(ctx context.Context) (*rebuildLock, error) {
	l := &rebuildLock{s: s, stop: make(chan struct{}), done: make(chan struct{})}
	if _, err := rand.Read(l.token[:]); err != nil {
		return nil, err
	}
	shared := s.kv.Info().Guarantees.Shared
	heldRebuildLocks.Store(l.token, struct{}{})
	poll := 10 * time.Millisecond
	for {
		taken := false
		err := s.kv.Update(ctx, func(tx kv.Txn) error {
			taken = false
			v, err := tx.Get([]byte(rebuildLockKey))
			switch {
			case errors.Is(err, kv.ErrNotFound):
			case err != nil:
				return err
			default:
				if holder, expiry, ok := decodeRebuildLock(v); ok && time.Now().Before(expiry) {
					if _, here := heldRebuildLocks.Load(holder); here || shared {
						return nil // held
					}
				}
			}
			taken = true
			return tx.Set([]byte(rebuildLockKey), l.value())
		})
		if err != nil {
			heldRebuildLocks.Delete(l.token)
			return nil, fmt.Errorf("taking the rebuild lock: %w", err)
		}
		if taken {
			break
		}
		select {
		case <-ctx.Done():
			heldRebuildLocks.Delete(l.token)
			return nil, fmt.Errorf("waiting for another RebuildCounts to end: %w", ctx.Err())
		case <-time.After(poll):
		}
		poll = min(2*poll, rebuildLockMaxPoll)
	}
	go l.renew(context.WithoutCancel(ctx))
	return l, nil
}

// value is the lock's value with an expiry rebuildLockTTL from now.
func (l *rebuildLock) value() []byte {
	v := make([]byte, 24)
	copy(v, l.token[:])
	binary.BigEndian.PutUint64(v[16:], uint64(time.Now().Add(rebuildLockTTL).UnixNano()))
	return v
}

func decodeRebuildLock(v []byte) (token [16]byte, expiry time.Time, ok bool) {
	if len(v) != 24 {
		return token, expiry, false
	}
	copy(token[:], v)
	return token, time.Unix(0, int64(binary.BigEndian.Uint64(v[16:]))), true
}

// renew moves the lock's expiry forward every rebuildLockRenew until
// release. A renewal that fails is tried again at the next tick: the
// correcting transactions check the lock themselves.
func (l *rebuildLock) renew(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(rebuildLockRenew)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, rebuildLockRenew)
		_ = l.s.kv.Update(rctx, func(tx kv.Txn) error {
			if err := l.check(tx); err != nil {
				return nil // lost: nothing to renew
			}
			return tx.Set([]byte(rebuildLockKey), l.value())
		})
		cancel()
	}
}

// check fails unless tx sees the lock held by l.
func (l *rebuildLock) check(tx kv.ReadTxn) error {
	v, err := tx.Get([]byte(rebuildLockKey))
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	if holder, _, ok := decodeRebuildLock(v); !ok || holder != l.token {
		return errRebuildLockLost
	}
	return nil
}

// release stops the renewals and deletes the lock if l still holds it,
// also when ctx has ended (within a bound of its own).
func (l *rebuildLock) release(ctx context.Context) error {
	close(l.stop)
	<-l.done
	defer heldRebuildLocks.Delete(l.token)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rebuildLockRenew)
	defer cancel()
	err := l.s.kv.Update(rctx, func(tx kv.Txn) error {
		if err := l.check(tx); err != nil {
			return nil // taken over: not ours to delete
		}
		return tx.Delete([]byte(rebuildLockKey))
	})
	if err != nil {
		return fmt.Errorf("releasing the rebuild lock (it expires by itself within %v): %w", rebuildLockTTL, err)
	}
	return nil
}

package pebble

import (
	"errors"
	"fmt"
	"sync"

	"github.com/polykv/polykv/kv"
)

// Space reserved for the WAL ahead of its writes.
//
// No WAL write may fail on a full disk: where Pebble first meets such a
// failure while it rotates the log, the process ends (engineFS). A write
// into blocks already allocated to the file cannot run out of space, so
// every WAL file keeps walReserveSlack bytes of allocated blocks ahead of
// its end: when a write would leave less, walReserveChunk more are
// reserved first (fallocate, keeping the file's size). When the disk
// refuses that reservation (ENOSPC, EDQUOT), the engine refuses every later
// write with kv.ErrNoSpace, and the writes still to come (the write being
// made, the tail of commits already acknowledged, the log's end-of-file
// trailer) go to the slack that is left. The free-space reserve
// (space.go) counts two chunks, so that commits stop there first; this
// refusal is the last resort, when other writers took the reserve.
//
// Pebble reserves too, 110% of a memtable at a time (70.4 MiB at the
// default budget), and ignores a refusal; its reservations count here when
// they succeed, and a refused one stops nothing: this chunk, smaller, is
// the one that decides. (Refusing at Pebble's own refused reservation
// instead made a young store, whose first logs each reserve that much,
// refuse writes on a disk with hundreds of MiB free.)
//
// TestWALReserveRefusedBeforeWritesFail, a disk modelled with 1 MiB left
// for the WAL: an engine that ignored refused reservations wrote on until
// a WAL write failed, and ended the test process in 2 of 18 runs; with the
// reservations no WAL write fails. A file system without fallocate
// (EOPNOTSUPP) reserves nothing, and its writes keep the risk.

const (
	// walReserveSlack is the reserved space kept ahead of a WAL's end: more
	// than one commit's record (kv.MaxTxnBytes) and the blocks Pebble's log
	// writer holds for the flusher.
	walReserveSlack = 16 << 20
	// walReserveChunk is what one reservation adds.
	walReserveChunk = 32 << 20
)

// walReservation is the state of one WAL file's reservation.
type walReservation struct {
	mu sync.Mutex
	// off is where the next Write goes; reserved is the end of the
	// file's allocated blocks, as far as known.
	off, reserved int64
	// stopped: a reservation failed, none is tried again.
	stopped bool
}

// reserveAhead makes room, before a write that ends at end, for the slack
// after it. The caller holds w.res.mu.
func (w *walFile) reserveAhead(end int64) {
	r := &w.res
	if r.stopped || end+walReserveSlack <= r.reserved {
		return
	}
	length := max(walReserveChunk, end+walReserveSlack-r.reserved)
	err := w.File.Preallocate(r.reserved, length)
	switch {
	case err == nil:
		r.reserved += length
		if w.fs.onReserved != nil {
			w.fs.onReserved() // the reserve's guard measures again
		}
	case errors.Is(kv.Fault(err), kv.ErrNoSpace):
		r.stopped = true
		w.fs.onWALFault(fmt.Sprintf("reserving %d more bytes for the WAL failed (the disk has less free space than a store needs to take writes)", length), err)
	case errors.Is(kv.Fault(err), kv.ErrIO):
		// The medium failed (EIO, a file system gone read-only): the
		// writes to come would fail too, so stop them now, while no log
		// write has failed yet.
		r.stopped = true
		w.fs.onWALFault(fmt.Sprintf("reserving %d more bytes for the WAL failed", length), err)
	default:
		r.stopped = true // no fallocate here (EOPNOTSUPP): nothing is reserved
	}
}

// Preallocate is Pebble's own reservation (110% of a memtable). Pebble
// ignores its failure, and so does the engine: reserveAhead decides.
func (w *walFile) Preallocate(off, length int64) error {
	err := w.File.Preallocate(off, length)
	if err == nil {
		w.res.mu.Lock()
		w.res.reserved = max(w.res.reserved, off+length)
		w.res.mu.Unlock()
	}
	return err
}

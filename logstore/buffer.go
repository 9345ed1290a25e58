package logstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/polykv/polykv/kv"
)

// Defaults of Options.
const (
	DefaultBatchSize   = 500
	DefaultInterval    = 2 * time.Second
	DefaultRetryMin    = 50 * time.Millisecond
	DefaultRetryMax    = 5 * time.Second
	DefaultStopTimeout = 30 * time.Second
	// DefaultMaxPendingBytes bounds the memory of the entries a LogBuffer
	// holds: twice what one transaction may carry.
	DefaultMaxPendingBytes = 2 * kv.MaxTxnBytes
)

// Options configure a LogBuffer. The zero value is usable: every zero field
// takes its default.
type Options struct {
	// BatchSize is how many entries make a flush (default 500). A flush is
	// one transaction; when BatchSize entries would exceed kv.MaxTxnOps or
	// kv.MaxTxnBytes, the flush takes as many as fit and the next flush
	// follows at once.
	BatchSize int
	// Interval is the longest an entry waits before a flush when fewer than
	// BatchSize are pending (default 2s).
	Interval time.Duration
	// MaxPending is how many entries the buffer holds, written or not yet,
	// before Add blocks (default BatchSize: the one batch a kill may lose).
	// A larger value lets Add run ahead while a flush is being written, at
	// the price of more entries lost if the process is killed.
	MaxPending int
	// MaxPendingBytes bounds the encoded size of the entries held (default
	// DefaultMaxPendingBytes). One entry is always accepted into an empty
	// buffer, whatever its size.
	MaxPendingBytes int
	// IDs issues the IDs of entries added without one (default: the
	// process-wide DefaultIDGenerator). Its clock also fills empty
	// Timestamps.
	IDs *IDGenerator
	// OnError, if set, is called from the flusher goroutine with the error
	// of every failed flush attempt (the entries stay in memory and the
	// flush is retried). It must not block for long or call the buffer's
	// Stop or Flush; a panic in it is recovered.
	OnError func(error)
	// RetryMin and RetryMax bound the exponential backoff between attempts
	// of a failed flush (defaults 50ms and 5s).
	RetryMin, RetryMax time.Duration
	// StopTimeout is how long Stop keeps retrying a failing store before it
	// gives up (default 30s). StopContext takes a context instead.
	StopTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxPending <= 0 {
		o.MaxPending = o.BatchSize
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if o.IDs == nil {
		o.IDs = DefaultIDGenerator()
	}
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(DefaultRetryMax, o.RetryMin)
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	return o
}

// chunk is a batch of accepted entries waiting to be written: one future
// transaction. Add encodes each value straight into it (kv.Batch.SetFunc),
// so a flush hands it to Store.Write as is.
type chunk struct {
	kv.Batch
	bytes int // what the chunk counts against MaxPendingBytes
}

// entryOverhead is what an entry costs beside its key and value, for
// MaxPendingBytes.
const entryOverhead = 16

// maxLevelLen is the length of the longest level name.
const maxLevelLen = len(LevelCritical)

// LogBuffer batches log entries into transactions on a kv.Store.
//
// Add queues an entry; a background goroutine writes the queue in
// transactions of at most BatchSize entries, as soon as BatchSize entries
// are pending and at least every Interval. Entries are written in the order
// they were accepted. Stop writes what is left.
//
// # Backpressure
//
// The buffer holds at most MaxPending entries (and MaxPendingBytes bytes),
// counting those being written. When it is full, Add blocks until a flush
// frees space; AddContext gives up when its context is done and returns the
// context's error, and fails at once with kv.ErrNestedUpdate when given the
// context of a running Update (kv.Txn.Context), whose store the flush may
// need. Add, given no context, would wait for ever there: inside an
// Update, use AddContext. An entry is never dropped silently: Add either
// accepts it (it will be written, retried until it is, while the process
// lives) or returns an error.
//
// # Failures
//
// A failed flush keeps its entries and is retried with exponential backoff
// between RetryMin and RetryMax, forever while the buffer runs. Every
// failure is reported to Options.OnError, Err returns the latest one until
// a flush succeeds, and Stop returns them all. If the store is closed,
// read-only or needs reopening after a fault (kv.ErrNeedsReopen: no retry
// can succeed), Stop returns at once with the entries unwritten, and when
// the buffer is full Add returns ErrFull instead of blocking forever.
//
// # Crash loss
//
// What a killed process loses is what the buffer held: at most MaxPending
// entries (one batch by default), all added within the last Interval plus
// the time of one write, and never a part of a flush (each flush is one
// transaction). With a store opened kv.NoSync, the engine's own promise
// (kv.Guarantees.NoSyncKeepsAckedOnKill) adds to that.
//
// # Concurrency
//
// Every method is safe for concurrent use. Add does not keep the entry: its
// strings are encoded before Add returns. After Stop, Add and Flush return
// ErrStopped; Stop may be called any number of times.
//
// A LogBuffer not made by NewLogBuffer (nil, or the zero LogBuffer) and a
// nil context given to AddContext, Flush or StopContext are errors
// matching kv.ErrInvalidConfig, not panics.
type LogBuffer struct {
	store kv.Store
	lim   kv.Limits // the store's transaction limits (kv.LimitsOf)
	opts  Options

	mu sync.Mutex
	// chunks holds the accepted entries not yet written, in order. The
	// last chunk is open (Add appends to it) when open is set; every other
	// chunk is sealed, and the flusher writes only sealed chunks: the
	// first one, while Add keeps filling the last.
	chunks      []*chunk
	open        bool
	spare       *chunk // a written chunk kept for reuse
	pendingN    int    // entries in chunks
	pendingSize int    // their bytes, for MaxPendingBytes
	added       uint64 // entries accepted so far
	written     uint64 // entries written so far
	flushes     uint64
	failures    uint64
	refused     uint64 // Adds refused with ErrFull
	lastErr     error  // the latest failure, nil after a success
	permanent   bool   // lastErr is one no retry can fix
	errs        []error
	errsDropped int
	stopped     bool
	waiters     int           // Adds waiting for space: flush without waiting for a full batch
	space       chan struct{} // closed when space frees or the buffer stops
	progress    chan struct{} // closed when entries are written or the flusher exits

	kick     chan struct{} // BatchSize entries are pending
	flushReq chan struct{} // Flush wants everything written
	stopping chan struct{} // closed by Stop
	done     chan struct{} // closed when the flusher has exited
	stopOnce sync.Once
	stopCtx  context.Context
	stopErr  error
}

// NewLogBuffer returns a LogBuffer writing to store in batches of batchSize
// entries, at least every interval, with the other options at their
// defaults: the seed's NewLogBuffer(store, 500, 2*time.Second). A
// batchSize or interval of 0 or less takes the default.
func NewLogBuffer(store kv.Store, batchSize int, interval time.Duration) *LogBuffer {
	return NewLogBufferOptions(store, Options{BatchSize: batchSize, Interval: interval})
}

// NewLogBufferOptions returns a LogBuffer writing to store with opts. It
// starts the flusher goroutine: call Stop to end it.
//
// A nil store gives a buffer whose flushes fail with errNilStore, which no
// retry fixes: Stop returns at once with ErrUnwritten.
func NewLogBufferOptions(store kv.Store, opts Options) *LogBuffer {
	if store == nil {
		store = kv.FailingStore(errNilStore)
	}
	b := &LogBuffer{
		store:    store,
		lim:      kv.LimitsOf(store),
		opts:     opts.withDefaults(),
		space:    make(chan struct{}),
		progress: make(chan struct{}),
		kick:     make(chan struct{}, 1),
		flushReq: make(chan struct{}, 1),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	go b.run()
	return b
}

// Options returns the buffer's options, defaults filled in (the zero
// Options for a buffer not made by NewLogBuffer).
func (b *LogBuffer) Options() Options {
	if b == nil {
		return Options{}
	}
	return b.opts
}

// Add queues entry, blocking while the buffer is full. An empty ID is
// issued by the buffer (in acceptance order, so one buffer's entries become
// visible in ID order); an entry given the level and ID of a stored entry
// replaces it. An empty Timestamp is filled from the same clock reading.
// It returns ErrInvalidLevel, ErrInvalidID, a kv.ErrValueTooLarge for an
// entry too large to store, ErrStopped after Stop, or ErrFull when the
// buffer is full and the store can no longer be written.
//
// Do not call Add from inside an Update of the buffer's store: when the
// buffer is full, Add waits for a flush, which waits for that Update's
// writer lock, for ever. Add has no context to tell it from an Add of
// another goroutine, which must wait; inside an Update, call AddContext
// with the Txn's context, which fails at once with kv.ErrNestedUpdate
// instead.
func (b *LogBuffer) Add(entry LogEntry) error {
	return b.add(context.Background(), &entry, true)
}

// AddContext is Add that gives up waiting for space when ctx is done,
// returning ctx's error; the entry is then not queued. With the context
// of a running Update (kv.Txn.Context) it does not wait at all: the
// buffer's flush, which would make the space, may need that Update's
// store, so a full buffer fails at once with an error matching
// kv.ErrNestedUpdate (whichever store the Update is of: the buffer cannot
// tell). Add, which takes no context, would wait; do not call it from
// inside an Update of the buffer's store.
func (b *LogBuffer) AddContext(ctx context.Context, entry LogEntry) error {
	if ctx == nil {
		return nilContext("AddContext")
	}
	return b.add(ctx, &entry, true)
}

func (b *LogBuffer) add(ctx context.Context, e *LogEntry, fillTime bool) error {
	if !b.made() {
		return errNotMade
	}
	if err := checkEntry(e); err != nil {
		return err
	}
	// The value is encoded straight into the open chunk, under the lock
	// (it is also where the ID and a missing Timestamp are read from the
	// clock, in acceptance order). Only the attributes, the one part that
	// may be slow to encode, are encoded before.
	attrs, err := encodeAttrs(e)
	if err != nil {
		return err
	}
	fillT := fillTime && e.Timestamp == ""
	tsLen := 0 // e.Timestamp's own
	if fillT {
		tsLen = maxFilledTimestamp
	}
	hint := valueSizeHint(e, tsLen, len(attrs)) // exact, escapes counted (at most: a filled timestamp may be shorter)
	if hint > b.lim.MaxValueSize {
		return fmt.Errorf("logstore: add: entry of at least %d bytes: %w (limit %d)", hint, kv.ErrValueTooLarge, b.lim.MaxValueSize)
	}
	keyLen := len(KeyPrefix) + len(e.Level) + 1 + IDLen
	if keyLen+hint+kv.TxnEntryOverhead > b.lim.MaxTxnBytes {
		// A store may declare a transaction limit that one entry under its
		// value limit does not fit: accepted, the entry would fail every
		// flush, for ever, and hold back every entry after it.
		return fmt.Errorf("logstore: add: entry of at least %d bytes with its key: %w (it cannot fit this store's transaction limit of %d bytes)",
			keyLen+hint, kv.ErrValueTooLarge, b.lim.MaxTxnBytes)
	}
	size := keyLen + hint + entryOverhead // what the entry counts against MaxPendingBytes

	b.mu.Lock()
	for {
		if b.stopped {
			b.mu.Unlock()
			return ErrStopped
		}
		n := b.pendingN
		if n == 0 || (n < b.opts.MaxPending && b.pendingSize+size <= b.opts.MaxPendingBytes) {
			break
		}
		if b.permanent {
			err := b.lastErr
			b.refused++
			b.mu.Unlock()
			return fmt.Errorf("%w: %d entries not written: %w", ErrFull, n, err)
		}
		if kv.InUpdate(ctx) {
			b.mu.Unlock()
			return errWaitInUpdate("add")
		}
		space := b.space
		b.waiters++
		b.mu.Unlock()
		b.kickFlusher()
		select {
		case <-space:
		case <-ctx.Done():
			b.mu.Lock()
			b.waiters--
			b.mu.Unlock()
			return ctx.Err()
		}
		b.mu.Lock()
		b.waiters--
	}
	var kbuf [len(KeyPrefix) + maxLevelLen + 1 + IDLen]byte
	key := kbuf[:0]
	var t time.Time
	if e.ID == "" {
		id, now, err := nextID(b.opts.IDs)
		if err != nil {
			b.mu.Unlock()
			return err
		}
		key = appendID(appendLevelPrefix(key, e.Level), id)
		t = now
	} else {
		key = appendKey(key, e.Level, e.ID)
		if fillT {
			t = time.UnixMilli(idMs(e.ID))
		}
	}
	encode := func(dst []byte) ([]byte, error) {
		if fillT {
			dst = append(dst, `{"v":1,"ts":"`...)
			dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
			dst = append(dst, '"')
		} else {
			dst = appendHead(dst, e.Timestamp)
		}
		return appendBody(dst, e, attrs), nil
	}
	c := b.openChunkLocked(keyLen, hint)
	before := c.Size()
	err = c.SetFunc(key, encode)
	if errors.Is(err, kv.ErrTxnTooLarge) && c.Len() > 0 {
		// Escaping made the value longer than hinted and it no longer
		// fits: seal the chunk and start the next one.
		b.open = false
		b.kickFlusher()
		c = b.openChunkLocked(keyLen, hint)
		before = c.Size()
		err = c.SetFunc(key, encode)
	}
	if err != nil {
		b.mu.Unlock()
		return fmt.Errorf("logstore: add: %w", err)
	}
	size = c.Size() - before + entryOverhead
	c.bytes += size
	b.pendingSize += size
	b.pendingN++
	b.added++
	full := c.Len() >= b.opts.BatchSize
	if full {
		b.open = false
	}
	b.mu.Unlock()
	if full {
		b.kickFlusher()
	}
	return nil
}

// nextID returns ids.Next(), or an error if it panics (a clock or a
// random source with a bug): Add calls it under the buffer's lock, which
// a panic would leave locked for good.
func nextID(ids *IDGenerator) (id uuid.UUID, now time.Time, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("logstore: add: the ID generator panicked: %v", p)
		}
	}()
	return ids.Next()
}

// maxFilledTimestamp is the longest Timestamp Add fills in: RFC 3339 with
// nanoseconds, in UTC.
const maxFilledTimestamp = len("2006-01-02T15:04:05.999999999Z")

// openChunkLocked returns the open chunk, sealing the current one and
// opening a new one when an entry of a key of keyLen bytes and a value of
// valueLen does not fit in it.
func (b *LogBuffer) openChunkLocked(keyLen, valueLen int) *chunk {
	if b.open {
		c := b.chunks[len(b.chunks)-1]
		if c.Len()+1 <= b.lim.MaxTxnOps && c.Size()+keyLen+valueLen+kv.TxnEntryOverhead <= b.lim.MaxTxnBytes {
			return c
		}
		b.open = false
		b.kickFlusher()
	}
	c := b.spare
	b.spare = nil
	if c == nil {
		c = new(chunk)
	}
	b.chunks = append(b.chunks, c)
	b.open = true
	return c
}

// errWaitInUpdate is the error of an add or flush that would wait for the
// flusher from inside an Update.
func errWaitInUpdate(op string) error {
	return fmt.Errorf("logstore: %s: %w: called with the context of a running Update, and it would wait for the buffer's flush, which may wait for that Update; %s after it returns",
		op, kv.ErrNestedUpdate, op)
}

func (b *LogBuffer) kickFlusher() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Flush writes every entry accepted before it was called and waits until
// they are written or ctx is done. It returns ErrStopped after Stop. A
// failing store makes Flush wait (the flush is retried): bound it with ctx.
// With the context of a running Update (kv.Txn.Context) and entries to
// write, it fails at once with an error matching kv.ErrNestedUpdate: the
// flush may need that Update's store, which waits for the caller (the
// buffer cannot tell which store the Update is of). Flush after it.
func (b *LogBuffer) Flush(ctx context.Context) error {
	if !b.made() {
		return errNotMade
	}
	if ctx == nil {
		return nilContext("Flush")
	}
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return ErrStopped
	}
	target, written := b.added, b.written
	b.mu.Unlock()
	if written < target && kv.InUpdate(ctx) {
		return errWaitInUpdate("flush")
	}
	select {
	case b.flushReq <- struct{}{}:
	default:
	}
	for {
		b.mu.Lock()
		written, progress := b.written, b.progress
		b.mu.Unlock()
		if written >= target {
			return nil
		}
		select {
		case <-progress:
		case <-b.done:
			b.mu.Lock()
			written = b.written
			b.mu.Unlock()
			if written >= target {
				return nil
			}
			return ErrStopped
		case <-ctx.Done():
			if lastErr := b.Err(); lastErr != nil {
				return fmt.Errorf("%w (last flush error: %w)", ctx.Err(), lastErr)
			}
			return ctx.Err()
		}
	}
}

// Err returns the error of the latest flush attempt if it failed, and nil
// once a flush has succeeded since.
func (b *LogBuffer) Err() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastErr
}

// BufferStats are counters of a LogBuffer.
type BufferStats struct {
	Added        uint64 // entries accepted
	Written      uint64 // entries written
	Pending      int    // entries held (Added - Written)
	PendingBytes int    // their size, as counted against Options.MaxPendingBytes
	Flushes      uint64 // successful flushes (transactions)
	Failures     uint64 // failed flush attempts
	// Waiting is the number of Adds blocked now because the buffer is
	// full (backpressure).
	Waiting int
	// Refused counts the entries Add refused with ErrFull (the buffer was
	// full and the store could no longer be written): the only entries a
	// LogBuffer drops while it runs.
	Refused uint64
}

// Stats returns the buffer's counters.
func (b *LogBuffer) Stats() BufferStats {
	if b == nil {
		return BufferStats{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return BufferStats{
		Added: b.added, Written: b.written, Pending: b.pendingN, PendingBytes: b.pendingSize,
		Flushes: b.flushes, Failures: b.failures, Waiting: b.waiters, Refused: b.refused,
	}
}

// Stop writes every pending entry and stops the flusher, retrying a failing
// store for at most Options.StopTimeout. See StopContext.
func (b *LogBuffer) Stop() error {
	if !b.made() {
		return errNotMade
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.StopTimeout)
	defer cancel()
	return b.StopContext(ctx)
}

// StopContext writes every pending entry and stops the flusher. It retries
// a failing store until ctx is done (or at once gives up on a closed or
// read-only store). Entries blocked in Add return ErrStopped.
//
// It returns nil when no flush ever failed. Otherwise it returns the
// distinct flush errors met during the buffer's life, joined; when some
// entries could not be written it also returns an error matching
// ErrUnwritten, and Unwritten returns those entries. Later calls wait for
// the first to finish and return the same error.
//
// A write the store has not finished (a stalled disk) cannot be abandoned:
// if one is still running stopGrace after ctx is done, StopContext returns
// an error wrapping ctx's, and the buffer finishes in the background: that
// write, then the other pending entries while the store takes them (it no
// longer retries a failure). A later Stop or StopContext waits for that and
// returns the outcome; until then Unwritten returns nil.
func (b *LogBuffer) StopContext(ctx context.Context) error {
	if !b.made() {
		return errNotMade
	}
	if ctx == nil {
		return nilContext("StopContext")
	}
	b.stopOnce.Do(func() {
		b.mu.Lock()
		b.stopped = true
		b.stopCtx = ctx
		close(b.space)
		b.space = make(chan struct{})
		b.mu.Unlock()
		close(b.stopping)
	})
	select {
	case <-b.done:
		return b.stopErr
	case <-ctx.Done():
	}
	// The flusher gives up at its next step once ctx is done: give it that
	// step before concluding that the store itself is stuck.
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	select {
	case <-b.done:
		return b.stopErr
	case <-grace.C:
		return fmt.Errorf("logstore: stop: %w with a write to the store still running; it finishes in the background (call Stop again for the outcome)", ctx.Err())
	}
}

// stopGrace is how long StopContext waits, once its context is done, for
// the flusher to notice and stop.
const stopGrace = time.Second

// Unwritten returns, decoded, the entries a Stop that gave up could not
// write (nil otherwise), so the caller can keep them elsewhere. When the
// last flush's outcome was unknown (kv.ErrOutcomeUnknown), some of them
// may be stored already: writing them again under the same level and ID
// stores each once.
func (b *LogBuffer) Unwritten() []LogEntry {
	if !b.made() {
		return nil
	}
	select {
	case <-b.done:
	default:
		return nil // still running (or not stopped)
	}
	// The flusher has exited and Add refuses entries: chunks no longer
	// change.
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pendingN == 0 {
		return nil
	}
	out := make([]LogEntry, 0, b.pendingN)
	for _, c := range b.chunks {
		for i := range c.Len() {
			_, k, v := c.Op(i)
			if e, err := DecodeEntry(k, v); err == nil {
				out = append(out, e)
			}
		}
	}
	return out
}

// run is the flusher goroutine.
func (b *LogBuffer) run() {
	defer close(b.done)
	ticker := time.NewTicker(b.opts.Interval)
	defer ticker.Stop()
	for {
		all := true
		select {
		case <-b.kick:
			all = false
		case <-ticker.C:
		case <-b.flushReq:
		case <-b.stopping:
			b.finish()
			return
		}
		if !b.drain(all, nil) {
			// Stop began during a retry: finish under its deadline.
			b.finish()
			return
		}
	}
}

// finish drains everything under Stop's context and sets stopErr.
func (b *LogBuffer) finish() {
	b.drain(true, b.stopCtx)
	b.mu.Lock()
	defer b.mu.Unlock()
	errs := append([]error(nil), b.errs...)
	if b.errsDropped > 0 {
		errs = append(errs, fmt.Errorf("logstore: %d more distinct flush errors", b.errsDropped))
	}
	if n := b.pendingN; n > 0 {
		errs = append(errs, fmt.Errorf("logstore: stop: %w: %d entries (see Unwritten)", ErrUnwritten, n))
	}
	b.stopErr = errors.Join(errs...)
	close(b.progress)
	b.progress = make(chan struct{})
}

// drain writes pending entries, one transaction at a time: all of them, or
// (all false) only while a full batch is pending. A failed flush is retried
// with backoff. With stopCtx nil it retries forever, but returns false as
// soon as Stop begins while it waits to retry; with stopCtx it gives up when
// stopCtx is done or the error is permanent. It returns true otherwise.
func (b *LogBuffer) drain(all bool, stopCtx context.Context) bool {
	backoff := b.opts.RetryMin
	for {
		b.mu.Lock()
		c := b.nextChunkLocked(all)
		b.mu.Unlock()
		if c == nil {
			return true
		}
		err := b.write(c)
		if err == nil {
			backoff = b.opts.RetryMin
			continue
		}
		b.report(err)
		if stopCtx != nil && (b.permanentNow() || stopCtx.Err() != nil) {
			return true
		}
		stopping := b.stopping
		if stopCtx != nil {
			stopping = nil // already stopping: wait for the timer or stopCtx
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-stopping:
			t.Stop()
			return false
		case <-doneOf(stopCtx):
			t.Stop()
			return true
		}
		backoff = min(backoff*2, b.opts.RetryMax)
	}
}

// nextChunkLocked returns the chunk to write next, or nil: the first chunk
// if it is sealed (full), or if it is the open one and all is set or an Add
// waits for space (then it is sealed first).
func (b *LogBuffer) nextChunkLocked(all bool) *chunk {
	if len(b.chunks) == 0 {
		return nil
	}
	if len(b.chunks) == 1 && b.open {
		if !all && b.waiters == 0 {
			return nil
		}
		b.open = false
	}
	return b.chunks[0]
}

func doneOf(ctx context.Context) <-chan struct{} {
	if ctx == nil {
		return nil
	}
	return ctx.Done()
}

// write writes chunk c, the first of b.chunks, in one transaction. On
// success it removes c and keeps it as the spare.
func (b *LogBuffer) write(c *chunk) error {
	n := c.Len()
	if err := b.apply(&c.Batch); err != nil {
		return fmt.Errorf("logstore: flush of %d entries: %w", n, err)
	}
	b.mu.Lock()
	copy(b.chunks, b.chunks[1:])
	b.chunks[len(b.chunks)-1] = nil
	b.chunks = b.chunks[:len(b.chunks)-1]
	b.pendingN -= n
	b.pendingSize -= c.bytes
	c.Reset()
	c.bytes = 0
	b.spare = c
	b.written += uint64(n)
	b.flushes++
	b.lastErr = nil
	b.permanent = false
	close(b.space)
	b.space = make(chan struct{})
	close(b.progress)
	b.progress = make(chan struct{})
	b.mu.Unlock()
	return nil
}

func (b *LogBuffer) permanentNow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.permanent
}

// apply writes batch, turning a panic of the store into an error: the
// flusher must never crash the host.
func (b *LogBuffer) apply(batch *kv.Batch) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("logstore: store panicked during a flush: %v", p)
		}
	}()
	return b.store.Write(context.Background(), batch)
}

// isPermanent reports whether no retry on this store can succeed: it is
// closed, read-only, needs reopening after a fault (every write to it is
// refused until then), or nil.
func (b *LogBuffer) isPermanent(err error) bool {
	return errors.Is(err, kv.ErrClosed) || errors.Is(err, kv.ErrReadOnly) || errors.Is(err, kv.ErrNeedsReopen) || errors.Is(err, errNilStore)
}

// errNotMade is the error of a LogBuffer not made by NewLogBuffer (a zero
// LogBuffer, a nil *LogBuffer), which has no flusher.
var errNotMade = fmt.Errorf("%w: logstore: LogBuffer not made with NewLogBuffer or NewLogBufferOptions", kv.ErrInvalidConfig)

// made reports whether b was made by NewLogBuffer: not nil, with a
// flusher.
func (b *LogBuffer) made() bool { return b != nil && b.done != nil }

// nilContext is the error of method op given a nil context.
func nilContext(op string) error {
	return fmt.Errorf("%w: logstore: %s with a nil context", kv.ErrInvalidConfig, op)
}

// errNilStore is the error of every flush of a buffer made with a nil store.
var errNilStore = fmt.Errorf("%w: logstore: NewLogBuffer: nil kv.Store", kv.ErrInvalidConfig)

// report records a failed attempt and calls OnError.
func (b *LogBuffer) report(err error) {
	b.mu.Lock()
	b.failures++
	b.lastErr = err
	b.permanent = b.isPermanent(err)
	seen := false
	for _, e := range b.errs {
		if e.Error() == err.Error() {
			seen = true
			break
		}
	}
	if !seen {
		if len(b.errs) < 8 {
			b.errs = append(b.errs, err)
		} else {
			b.errsDropped++
		}
	}
	if b.permanent {
		// Wake Adds blocked on a full buffer: they return ErrFull.
		close(b.space)
		b.space = make(chan struct{})
	}
	b.mu.Unlock()
	if b.opts.OnError != nil {
		func() {
			defer func() { _ = recover() }()
			b.opts.OnError(err)
		}()
	}
}

// Package logstore keeps the migration engine's log lines in a kv.Store:
// durable, batched, and queryable by level, time, entity and queue. It
// works on every kv backend and imports kv only.
//
// # Where to start
//
// Write with a LogBuffer (NewLogBuffer(store, 500, 2*time.Second), Add,
// Stop), or through log/slog with NewHandler. Read with Scan/Find (a Query:
// levels, time range, filters, newest first, limit, cursor), Newest, Tail,
// ByLevel and Count. Delete old entries with DeleteBefore.
//
// # Keys
//
// Keys are the seed's log:{level}:{id}: level is one of the six Level
// constants (trace, debug, info, warning, error, critical; anything else is
// ErrInvalidLevel) and id a canonical, lowercase RFC 9562 version 7 UUID
// (ErrInvalidID otherwise), whose first 48 bits are the Unix time in
// milliseconds. The canonical string sorts bytewise in time order, so each
// level iterates in time order. IDGenerator issues them with a 12-bit
// counter after the timestamp, so IDs made in one millisecond keep their
// creation order, and it never goes backwards (clock steps back, bursts of
// more than 4096 per millisecond). Its clock and random source can be
// injected: the conformance suite's golden dump relies on that.
// KeyLog and PrefixLogByLevel return an error, unlike the seed's
// single-valued helpers: an unknown level must not become a key. The seed
// issued version 4 IDs, which carry no time: a key under "log:" that is not
// a log key of this form (such an ID, a foreign key) is data the queries
// cannot place, and a query whose range holds it fails with ErrCorruptEntry
// (kv.ErrCorrupt) naming it, Count too; delete the key to lift that.
//
// # Values
//
// A value is a JSON object, version 1 ({"v":1,"ts":...,"entity":...,
// "entity_id":...,"queue":...,"msg":...,"attrs":{...}}), without the level
// and ID that the key holds. JSON is readable by any tool; the encoder is
// hand-written, skips plain text 16 bytes at a time and allocates nothing
// (about 75 ns for a 230-byte value), so encoding is a small part of
// ingestion. Timestamp stays the seed's RFC 3339 text, stored verbatim;
// queries by time use the ID's millisecond. Attrs (structured attributes,
// what the slog handler fills) read back with numbers as json.Number.
//
// # LogBuffer
//
// Add encodes an entry straight into a pending kv.Batch (no per-entry
// allocation once warm); a flusher goroutine writes each full batch at once
// (while Add fills the next, when MaxPending leaves room for it) and
// everything at least every Interval, one transaction (kv.Store.Write) per
// flush, each below kv.MaxTxnOps and kv.MaxTxnBytes whatever BatchSize is.
// Memory is bounded (MaxPending entries, default one batch, and
// MaxPendingBytes): a full buffer blocks Add, AddContext gives up with its
// context's error — an entry is accepted or refused with an error, never
// dropped. A failed flush keeps its entries and is retried with capped
// exponential backoff while the process lives; errors go to
// Options.OnError, Err and Stop's result (ErrUnwritten and Unwritten when
// Stop had to give up). Stop is idempotent; Add after Stop is ErrStopped.
// A killed process loses at most the entries the buffer held: one batch by
// default (TestKill checks it on Badger with SIGKILL).
//
// # Queries
//
// Levels are merged in time order (by ID, then level name) from one
// iterator per level on one snapshot, so a newest-first query with a limit
// reads about limit entries whatever the store's size. Filters on Entity,
// EntityID and Queue decode each entry in range: their cost follows the
// entries scanned. A Cursor (the last key returned) resumes a query or a
// tail. Count scans keys (no values) unless filtered. DeleteBefore is one
// kv.Store.DeleteRange per level over the time-ordered keys: its cost
// follows what it deletes; atomic per level only where the backend says so.
// A key under "log:" that holds no readable entry (a foreign key, a
// damaged value) fails a query whose range holds it, unless the query's
// Unreadable callback takes it.
//
// # The slog handler
//
// NewHandler(buf, opts) maps slog levels to the six levels (FromSlog), moves
// top-level "entity", "entity_id" and "queue" string attributes into the
// entry's fields and keeps every other attribute in Attrs (groups nested).
// It passes testing/slogtest (run by the conformance suite on every
// backend).
//
// # Measured figures
//
// Measured on 2026-11-26 on the shared development machine (2-core AMD
// EPYC VM, Linux, Go 1.26, load average below 0.3 from other work), NoSync
// stores, 50,000 entries of about 300 bytes of key and value:
//
//	go test -run '^$' -bench Ingest -benchtime=10x -count=3 ./logstore/
//
// buf/raw is the throughput of LogBuffer ingestion (encoding of every
// LogEntry included; IDs and Timestamps preset) over that of writing the
// same pre-encoded keys and values straight through kv, runs alternating in
// one process; buf/raw-cpu compares process CPU time, the work done. Three
// cases:
//
//   - default: a default LogBuffer (BatchSize 500) against kv's bulk write
//     (NewBulkWriterSize) in chunks of 512 KiB, the fastest chunk size for
//     these keys on every backend. This is the measure of the 70% target:
//     what the engine gets from LogBuffer against the fastest raw way to
//     write the same bytes.
//   - batch=500: the stricter pairing, against Store.Write of kv.Batches of
//     the same 500 entries, so both sides commit as many transactions.
//   - batch=max: BatchSize 1<<20 (capped by the transaction limits) against
//     kv.BulkWriter in chunks up to kv.MaxTxnBytes.
//
// Minimum - maximum of the three runs:
//
//	backend  case       buf/raw (wall)  buf/raw-cpu
//	memory   default    0.77 - 0.80     0.74 - 0.75
//	memory   batch=500  0.70 - 0.71     0.65 - 0.66
//	memory   batch=max  0.71 - 0.79     0.52 - 0.57
//	badger   default    0.93 - 0.96     0.90 - 0.93
//	badger   batch=500  0.86 - 0.91     0.87 - 0.91
//	badger   batch=max  0.92 - 0.97     0.83 - 0.90
//	pebble   default    1.02 - 1.18     0.87 - 1.13
//	pebble   batch=500  0.79 - 0.84     0.80 - 0.82
//	pebble   batch=max  0.83 - 0.92     0.65 - 0.78
//	bbolt    default    0.85 - 0.93     0.82 - 0.91
//	bbolt    batch=500  0.88 - 0.93     0.85 - 0.90
//	bbolt    batch=max  0.79 - 0.89     0.68 - 0.78
//
// The 70% target holds on wall clock in the default case on every backend,
// with a margin. In the strict batch=500 pairing the memory backend sits on
// the line: 0.70 - 0.71 here (0.696 in one run), 0.67 in a single run of
// go test -bench . ./logstore/ right after. A raw write there costs about
// 300 to 400 ns per entry (a B-tree insert and one
// allocation) and Add about 110 ns (checking level and ID about 45 ns,
// mostly the first read of the entry's strings from memory, and encoding
// the JSON value straight into the pending batch about 65 ns, through
// kv.Batch.SetFunc), plus the lock and the hand-off to the flusher. The
// memory ratios fall with the neighbours' load: under a load average of 2
// to 3.5 the same command gave memory default 0.69 - 0.71 and batch=500
// 0.61 - 0.73, while the engines that do real I/O stayed above 0.79.
// With batch=max the producer and the flusher run side by side on the two
// cores: the wall ratio rises and the CPU ratio falls. Tried and not kept:
// letting a blocked Add write the pending batch itself (lower CPU ratio,
// +0.02 - 0.05 wall at most), two batches pending by default (same). A
// binary value encoding would save part of the 65 ns at the price of
// values no tool can read; it was not judged worth it for the one backend
// that keeps nothing.
//
// Newest-first query of 100 entries of all levels, in a store of 1,000,000
// entries versus one of 10,000, both bulk loaded then settled (compacted,
// closed and reopened); same machine and day, three runs of 300 alternating
// queries, minimum - maximum:
//
//	go test -run '^$' -bench Newest -benchtime=300x -count=3 ./logstore/
//
//	backend  10k (µs)   1M (µs)    large/small
//	memory   163 - 441  166 - 443  0.91 - 1.01
//	badger   214 - 303  237 - 342  1.10 - 1.13
//	pebble   193 - 211  193 - 210  1.00 - 1.04
//	bbolt    172 - 177  178 - 184  1.04 - 1.05
//
// The target (at most 2) holds everywhere. Absolute times swing from run
// to run (most on memory, whose million entries are Go objects the garbage
// collector scans while the queries run); the two sizes alternate query by
// query, so the ratio does not. An earlier measurement of 2.05 on Badger
// was taken under a load average above 10 without settling the stores: the
// large store's queries then ran beside the compactions of its own bulk
// load. Each query costs about 2 µs per entry returned in both sizes (it
// reads about limit entries whatever the store's size); where the time
// goes inside that (decoding, iterator set-up, Badger merging more tables
// in the large store) was not profiled.
package logstore

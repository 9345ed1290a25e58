// Package metrics exposes what a running migration's storage is doing as
// Prometheus metrics: an instrumenting wrapper for any kv.Store, and
// collectors of the engine's own figures and of the nodestore and logstore
// layers, all registered in a prometheus.Registerer the program passes in.
//
// Start with Wrap: it returns a *Store that records every call to the
// store it wraps and registers those metrics, with the engine figures, in
// the registry. Give the wrapper to the layers (nodestore.New(store),
// logstore.NewLogBuffer(store, ...)) and register their collectors
// (NewNodestoreCollector, NewLogstoreCollector, NewLogBufferCollector).
// Serve the registry with promhttp.HandlerFor. See Example.
//
// Nothing in kv, nodestore or logstore imports this package: a program
// that does not wrap its store pays nothing.
//
// # Metrics
//
// Names follow the Prometheus conventions: base units (_seconds, _bytes),
// _total for counters. Every metric also carries Options.ConstLabels.
//
// Recorded by the wrapper on each call (label op: get, set, delete,
// iterate, view, update, write, delete_range, delete_prefix, sync,
// compact, backup, verify; GetAppend counts as get):
//
//	polykv_kv_ops_total{op}                   counter    calls, errors included
//	polykv_kv_op_duration_seconds{op}         histogram  time of one call in Options.TimeEvery (default 8)
//	polykv_kv_op_errors_total{op,error}       counter    calls that failed, by the kv sentinel matched
//	polykv_kv_read_bytes_total{op}            counter    bytes of keys and values handed to the caller
//	polykv_kv_read_keys_total{op}             counter    keys handed to the caller (found Gets, iterated keys)
//	polykv_kv_written_bytes_total{op}         counter    bytes of keys and values of committed writes
//	polykv_kv_txn_writes{op}                  histogram  writes per committed Update or Write (op update, write)
//	polykv_kv_txn_size_bytes{op}              histogram  size per committed Update or Write, as counted against kv.MaxTxnBytes
//	polykv_kv_update_retries_total            counter    runs of Update functions beyond the first (engine conflicts)
//
// The error label is the first of these an error matches with errors.Is:
// outcome_unknown (kv.ErrOutcomeUnknown: the commit may or may not be
// applied; its cause, io or unavailable, is not labelled), not_found
// (kv.ErrNotFound), conflict (kv.ErrConflict), closed
// (kv.ErrClosed), txn_too_large (kv.ErrTxnTooLarge), no_space
// (kv.ErrNoSpace), corrupt (kv.ErrCorrupt), io (kv.ErrIO), unavailable
// (kv.ErrUnavailable), read_only
// (kv.ErrReadOnly), invalid (kv.ErrEmptyKey, kv.ErrKeyTooLarge,
// kv.ErrValueTooLarge, kv.ErrInvalidConfig, kv.ErrTxnDone), canceled
// (context.Canceled, context.DeadlineExceeded), other. A series appears
// at the first error of its kind. Reads inside a View or an Update count
// under view or update; writes of an Update count when it commits, from
// the run that committed. Each retry follows one conflict the engine
// reported; an Update that gives up after kv.MaxConflictRetries counts
// under error="conflict", so the engine's conflicts are
// polykv_kv_update_retries_total plus polykv_kv_op_errors_total{op="update",error="conflict"}.
//
// Read from the engine on each scrape (NewEngineCollector; Wrap registers
// one), label backend:
//
//	polykv_engine_disk_bytes{backend}         gauge      engine files on disk, allocated blocks
//	polykv_engine_memory_bytes{backend}       gauge      engine caches and memtables
//	polykv_engine_<name>{backend}             gauge      each figure of kv.EngineStats.Extra, as the backend's Stats documents it
//	                                                     (badger: lsm_bytes, vlog_bytes, block_cache_hits, ...; pebble:
//	                                                     compaction_debt, l0_files, ...; bbolt: free_pages, pages_written, ...)
//	polykv_engine_stats_errors_total          counter    scrapes whose Stats failed (a closed store)
//
// Read from nodestore's counters on each scrape (NewNodestoreCollector);
// levels from Options.MaxLevels (default 256) on share the label ">=256":
//
//	polykv_nodestore_nodes{queue,level,traversal,copy}  gauge    nodes in each position (copy empty for dst)
//	polykv_nodestore_pending_nodes{queue,level}         gauge    nodes pending traversal, per level that has some
//	polykv_nodestore_lowest_pending_level{queue}        gauge    lowest level with a pending node; -1 when none
//	polykv_nodestore_collect_errors_total               counter  scrapes whose counts could not be read
//
// Counted from the log keys at most once per Options.LogCountInterval
// (NewLogstoreCollector), and read from a LogBuffer on each scrape
// (NewLogBufferCollector):
//
//	polykv_logstore_entries{level}            gauge      log entries stored per level
//	polykv_logstore_unreadable_keys           gauge      keys in a level's range that are not log keys
//	polykv_logstore_collect_errors_total      counter    counts that failed
//	polykv_logbuffer_pending_entries          gauge      entries held, not yet written (the backlog)
//	polykv_logbuffer_pending_bytes            gauge      their size, against MaxPendingBytes
//	polykv_logbuffer_waiting_adds             gauge      Adds blocked on a full buffer
//	polykv_logbuffer_added_entries_total      counter    entries accepted
//	polykv_logbuffer_written_entries_total    counter    entries written
//	polykv_logbuffer_flushes_total            counter    flushes written
//	polykv_logbuffer_flush_failures_total     counter    failed flush attempts (retried)
//	polykv_logbuffer_refused_entries_total    counter    entries refused with logstore.ErrFull (the drops)
//
// # Cost
//
// A call through the wrapper does an atomic add, a few counter adds and,
// for one call in Options.TimeEvery, two monotonic clock reads and a
// histogram observation: 33–37 ns on a point read of the memory backend
// on a 2-core machine, 113 ns when every call is timed (BenchmarkGet);
// about 1% of a Badger point read (bench: BenchmarkOverheadPairedMetrics,
// run by make calibrate). Reading the clock is the larger part, hence the
// sampling. Collectors read the store only when scraped.
//
// # Caveats
//
// A registry accepts one set of label names per metric name: to expose
// several stores in one registry, give each the same ConstLabels names
// with other values. The wrapper has every method of *kv.DB beyond
// kv.Store (GetAppend, Stats, Compact, Backup, Engine) so that callers
// discovering them by type assertion still find them; on a wrapped store
// without them they fall back as *kv.DB does (Engine returns nil). Calls
// made on Engine() or on Unwrap() are not recorded.
package metrics

// Package etcd is the polykv backend whose stores live on an etcd cluster
// (go.etcd.io/etcd/client/v3): a store is a key prefix, not a directory,
// and any number of processes on any machines may have it open at once,
// with Update serializable between all of them.
//
// # Basics
//
// Import the package (or backends/all) and open a store by DSN or config:
//
//	etcd://user:pass@host1:2379,host2:2379,host3:2379/jobs/42?opt.request_timeout=5s
//
// or kv.Config{Backend: "etcd", Endpoints: []string{"host1:2379", ...},
// Path: "/jobs/42"}. Path is the store's key prefix P; its keys live at
// P+"/k/"+key, its marker at P+"/marker" (see keys.go for the layout).
// Stores on one cluster must not nest: opening or creating "/jobs/42/a"
// while "/jobs/42" is a store (or "/jobs" around an existing "/jobs/42")
// fails with kv.ErrNotAStore, checked in the same request as the marker
// (nesting.go). The options are
// listed with their defaults at the Opt* constants: dial_timeout,
// request_timeout, tls_ca/tls_cert/tls_key, auto_compact, page_size,
// max_txn_ops, max_request_bytes, max_response_bytes.
//
// Update runs as an optimistic transaction (kv.Transactor), as etcd's own
// STM does: reads at one revision R record what they saw (each key with
// its ModRevision, each iterated range and the keys in it), and the commit
// is one etcd Txn whose compares check that nothing read has changed since
// R (per-key ModRevision compares catch changes and deletions, one ranged
// "ModRevision < R+1" compare per range catches insertions). A failed
// compare is kv.ErrConflict, and kv retries. An Update that keeps
// conflicting becomes a priority transaction (kv.PriorityTransactor): it
// holds the store's turn (the key P/turn, on a 5-second lease kept alive
// while it runs), and every other commit to the store, from any process,
// compares the turn absent, so they wait for it (priority.go); a wait
// that outlasts the caller's deadline (or request_timeout, without one)
// fails with the context's error, not kv.ErrUnavailable. View,
// Iterate and snapshots read at one pinned revision, serializable
// (answered by the member, no read-index round). A forward iteration is
// one RangeStream (etcd v3.7) read chunk by chunk as the caller consumes
// it and cancelled by Close. A reverse one streams its range once, keys
// only, keeping every page_size-th key, then reads the pages between those
// bounds as ascending Ranges at the same revision and hands them out
// backwards (iter.go: etcd has no descending stream). Any iteration on a
// member before v3.7 reads in pages (WithRev, WithLimit; never an
// unbounded Range).
// kv.GetMany reads up to page_size keys in one read-only Txn, and
// kv.IterateMany in View many short ranges in one read-only Txn of Ranges
// (up to 64 keys each; a longer range goes on as an iteration:
// scanmany.go).
//
// etcd bounds a read by its count of keys, not its bytes, and a value may
// be up to about 1.1 MiB (see Limits). So GetMany, IterateMany and the
// pages of reverse and paged iterations ask for fewer keys per request
// when the values the store has read so far say that a full request would
// bring more than max_response_bytes (default 4 MiB) of keys and values
// (a reverse page then reads its keys first and its values in parts);
// a store that has read no value yet starts from the largest values it
// declares (respbytes.go). Small values keep the count limits. The chunks
// of a forward iteration's stream are sized by the server: from about half
// to twice max_request_bytes once it has adapted, ten keys for the first.
//
// # Durability
//
// Every commit returns once a majority of the members have it in their
// Raft log, fsynced: it survives the loss of any minority of the members
// and a power loss of all of them. kv.NoSync is refused (there is no
// unsynced mode to declare). Sync does nothing.
//
// An error from a commit means nothing was applied: a commit whose answer
// is lost (timeout, leader change, connection loss) is resolved by its
// commit token before the call returns (commit.go). Only when the cluster
// gives no answer at all before the deadline does the error wrap
// kv.ErrOutcomeUnknown (and kv.ErrUnavailable), or when the caller's
// context is cancelled while the commit is in flight: the outcome is then
// not waited for (kv.ErrOutcomeUnknown and context.Canceled), even on a
// healthy cluster. A call whose context has no
// deadline gets request_timeout (default 10 s): no call waits forever, and
// a cluster without quorum fails calls with kv.ErrUnavailable.
//
// # Limits
//
// The store declares its limits (kv.LimitsOf) from the server settings it
// is told with max_txn_ops and max_request_bytes (defaults: etcd's own,
// 128 and 1.5 MiB): MaxTxnOps = max_txn_ops - 2 (the commit token and the
// priority turn's release),
// MaxTxnBytes three quarters of max_request_bytes less the commit's own
// operations (its token, the turn, up to 16 deletes of old tokens: about
// 1 KiB for a short prefix), scaled down for a long prefix (every key of a
// request carries it; a prefix that leaves less than 16 KiB per
// transaction is refused at Open), MaxKeySize at most a quarter of
// MaxTxnBytes; max_txn_ops is at least 3. BulkWriter, nodestore and
// logstore size their chunks by them. The last quarter of a request is
// for the compares of what a transaction read: one that read more keys
// and ranges than max_txn_ops - 2 compares, or whose compares (each key
// with the prefix, and its framing: as sent) exceed a quarter of
// max_request_bytes, fails with kv.ErrTxnTooLarge before anything is sent,
// rather than commit with a weaker check. A transaction within all of
// these is accepted by the server.
//
// dial_timeout bounds the wait for a first member to answer at Open (a
// local read); endpoints are host:port, checked before anything connects. Size the server (--max-txn-ops, --max-request-bytes, the
// client's send limit follows) and these options together, so that a
// maximal transaction commits well inside the server's request timeout;
// internal/etcdtest shows one sizing.
//
// # Caveats
//
//   - etcd keeps every revision until compacted. Compaction is cluster-wide:
//     DB.Compact compacts up to the oldest revision this process still
//     reads on the cluster (through any of its stores and handles there),
//     and returns once the members have dropped the old revisions
//     from their files (up to 2 minutes when ctx has no deadline, not
//     request_timeout: it is cluster-wide work); auto_compact does it
//     periodically (off by default: on a shared cluster the operator's
//     --auto-compaction-* settings usually do).
//     A snapshot or transaction reading a revision compacted away fails with
//     an error wrapping kv.ErrConflict. Space inside the database file is
//     reused after compaction; returning it to the file system needs
//     etcdctl defrag. Past --quota-backend-bytes writes fail with
//     kv.ErrNoSpace until the operator compacts, defrags and disarms.
//   - Space, measured with bench's traverse-gen (one revision per write,
//     nothing compacted): about 1.9 KB of member database per node, so
//     200,000 nodes used 364 MiB and 1,000,000 nodes 1,837 MiB of the
//     embedded test cluster's 4 GiB quota. A member also keeps an index
//     entry per key revision in its Go heap: the 1,000,000-node run with
//     one embedded member peaked at 7.9 GiB RSS (5.0 GiB anonymous, 1.8 GiB
//     of mapped database), which is the server's memory, not the client's.
//   - etcd answers every Range with the count of all the keys left in its
//     range, whatever its limit: each page of a paged iteration costs the
//     server a walk of its index over the rest of the range. Forward
//     iterations stream to avoid it (stream.go), so they cost what they
//     read; a reverse one reads its keys once more (BenchmarkReverseIteration,
//     20,000 keys on one member: 1.9 µs per key, against 11 µs with
//     descending pages, which etcd reads whole and sorts before it applies
//     the limit). Every iteration on a member before v3.7 pays the count
//     per page, and a reverse one the sort too.
//   - Set, Delete, Write and DeleteRange outside Update are blind writes
//     (no compares): atomic, and they make concurrent transactions that
//     read their keys fail their commits.
//   - Each commit puts a token key (P+"/t/...") on a 10-minute lease; the
//     tokens of applied commits are deleted by later commits of the same
//     store, the rest expire with their lease.
package etcd

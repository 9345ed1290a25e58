// Package conformance is the test suite every polykv backend runs: it
// checks, rule by rule, that a kv.Store keeps the kv contract (DESIGN.md,
// "The kv contract"), whatever engine is under it.
//
// # Basics
//
// A backend calls Run from its own test, with a Factory that prepares one
// fresh store location per subtest:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.ConfigFactory(kv.Config{Backend: "pebble"}))
//	}
//
//	func FuzzModel(f *testing.F) {
//		conformance.Fuzz(f, conformance.ConfigFactory(kv.Config{Backend: "pebble"}))
//	}
//
// Every rule is a subtest named after it, grouped by topic: Keys, Values,
// Buffers, Iterate, Snapshot, Txn, Atomicity, Bulk, Concurrency,
// DeleteRange, Lifecycle, Persistence and Model. Run a single rule with
// -run, e.g. -run 'TestConformance/Iterate/ReversePrefix'.
//
// # What it checks
//
//   - limits (key, value and transaction sizes) identical on every entry
//     point; awkward keys (NUL, 0xFF, invalid UTF-8, Badger's "!badger!");
//     empty versus missing values;
//   - buffer ownership: the suite scribbles over every buffer it passes or
//     receives to prove nobody keeps or shares them;
//   - iteration: bytewise order, Prefix/Start/End intersections, reverse
//     scans (the Badger reverse-prefix trap), Limit, KeysOnly, SkipAll, a
//     context cancelled midway; the same on Txn.Iterate merging pending
//     writes;
//   - snapshots and transactions: isolation from concurrent writes, reading
//     one's own writes, writing while iterating, rollback on error and
//     panic, ErrTxnTooLarge with nothing applied, a write to the store
//     from inside its own Update (with the Txn's context) refused with
//     ErrNestedUpdate instead of a deadlock;
//   - concurrency under -race, range deletes (atomic when the backend
//     declares Guarantees.AtomicDeleteRange), Close and cancelled contexts;
//   - persistence across reopen, when Guarantees.Persistent;
//   - a model-based test: thousands of random operations compared, read by
//     read, with a reference model (a sorted Go map) that shares no code
//     with kv or any backend. Fuzz drives the same comparison from fuzz
//     input.
//
// Crash safety has its own entry point: RunCrash re-runs the test binary
// as a child that commits numbered transactions and kills it at random
// moments (SIGKILL), or, with CrashOptions.PowerCut (WithPowerCut), cuts
// the power of a loop-mounted ext4 disk under it so that every write not
// fsynced is lost; the parent then checks what survived against the
// backend's declared Guarantees and the Durability it was opened with.
//
// Tests that could hang on a deadlocked backend run under a timeout and
// fail instead. The suite closes every store it opens.
//
// # Knobs
//
// -short loads 100,000 keys instead of 1,000,000 in Bulk and runs fewer
// model operations. Environment variables: POLYKV_STRESS=1 (long model
// run), POLYKV_MODEL_SEED and POLYKV_MODEL_OPS (reproduce a model failure:
// the seed is printed), POLYKV_CONFORMANCE_BULK_KEYS.
//
// The package's own tests prove the suite can fail: they run it, in a child
// process, against deliberately broken stores (a Get that shares its
// buffer, a prefix scan that leaks a neighbour, a failed transaction half
// applied, ...) and check that the rule written for each breakage fails.
package conformance

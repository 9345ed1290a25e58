// Package linearize records what clients of a kv.Store did and checks that
// the history is linearizable: that every call can be placed at one instant
// between its start and its return so that, in that order, each call sees
// exactly what the calls before it left. It is how the tests of a shared
// store (several processes, members stopped and restarted, processes
// killed) show that Update stays serializable and that nothing reported
// failed was applied.
//
// # Basics
//
// Wrap each client's store with a History; run the workload through the
// wrapper; then Check the operations:
//
//	h := linearize.NewHistory(linearize.Options{Keys: linearize.Prefix("claim/")})
//	s := h.Wrap(store)
//	... s.Update(ctx, ...) from many goroutines ...
//	if r := linearize.Check(h.Ops(), time.Minute); !r.Ok() {
//		t.Error(r)
//	}
//
// A history from another process travels as JSON lines (History.WriteTo,
// ReadOps); operations from several processes are checked together
// (timestamps are the wall clock, shared by the processes of one machine).
//
// # What is recorded
//
// Every call of the wrapper: Get, Set, Delete, Write, Iterate, View,
// Update, DeleteRange and DeletePrefix, with its start and return time and,
// for a transaction, every read (key and value seen, or missing), every
// range iterated (the keys and values it saw, up to where it stopped) and
// every write of its last run — the run that committed. Options.Keys
// narrows the record to the keys a workload checks (a projection of a
// linearizable history is linearizable).
//
// The record takes the kv contract at its word, which is what the check
// tests: a call that returns nil took effect once, at an instant inside the
// call; a call that fails took no effect at all and is left out; a call that
// fails with kv.ErrOutcomeUnknown may or may not have taken effect, at any
// instant after its start, and is kept as an operation that never returns
// ("pending forever", as porcupine and etcd's robustness tests put it). So
// a store that applies a write it reported failed, reads a stale value or
// lets two transactions commit on the same read produces a history the
// check rejects, provided the workload writes distinct values.
//
// A DeleteRange on a store whose Guarantees.AtomicDeleteRange is false is
// not one atomic operation: such a history cannot be checked and Check says
// so.
//
// # The model
//
// The sequential specification is a map from key to value; an operation is
// a list of steps (read, write, delete, range read, range delete) applied
// in order, and it may take effect only if every read in it matches the
// map. Operations are partitioned into groups that share no key (a range
// step touches every key of the history inside its range), and each group
// is checked on its own by github.com/anishathalye/porcupine.
package linearize

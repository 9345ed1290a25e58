// Package memory is polykv's in-memory backend: an ordered B-tree
// (github.com/tidwall/btree) behind the kv.Store contract, for tests, for
// small throw-away stores and as the fastest reference in benchmarks.
//
// # Basics
//
// Open a store directly:
//
//	db, err := memory.Open(ctx)
//
// or by configuration, since the package registers itself as "memory":
//
//	import _ "github.com/polykv/polykv/backends/memory"
//	db, err := kv.Open(ctx, kv.Config{Backend: "memory"})
//
// Every store starts empty; Path must be empty and there are no backend
// options (any entry in Config.Options is an error).
//
// # How it works
//
// Writes (a batch, an Update's commit, a range delete) are applied to one
// live tree under a mutex, so each is atomic: a reader sees all of it or
// none of it. An iteration or a View works on a copy-on-write clone of the
// tree taken when it starts (O(1), shared by all readers until the next
// write), so it holds no lock while it runs, never blocks a writer, and a
// write made while iterating — even from inside the callback — cannot
// deadlock or change what the iteration visits.
//
// # Caveats
//
//   - Nothing is persistent: Close drops the data and every Open starts
//     empty (Info().Guarantees.Persistent is false). Durability settings
//     and Sync have no effect.
//   - DeleteRange and DeletePrefix are atomic
//     (Info().Guarantees.AtomicDeleteRange is true).
//   - The store holds every key and value in the Go heap; size it
//     accordingly.
package memory

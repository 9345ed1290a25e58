// Package all links every polykv backend into a program, for programs that
// choose their backend by configuration rather than in code:
//
//	import (
//		_ "github.com/polykv/polykv/backends/all"
//		"github.com/polykv/polykv/kv"
//	)
//
//	cfg, err := kv.ParseDSN(os.Getenv("ENGINE_STORE")) // e.g. "pebble:///var/lib/engine"
//	...
//	db, err := kv.Open(ctx, cfg)
//
// Importing it registers "badger", "pebble", "bbolt", "memory" and "etcd"
// (a store on an etcd cluster: see backends/etcd) with kv (and "auto" then
// opens whichever directory backend a directory's marker names). It
// has no API of its own. A program that knows its backend imports just that
// backend's package instead, and links only that engine (Badger, Pebble and
// bbolt together add several megabytes to a binary).
//
// The package's tests hold the checks that need several backends at once:
// the backend-mismatch and lock matrix, and the crash test run on every
// backend (see conformance.RunCrash).
package all

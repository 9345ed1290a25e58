package all

import (
	_ "github.com/polykv/polykv/backends/badger" // registers "badger"
	_ "github.com/polykv/polykv/backends/bbolt"  // registers "bbolt"
	_ "github.com/polykv/polykv/backends/etcd"   // registers "etcd"
	_ "github.com/polykv/polykv/backends/memory" // registers "memory"
	_ "github.com/polykv/polykv/backends/pebble" // registers "pebble"
)

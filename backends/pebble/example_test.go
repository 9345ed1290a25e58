package pebble_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/kv"
)

// Open a Pebble store, write a few keys atomically, read them back in
// reverse, and drop a whole prefix with one atomic range deletion.
func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "polykv-pebble-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := pebble.Open(ctx, kv.Config{
		Path:         dir,
		Durability:   kv.Sync,
		MemoryBudget: 64 << 20,
		Options:      map[string]string{"compression": "zstd"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	var b kv.Batch
	for _, name := range []string{"a", "b", "c"} {
		b.Set([]byte("file:"+name), []byte("size="+name))
	}
	b.Set([]byte("tmp:1"), nil)
	if err := db.Write(ctx, &b); err != nil {
		log.Fatal(err)
	}
	db.Iterate(ctx, kv.IterOptions{Prefix: []byte("file:"), Reverse: true}, func(k, v []byte) error {
		fmt.Printf("%s %s\n", k, v)
		return nil
	})
	if err := db.DeletePrefix(ctx, []byte("file:")); err != nil {
		log.Fatal(err)
	}
	_, err = db.Get(ctx, []byte("file:a"))
	fmt.Println(err)
	fmt.Println("atomic range delete:", db.Info().Guarantees.AtomicDeleteRange)
	// Output:
	// file:c size=c
	// file:b size=b
	// file:a size=a
	// kv: key not found
	// atomic range delete: true
}

// Open by configuration through the registry, as a program that picks its
// backend at run time does (the blank import registers "pebble").
func ExampleDriver() {
	dir, _ := os.MkdirTemp("", "polykv-pebble-example")
	defer os.RemoveAll(dir)
	db, err := kv.Open(context.Background(), kv.Config{Backend: "pebble", Path: dir, Durability: kv.NoSync})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	fmt.Println(db.Info().Backend, db.Info().Durability, db.Info().Guarantees.NoSyncKeepsAckedOnKill)
	// Output: pebble nosync false
}

package badger_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/polykv/polykv/backends/badger"
	"github.com/polykv/polykv/kv"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "polykv-badger-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := badger.Open(ctx, kv.Config{Path: dir, Durability: kv.NoSync})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// Keys Badger reserves for itself work like any other.
	b := new(kv.Batch)
	for _, k := range []string{"src:00000001:a", "src:00000001:b", "!badger!mine", "dst:00000000:c"} {
		if err := b.Set([]byte(k), []byte("v-"+k)); err != nil {
			log.Fatal(err)
		}
	}
	if err := db.Write(ctx, b); err != nil {
		log.Fatal(err)
	}
	v, err := db.Get(ctx, []byte("!badger!mine"))
	fmt.Printf("%s %v\n", v, err)

	err = db.Iterate(ctx, kv.IterOptions{Prefix: []byte("src:"), Reverse: true}, func(k, v []byte) error {
		fmt.Printf("%s = %s\n", k, v)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(db.Info().Backend, db.Info().Guarantees.NoSyncKeepsAckedOnKill)
	// Output:
	// v-!badger!mine <nil>
	// src:00000001:b = v-src:00000001:b
	// src:00000001:a = v-src:00000001:a
	// badger true
}

// Opening by configuration: the blank import of this package (or of
// backends/all) registers "badger", the default backend.
func Example_config() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "polykv-badger-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := kv.Open(ctx, kv.Config{
		Path:         dir,
		MemoryBudget: 512 << 20,
		Options:      map[string]string{"compression": "zstd", "value_threshold": "64KiB"},
	})
	if err != nil {
		log.Fatal(err)
	}
	n, memtable, block, index := badger.MemorySplit(db.Info().MemoryBudget)
	fmt.Printf("%s: %d+2 memtables of %d MiB, block cache %d MiB, index cache %d MiB\n",
		db.Info().Backend, n, memtable>>20, block>>20, index>>20)
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}

	// An unknown option is refused, naming it.
	_, err = kv.Open(ctx, kv.Config{Path: dir, Options: map[string]string{"cache": "1GiB"}})
	fmt.Println(errors.Is(err, kv.ErrInvalidConfig))
	// Output:
	// badger: 2+2 memtables of 56 MiB, block cache 72 MiB, index cache 36 MiB
	// true
}

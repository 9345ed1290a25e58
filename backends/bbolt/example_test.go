package bbolt_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "polykv-bbolt-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Path is a directory; the bbolt file is <dir>/data.bolt.
	db, err := bbolt.Open(ctx, kv.Config{Path: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if err := db.Set(ctx, []byte("src:00000000:pending:pending:ab12"), []byte("root")); err != nil {
		log.Fatal(err)
	}
	if err := db.Set(ctx, []byte("src:children:ab12:cd34"), nil); err != nil {
		log.Fatal(err)
	}
	v, err := db.Get(ctx, []byte("src:children:ab12:cd34"))
	fmt.Printf("index entry: %d bytes, err=%v\n", len(v), err)

	err = db.Iterate(ctx, kv.IterOptions{Prefix: []byte("src:")}, func(k, v []byte) error {
		fmt.Printf("%s = %q\n", k, v)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	g := db.Info().Guarantees
	fmt.Println("atomic DeleteRange:", g.AtomicDeleteRange)
	// Output:
	// index entry: 0 bytes, err=<nil>
	// src:00000000:pending:pending:ab12 = "root"
	// src:children:ab12:cd34 = ""
	// atomic DeleteRange: true
}

// Open by configuration, with backend options.
func Example_config() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "polykv-bbolt-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := kv.Open(ctx, kv.Config{
		Backend:    "bbolt",
		Path:       dir,
		Durability: kv.NoSync, // every commit survives a kill; call Sync for power loss
		Options: map[string]string{
			bbolt.OptInitialMmapSize: "64GiB", // above the largest expected file
			bbolt.OptFreelist:        "hashmap",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	fmt.Println(db.Info().Backend, db.Info().Durability)

	// A second open of the same directory fails at once.
	_, err = kv.Open(ctx, kv.Config{Backend: "bbolt", Path: dir})
	fmt.Println("locked:", errors.Is(err, kv.ErrLocked))
	// Output:
	// bbolt nosync
	// locked: true
}

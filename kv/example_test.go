package kv_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strconv"

	_ "github.com/polykv/polykv/backends/memory" // registers "memory"; programs usually import backends/all
	"github.com/polykv/polykv/kv"
)

// Open a store by configuration. A persistent backend takes a directory:
// kv.Config{Backend: "pebble", Path: "/var/lib/engine"}.
func ExampleOpen() {
	ctx := context.Background()
	db, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if err := db.Set(ctx, []byte("src:root"), []byte("pending")); err != nil {
		log.Fatal(err)
	}
	v, err := db.Get(ctx, []byte("src:root"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", v)
	_, err = db.Get(ctx, []byte("src:missing"))
	fmt.Println(errors.Is(err, kv.ErrNotFound))
	// Output:
	// pending
	// true
}

// A DSN carries the whole configuration in one string, for flags and
// environment variables.
func ExampleParseDSN() {
	cfg, err := kv.ParseDSN("pebble:///var/lib/engine?sync=false&memory=256MiB&opt.compression=zstd")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Backend, cfg.Path, cfg.Durability, cfg.MemoryBudget, cfg.Options["compression"])
	fmt.Println(cfg.DSN())

	_, err = kv.ParseDSN("pebble:///var/lib/engine?cache=1GiB")
	fmt.Println(errors.Is(err, kv.ErrInvalidConfig))
	// Output:
	// pebble /var/lib/engine nosync 268435456 zstd
	// pebble:///var/lib/engine?sync=false&memory=256MiB&opt.compression=zstd
	// true
}

// A configuration file in YAML (LoadConfig picks the format by extension).
func ExampleParseConfigYAML() {
	cfg, err := kv.ParseConfigYAML([]byte(`
backend: bbolt
path: /var/lib/engine
durability: nosync
memory_budget: 1GiB
`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg)
	// Output:
	// bbolt:///var/lib/engine?sync=false&memory=1GiB
}

// Update is atomic and reads its own writes; an error from the function
// rolls everything back.
func ExampleDB_Update() {
	ctx := context.Background()
	db, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	incr := func(tx kv.Txn) error {
		n := 0
		v, err := tx.Get([]byte("counter"))
		if err == nil {
			n, _ = strconv.Atoi(string(v))
		} else if !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		return tx.Set([]byte("counter"), []byte(strconv.Itoa(n+1)))
	}
	for range 3 {
		if err := db.Update(ctx, incr); err != nil {
			log.Fatal(err)
		}
	}
	errStop := errors.New("changed my mind")
	err = db.Update(ctx, func(tx kv.Txn) error {
		if err := incr(tx); err != nil {
			return err
		}
		return errStop // nothing of this transaction is applied
	})
	fmt.Println(err == errStop)

	v, _ := db.Get(ctx, []byte("counter"))
	fmt.Printf("counter = %s\n", v)
	// Output:
	// true
	// counter = 3
}

// Iterate visits keys in bytewise order; Prefix, Start and End combine.
// The key and value are valid only during the callback.
func ExampleDB_Iterate() {
	ctx := context.Background()
	db, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	var b kv.Batch
	for _, k := range []string{"log:info:1", "log:error:1", "log:info:2", "log:info:3", "src:1"} {
		b.Set([]byte(k), []byte("v-"+k))
	}
	if err := db.Write(ctx, &b); err != nil {
		log.Fatal(err)
	}

	err = db.Iterate(ctx, kv.IterOptions{Prefix: []byte("log:info:"), Reverse: true, Limit: 2},
		func(key, value []byte) error {
			fmt.Printf("%s = %s\n", key, value)
			return nil
		})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// log:info:3 = v-log:info:3
	// log:info:2 = v-log:info:2
}

// View reads several keys from one consistent snapshot.
func ExampleDB_View() {
	ctx := context.Background()
	db, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.Set(ctx, []byte("a"), []byte("1"))
	db.Set(ctx, []byte("b"), []byte("2"))

	err = db.View(ctx, func(tx kv.ReadTxn) error {
		n := 0
		return tx.Iterate(kv.IterOptions{KeysOnly: true}, func(key, _ []byte) error {
			n++
			fmt.Printf("%d: %s\n", n, key)
			return nil
		})
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// 1: a
	// 2: b
}

func ExampleParseSize() {
	for _, s := range []string{"256MiB", "1GiB", "500MB", "4096"} {
		n, err := kv.ParseSize(s)
		fmt.Println(n, err, kv.FormatSize(n))
	}
	// Output:
	// 268435456 <nil> 256MiB
	// 1073741824 <nil> 1GiB
	// 500000000 <nil> 500000000
	// 4096 <nil> 4KiB
}

// Verify reads every key and value through the engine's own checks. Damage
// is an error matching kv.ErrCorrupt, naming the last key read intact.
func ExampleDB_Verify() {
	ctx := context.Background()
	db, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"a", "b", "c"} {
		if err := db.Set(ctx, []byte(k), []byte("value")); err != nil {
			log.Fatal(err)
		}
	}
	rep, err := db.Verify(ctx)
	switch {
	case errors.Is(err, kv.ErrCorrupt):
		fmt.Printf("damaged after key %q: %v\n", rep.LastGoodKey, err)
	case err != nil:
		log.Fatal(err) // not damage: the check could not run
	default:
		fmt.Printf("%d keys, %d bytes intact; checksums kept: %v\n", rep.Keys, rep.Bytes, db.Info().Guarantees.DetectsValueDamage)
	}
	// Output:
	// 3 keys, 18 bytes intact; checksums kept: false
}

// Read the keys a step needs in one call: the values come in the order of
// the keys, and a missing key is skipped. On a networked backend this is
// one request instead of one round trip per key.
func ExampleGetMany() {
	ctx := context.Background()
	db, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"node:a", "node:c"} {
		if err := db.Set(ctx, []byte(k), []byte("pending")); err != nil {
			log.Fatal(err)
		}
	}
	keys := [][]byte{[]byte("node:a"), []byte("node:b"), []byte("node:c")}
	err = db.Update(ctx, func(tx kv.Txn) error {
		return kv.GetMany(tx, keys, func(i int, v []byte) error {
			fmt.Printf("%s=%s\n", keys[i], v)
			return tx.Set(keys[i], []byte("done"))
		})
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// node:a=pending
	// node:c=pending
}

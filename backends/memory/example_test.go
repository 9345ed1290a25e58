package memory_test

import (
	"context"
	"fmt"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

func ExampleOpen() {
	ctx := context.Background()
	db, err := memory.Open(ctx)
	if err != nil {
		panic(err)
	}
	defer db.Close()

	for _, k := range []string{"b", "a", "c"} {
		if err := db.Set(ctx, []byte(k), []byte("value of "+k)); err != nil {
			panic(err)
		}
	}
	err = db.Iterate(ctx, kv.IterOptions{Reverse: true}, func(key, value []byte) error {
		fmt.Printf("%s = %s\n", key, value)
		return nil
	})
	if err != nil {
		panic(err)
	}
	_, err = db.Get(ctx, []byte("missing"))
	fmt.Println(err)
	// Output:
	// c = value of c
	// b = value of b
	// a = value of a
	// kv: key not found
}

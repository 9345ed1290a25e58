package etcd_test

import (
	"context"
	"errors"
	"testing"

	_ "github.com/polykv/polykv/backends/etcd"
	"github.com/polykv/polykv/kv"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	db := openStore(t, cluster.Config(newPrefix()))
	if err := db.Set(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	v, err := db.Get(ctx, []byte("a"))
	if err != nil || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if _, err := db.Get(ctx, []byte("b")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get(b) = %v", err)
	}
	err = db.Update(ctx, func(tx kv.Txn) error {
		v, err := tx.Get([]byte("a"))
		if err != nil {
			return err
		}
		return tx.Set([]byte("b"), append(v, '2'))
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.Get(ctx, []byte("b")); err != nil || string(v) != "12" {
		t.Fatalf("Get(b) = %q, %v", v, err)
	}
}

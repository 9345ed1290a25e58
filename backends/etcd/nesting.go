package etcd

import (
	"fmt"

	"github.com/polykv/polykv/kv"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Nested stores.
//
// Every key of the store P is under P + "/" (data, marker, tokens, turn),
// so a store Q contains P's keys when Q + "/" is a prefix of P + "/": Q
// is P cut at one of its slashes ("/a" and "/a/b"; "/a" and "/a//x"). Two
// such stores would share keys: one's DeletePrefix would wipe the other,
// and the other's data keys would look like the first's. Opening a store
// therefore reads the marker keys of every Q in the same request as its
// own marker (ReadMarker), and creating one requires, in the same
// transaction, that none of them exists and that nothing lies under P + "/"
// (CreateMarker). A store created inside another by an older polykv is
// refused at its next open.

// maxAncestors bounds the prefixes checked, and so the depth of a store's
// prefix: each is one operation of a transaction (etcd's --max-txn-ops
// defaults to 128).
const maxAncestors = 64

// ancestorsOf returns the prefixes of the stores that would contain the
// store prefix: prefix cut before each of its slashes but the first.
func ancestorsOf(prefix string) ([]string, error) {
	var out []string
	for i := 1; i < len(prefix); i++ {
		if prefix[i] == '/' {
			out = append(out, prefix[:i])
		}
	}
	if len(out) > maxAncestors {
		return nil, fmt.Errorf("%w: etcd: key prefix %s has %d slashes; at most %d are allowed", kv.ErrInvalidConfig, shortPrefix(prefix), len(out)+1, maxAncestors+1)
	}
	return out, nil
}

// nestedErr returns the refusal of a store nested in another, given the
// responses to the gets of the ancestors' marker keys, in order.
func (l *layout) nestedErr(resps []*etcdserverpb.ResponseOp) error {
	for i, r := range resps {
		if len(r.GetResponseRange().Kvs) > 0 {
			return fmt.Errorf("%w: etcd store %s: the prefix lies inside the store %s (its keys would be that store's keys)", kv.ErrNotAStore, l.prefix, l.ancestors[i])
		}
	}
	return nil
}

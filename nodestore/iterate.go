package nodestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// nodeRanges returns opts intersected with the node key range of each
// queue, in iteration order; ranges that become empty are dropped.
func nodeRanges(opts kv.IterOptions) []kv.IterOptions {
	var out []kv.IterOptions
	for _, q := range Queues {
		r, _ := PrefixForAllLevels(q)
		o := opts
		if len(o.Start) == 0 || bytes.Compare(o.Start, r.Start) < 0 {
			o.Start = r.Start
		}
		if len(o.End) == 0 || bytes.Compare(o.End, r.End) > 0 {
			o.End = r.End
		}
		if _, _, empty := kv.Bounds(o); !empty {
			out = append(out, o)
		}
	}
	if opts.Reverse {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// IterateNodeKeys calls fn with every node key that opts selects, in order
// (opts.Reverse: descending). Whatever opts says — even an empty Prefix or
// the bare prefix "src:" — only node keys are visited, never an index key
// or a key of another family. opts.Limit bounds each queue's range, and
// opts.KeysOnly is implied. The key is valid only until fn returns. fn
// returning kv.SkipAll stops the iteration without error.
func (s *Store) IterateNodeKeys(ctx context.Context, opts kv.IterOptions, fn func(key []byte) error) error {
	if err := s.ready(ctx, "IterateNodeKeys"); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("nodestore: iterate node keys: %w: nil function", ErrInvalidArgument)
	}
	opts.KeysOnly = true
	stop := false
	for _, o := range nodeRanges(opts) {
		err := s.kv.Iterate(ctx, o, func(k, _ []byte) error {
			err := fn(k)
			if errors.Is(err, kv.SkipAll) {
				stop = true
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("nodestore: iterate node keys: %w", err)
		}
		if stop {
			return nil
		}
	}
	return nil
}

// IterateNodes calls fn with every node whose key opts selects (only node
// keys, as IterateNodeKeys), decoded. The Node is fn's to keep. The seed
// called this IterateNodeStates.
func (s *Store) IterateNodes(ctx context.Context, opts kv.IterOptions, fn func(Node) error) error {
	if err := s.ready(ctx, "IterateNodes"); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("nodestore: iterate nodes: %w: nil function", ErrInvalidArgument)
	}
	opts.KeysOnly = false
	stop := false
	for _, o := range nodeRanges(opts) {
		err := s.kv.Iterate(ctx, o, func(k, v []byte) error {
			ki, err := ParseNodeKey(k)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			n := Node{Queue: ki.Queue, Level: ki.Level, Traversal: ki.Traversal, Copy: ki.Copy}
			if err := decodeState(v, &n.State); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			err = fn(n)
			if errors.Is(err, kv.SkipAll) {
				stop = true
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("nodestore: iterate nodes: %w", err)
		}
		if stop {
			return nil
		}
	}
	return nil
}

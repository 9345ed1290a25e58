package kv

import "context"

// FailingStore returns a Store whose every call returns err (Info returns
// a zero Info). The layers over kv put one in place of a nil Store given
// to a constructor that returns no error, so that every call reports the
// mistake instead of panicking on a nil interface.
func FailingStore(err error) Store { return failingStore{err} }

type failingStore struct{ err error }

func (s failingStore) Get(context.Context, []byte) ([]byte, error) { return nil, s.err }
func (s failingStore) Set(context.Context, []byte, []byte) error   { return s.err }
func (s failingStore) Delete(context.Context, []byte) error        { return s.err }
func (s failingStore) Iterate(context.Context, IterOptions, func(key, value []byte) error) error {
	return s.err
}
func (s failingStore) View(context.Context, func(tx ReadTxn) error) error { return s.err }
func (s failingStore) Update(context.Context, func(tx Txn) error) error   { return s.err }
func (s failingStore) Write(context.Context, *Batch) error                { return s.err }
func (s failingStore) DeleteRange(context.Context, []byte, []byte) error  { return s.err }
func (s failingStore) DeletePrefix(context.Context, []byte) error         { return s.err }
func (s failingStore) Sync() error                                        { return s.err }
func (s failingStore) Close() error                                       { return s.err }
func (s failingStore) Info() Info                                         { return Info{} }

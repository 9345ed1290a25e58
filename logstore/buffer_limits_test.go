package logstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

// A store may declare a value limit that one write of its size does not
// fit its transaction limit (here both 4 KiB). Add checked the value
// limit only: it accepted an entry whose key, value and per-write
// overhead exceed one transaction, whose flush then failed on every
// retry, holding back every entry after it until Stop gave up. Add must
// refuse it (kv.ErrValueTooLarge, as for an entry over the value limit)
// and the entries after it must be written.
func TestBufferRefusesEntryOverStoreTxnLimit(t *testing.T) {
	lim := kv.DefaultLimits()
	lim.MaxValueSize = 4096
	lim.MaxTxnBytes = 4096
	s := limitedStore(t, lim)
	b := fastRetryBuffer(s, 10)
	err := b.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: strings.Repeat("m", 4000)})
	if !errors.Is(err, kv.ErrValueTooLarge) {
		t.Errorf("Add of an entry over the transaction limit = %v, want ErrValueTooLarge", err)
	}
	if err := b.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "small"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Errorf("Stop = %v, want nil", err)
	}
	if got := b.Stats().Written; got != 1 {
		t.Errorf("%d entries written, want the small one", got)
	}
}

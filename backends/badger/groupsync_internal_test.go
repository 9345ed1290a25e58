package badger

import (
	"errors"
	"syscall"
	"testing"
)

// TestGroupSyncWaitAfterLaterFailure: a waiter woken after the sync that
// covered its commit may reach its check only once a later sync has
// failed (another waiter ran that sync first). Its commit is durable, so
// its wait must succeed: the failure belongs to the commits after it,
// and an error would report a durable commit as of unknown outcome.
func TestGroupSyncWaitAfterLaterFailure(t *testing.T) {
	g := newGroupSync(&engine{dir: t.TempDir()})
	first := g.ticket()
	if err := g.wait(first); err != nil {
		t.Fatal(err)
	}
	g.syncFault = func() error { return syscall.EIO }
	second := g.ticket()
	if err := g.wait(second); !errors.Is(err, syscall.EIO) {
		t.Fatalf("wait of the commit whose sync failed: %v, want EIO", err)
	}
	if err := g.wait(first); err != nil {
		t.Errorf("wait of a commit made durable before the failure: %v, want nil", err)
	}
	if err := g.failed(); !errors.Is(err, syscall.EIO) {
		t.Errorf("failed() = %v, want the sticky EIO", err)
	}
}

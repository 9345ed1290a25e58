package diskspace_test

import (
	"path/filepath"
	"testing"

	"github.com/polykv/polykv/internal/diskspace"
)

func TestFree(t *testing.T) {
	free, err := diskspace.Free(t.TempDir())
	if err != nil || free <= 0 {
		t.Fatalf("Free(a temporary directory) = %d, %v; want a positive size", free, err)
	}
	if !diskspace.Known {
		return
	}
	if _, err := diskspace.Free(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("Free(a missing directory) returned no error")
	}
}

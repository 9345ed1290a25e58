package kv_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/polykv/polykv/kv"
)

func TestFault(t *testing.T) {
	pathErr := func(errno syscall.Errno) error {
		return &fs.PathError{Op: "write", Path: "/s/000001.log", Err: errno}
	}
	already := fmt.Errorf("kv: bbolt: commit: %w: checksum", kv.ErrCorrupt)
	for _, tc := range []struct {
		name  string
		err   error
		want  error         // the sentinel, or nil: returned unchanged
		errno syscall.Errno // must match too
	}{
		{"nil", nil, nil, 0},
		{"enospc", pathErr(syscall.ENOSPC), kv.ErrNoSpace, syscall.ENOSPC},
		{"edquot", os.NewSyscallError("fallocate", syscall.EDQUOT), kv.ErrNoSpace, syscall.EDQUOT},
		{"wrapped enospc", fmt.Errorf("pebble: flush: %w", pathErr(syscall.ENOSPC)), kv.ErrNoSpace, syscall.ENOSPC},
		{"eio", pathErr(syscall.EIO), kv.ErrIO, syscall.EIO},
		{"erofs", pathErr(syscall.EROFS), kv.ErrIO, syscall.EROFS},
		{"flattened enospc", errors.New("while writing to the memtable: write /s/1.vlog: no space left on device"), kv.ErrNoSpace, syscall.ENOSPC},
		{"flattened eio", errors.New("sync /s/MANIFEST: input/output error"), kv.ErrIO, syscall.EIO},
		{"other errno", pathErr(syscall.ENOENT), nil, 0},
		{"no errno", errors.New("something else"), nil, 0},
		{"already a fault", already, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := kv.Fault(tc.err)
			if tc.want == nil {
				if got != tc.err {
					t.Fatalf("Fault(%v) = %v, want it unchanged", tc.err, got)
				}
				return
			}
			if !errors.Is(got, tc.want) {
				t.Errorf("Fault(%v) = %v, does not match %v", tc.err, got, tc.want)
			}
			if !errors.Is(got, tc.errno) {
				t.Errorf("Fault(%v) = %v, does not match errno %v", tc.err, got, tc.errno)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("Fault(%v) lost the original error", tc.err)
			}
			for _, other := range []error{kv.ErrNoSpace, kv.ErrIO, kv.ErrCorrupt} {
				if other != tc.want && errors.Is(got, other) {
					t.Errorf("Fault(%v) also matches %v", tc.err, other)
				}
			}
			if got.Error() != tc.err.Error() {
				t.Errorf("message %q, want the original %q", got.Error(), tc.err.Error())
			}
			if kv.Fault(got) != got {
				t.Error("Fault is not idempotent")
			}
		})
	}
}

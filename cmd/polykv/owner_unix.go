//go:build unix

package main

import (
	"io/fs"
	"syscall"
)

// ownerOf returns the owner of the file fi describes.
func ownerOf(fi fs.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}

// sameDevice reports whether the files a and b describe are on the same
// file system (device): a directory on another device than its parent is
// a mount point.
func sameDevice(a, b fs.FileInfo) bool {
	sa, ok := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return !ok || !ok2 || sa.Dev == sb.Dev
}

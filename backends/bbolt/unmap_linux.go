//go:build linux

package bbolt

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// unmapFile unmaps every mapping of the file at path in this process, and
// reports how many it removed. A panic inside bolt.Open (a damaged file)
// leaves bbolt's mapping of the file behind; the mapping keeps the open
// file alive, and with it the lock bbolt took on it, so every later open
// of the store, in this process or another, waited out its timeout as if
// the store were in use. Only a failed open calls it, while kv holds the
// store's directory lock: no engine of this process has the file open.
func unmapFile(path string) int {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset major:minor inode path
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 {
			continue
		}
		if inode, err := strconv.ParseUint(string(f[4]), 10, 64); err != nil || inode != st.Ino {
			continue
		}
		dev := bytes.SplitN(f[3], []byte(":"), 2)
		if len(dev) != 2 {
			continue
		}
		major, err1 := strconv.ParseUint(string(dev[0]), 16, 32)
		minor, err2 := strconv.ParseUint(string(dev[1]), 16, 32)
		if err1 != nil || err2 != nil || !sameDevice(st.Dev, major, minor) {
			continue
		}
		span := bytes.SplitN(f[0], []byte("-"), 2)
		if len(span) != 2 {
			continue
		}
		start, err1 := strconv.ParseUint(string(span[0]), 16, 64)
		end, err2 := strconv.ParseUint(string(span[1]), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MUNMAP, uintptr(start), uintptr(end-start), 0); errno == 0 {
			n++
		}
	}
	return n
}

// sameDevice reports whether dev (a stat's st_dev) is major:minor, in the
// kernel's encoding of device numbers.
func sameDevice(dev uint64, major, minor uint64) bool {
	return (dev>>8)&0xfff|(dev>>32)&^0xfff == major && dev&0xff|(dev>>12)&^0xff == minor
}

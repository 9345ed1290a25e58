//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procWriteBytes returns write_bytes from /proc/self/io: the bytes this
// process caused to be sent to the storage layer (page-cache writeback
// included). It is zero on file systems without block I/O (tmpfs).
func procWriteBytes() (int64, bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("write_bytes:")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// peakRSS returns VmHWM from /proc/self/status, in bytes: the highest
// resident set size of this process since it started or since the last
// resetPeakRSS.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0
			}
			return n << 10
		}
	}
	return 0
}

// resetPeakRSS resets VmHWM to the current RSS (Linux clear_refs value 5),
// so that a run in a long-lived process measures its own peak. It reports
// whether the kernel accepted it.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// cpuModel returns the "model name" of the first CPU in /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// memTotal returns MemTotal from /proc/meminfo, in bytes.
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			n, _ := strconv.ParseInt(v, 10, 64)
			return n << 10
		}
	}
	return 0
}

// cpuTime returns the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssSplit returns RssAnon and RssFile from /proc/self/status, in bytes:
// the resident memory of the heap and stacks, and the resident pages of
// mapped files (memory-mapped stores, which the kernel may reclaim).
func rssSplit() (anon, file int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		var dst *int64
		switch {
		case strings.HasPrefix(line, "RssAnon:"):
			dst = &anon
		case strings.HasPrefix(line, "RssFile:"):
			dst = &file
		default:
			continue
		}
		v := strings.TrimSpace(line[strings.IndexByte(line, ':')+1:])
		if n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64); err == nil {
			*dst = n << 10
		}
	}
	return anon, file
}

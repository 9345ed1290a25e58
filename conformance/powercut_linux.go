//go:build linux

package conformance

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PowerCut puts a crash test's stores on an ext4 file system of their own,
// on a loop device over an image file, and makes the crash test's kill a
// power cut (CrashOptions.PowerCut):
//
//   - Cut stops the writer (SIGSTOP), waits until it is stopped, copies
//     the image while the loop device is idle — the disk as a power cut
//     at that moment leaves it: what was fsynced, and of the rest only
//     what the kernel happened to write back — and then kills the writer;
//   - Restore, once the writer has exited, unmounts the file system (its
//     page cache, with every write not yet on the disk, goes with it) and
//     mounts the copy in its place, which replays ext4's journal as a
//     reboot would.
//
// A kill -9 loses nothing the process handed to the kernel; a power cut
// loses the writes that were not fsynced, so it is what tests that Sync
// really syncs: a commit that returned must be on the disk.
//
// The copy is known to be one instant of the disk: the loop device's
// counters (/sys/block/loopN/stat) are the same before and after it and
// nothing is in flight; otherwise it is taken again.
//
// What it does not simulate, so what it cannot catch:
//   - a cut in the middle of an fsync: a thread inside fsync stops only
//     when the call returns, so the disk is copied before an fsync or
//     after it, never with a part of its pages written. A protocol that
//     depends on the order of the writes one fsync covers (a commit record
//     written before the data it points to) passes;
//   - torn sectors and a volatile disk cache: every write the loop device
//     has completed is in the copy, flushed or not;
//   - a missing fsync of a directory: on ext4 fsyncing a new file makes
//     its directory entry durable, and any fsync commits the journal with
//     the renames before it.
//
// Unsynced writes mostly stay out of the copy in a short run (the kernel
// writes dirty pages back after 30 s by default); those it wrote back
// are in it, as on a real disk.
type PowerCut struct {
	t     testing.TB
	dir   string // the mount point
	image string // the mounted image
	next  string // the image of the last cut, mounted by Restore
	n     int
	// Cuts and Retakes count the cuts, and the copies taken again
	// because the disk was written meanwhile.
	Cuts, Retakes int
}

// NewPowerCut makes a sparse image of size bytes, formats it as ext4 and
// mounts it on a loop device; the test's cleanup unmounts it. It skips
// the test when that is not possible here (not root, no mkfs.ext4, no
// loop devices, mount refused).
func NewPowerCut(t testing.TB, size int64) *PowerCut {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("power cut: needs root, to mount a loop device")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("power cut: %s not found (Debian: apt-get install e2fsprogs mount)", tool)
		}
	}
	root := t.TempDir()
	p := &PowerCut{t: t, dir: filepath.Join(root, "disk"), image: filepath.Join(root, "disk-0.img")}
	if err := os.Mkdir(p.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p.image)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", p.image).CombinedOutput(); err != nil {
		t.Skipf("power cut: mkfs.ext4: %v: %s", err, out)
	}
	if err := p.mount(); err != nil {
		t.Skipf("power cut: %v", err)
	}
	t.Cleanup(func() {
		if err := p.unmount(); err != nil {
			t.Errorf("power cut: %v", err)
		}
	})
	return p
}

// Dir is the mount point: a directory on the loop device's file system.
func (p *PowerCut) Dir() string { return p.dir }

func (p *PowerCut) mount() error {
	// noauto_da_alloc: ext4 would otherwise write a file's data ahead of
	// a rename or truncate over it, unsynced writes a real disk may lose.
	if out, err := exec.Command("mount", "-t", "ext4", "-o", "loop,noauto_da_alloc", p.image, p.dir).CombinedOutput(); err != nil {
		return fmt.Errorf("mount %s on %s: %v: %s", p.image, p.dir, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// unmount unmounts p.dir, waiting a little while it is busy (a process
// that has just died may still hold a file). If it stays busy (a test that
// failed with a store open), it detaches it lazily, so that no mount is
// left behind, and says so.
func (p *PowerCut) unmount() error {
	var out []byte
	var err error
	for range 50 {
		if out, err = exec.Command("umount", p.dir).CombinedOutput(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	busy := fmt.Errorf("umount %s: %v: %s", p.dir, err, strings.TrimSpace(string(out)))
	if out, err := exec.Command("umount", "-l", p.dir).CombinedOutput(); err != nil {
		return fmt.Errorf("%w; umount -l: %v: %s", busy, err, strings.TrimSpace(string(out)))
	}
	return fmt.Errorf("%w (detached lazily: a file on it was still open)", busy)
}

// Cut stops proc, copies the disk as it is at that moment and kills proc.
// A process that has exited already is fine: the disk is copied as it is.
func (p *PowerCut) Cut(proc *os.Process) error {
	_ = proc.Signal(syscall.SIGSTOP) // an error means it has exited
	if err := waitStopped(proc.Pid); err != nil {
		_ = proc.Kill()
		return err
	}
	dev, err := p.loopDevice()
	if err != nil {
		_ = proc.Kill()
		return err
	}
	p.n++
	next := filepath.Join(filepath.Dir(p.image), "disk-"+strconv.Itoa(p.n)+".img")
	for try := 0; ; try++ {
		before, busy, err := diskCounters(dev)
		if err == nil && !busy {
			err = copySparse(p.image, next)
			var after string
			if err == nil {
				after, busy, err = diskCounters(dev)
			}
			if err == nil && !busy && after == before {
				break
			}
		}
		if err != nil || try == 100 {
			_ = proc.Kill()
			if err == nil {
				err = errors.New("the disk never stayed idle for a whole copy")
			}
			return fmt.Errorf("power cut: copy of %s: %w", p.image, err)
		}
		p.Retakes++
		time.Sleep(20 * time.Millisecond)
	}
	p.next = next
	p.Cuts++
	_ = proc.Kill() // SIGKILL ends a stopped process too
	return nil
}

// Restore replaces the mounted file system by the copy of the last cut,
// if there was one; the writer must have exited.
func (p *PowerCut) Restore() error {
	if p.next == "" {
		return nil
	}
	if err := p.unmount(); err != nil {
		return err
	}
	old := p.image
	p.image, p.next = p.next, ""
	if err := os.Remove(old); err != nil {
		return err
	}
	return p.mount()
}

// waitStopped waits until every thread of pid is stopped (a thread in
// the middle of a system call, an fsync say, stops when it returns from
// it), a zombie, or gone.
func waitStopped(pid int) error {
	deadline := time.Now().Add(30 * time.Second)
	tasks := "/proc/" + strconv.Itoa(pid) + "/task"
	for {
		ents, err := os.ReadDir(tasks)
		if err != nil {
			return nil // gone
		}
		running := ""
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(tasks, e.Name(), "stat"))
			if err != nil {
				continue // that thread is gone
			}
			// The state is the field after the command name in parentheses.
			s := string(b)
			if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
				switch s[i+2] {
				case 'T', 't', 'Z', 'X':
					continue
				}
			}
			running = s
			break
		}
		if running == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("power cut: process %d not stopped after 30s: %s", pid, running)
		}
		time.Sleep(time.Millisecond)
	}
}

// loopDevice names the block device mounted on p.dir ("loop3").
func (p *PowerCut) loopDevice() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[4] != p.dir {
			continue
		}
		// After the optional fields and "-": type, source, options.
		for i, x := range fields {
			if x == "-" && i+2 < len(fields) {
				return filepath.Base(fields[i+2]), nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("power cut: %s is not mounted", p.dir)
}

// diskCounters returns the block device's I/O counters and whether a
// request is in flight.
func diskCounters(dev string) (stat string, busy bool, err error) {
	b, err := os.ReadFile("/sys/block/" + dev + "/stat")
	if err != nil {
		return "", false, err
	}
	in, err := os.ReadFile("/sys/block/" + dev + "/inflight")
	if err != nil {
		return "", false, err
	}
	for _, f := range strings.Fields(string(in)) {
		if f != "0" {
			busy = true
		}
	}
	return string(b), busy, nil
}

// copySparse copies the image src to dst, keeping its holes.
func copySparse(src, dst string) error {
	if out, err := exec.Command("cp", "--sparse=always", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

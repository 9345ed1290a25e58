package badger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/polykv/polykv/kv"
)

// Group commit under kv.Sync (kv.SyncDeferrer).
//
// Badger's own SyncWrites syncs the memtable's write-ahead log once per
// write request, so sixteen concurrent commits pay sixteen syncs one after
// the other. Instead, the store runs Badger without SyncWrites and makes
// commits durable here, together: a commit is applied (visible to every
// later read, as kv's writer lock needs) and then waits for a sync that
// began after it; one sync covers every commit applied before it began, so
// the commits that wait while a sync runs share the next one.
//
// What one sync does: an fsync of the newest memtable log (.mem) and
// value-log file (.vlog), of each older one that stopped taking writes since
// the last sync (Badger rotates its memtable when it is full, and does not
// sync the old log without SyncWrites), and of the directory when such
// files appeared. Badger's logs are append-only with a checksum per entry,
// and replay stops at the first damaged one, so the commits that survive a
// crash stay a prefix of the applied ones.
//
// Badger's own DB.Sync would do the same for the two newest logs, but it
// holds Badger's DB lock while it syncs the memtable's log, and Badger's
// write goroutine takes that lock before every write to a memtable
// (ensureRoomForWrite): every commit would wait for the sync in progress,
// so no commit could be applied while a sync runs and each sync would
// cover one or two commits. An fsync through a descriptor of our own
// flushes the same pages (the logs are shared memory maps of the files;
// Linux's msync(MS_SYNC), which Badger uses, is an fsync of the range)
// and takes no lock of Badger's, so commits go on while it runs.
// Measured with copy-status --sync (16 workers, 20,000 files, one run
// each, 2026-12-05): see the commit that made this change.
//
// A failed sync is sticky: the engine refuses every later write (the wait
// of every commit after it returns the error), as kv.SyncDeferrer asks.
type groupSync struct {
	e *engine
	// applied counts commits applied; a commit's ticket is the count
	// after it.
	applied atomic.Uint64

	mu      sync.Mutex
	cond    *sync.Cond
	synced  uint64 // every ticket up to this one is durable
	running bool   // a sync is in progress (outside mu)
	err     error  // the sticky failure
	// closedLogs are the rotated logs already synced after they stopped
	// taking writes, by file name; known are all logs seen, to spot new
	// files (whose directory entry needs a sync).
	closedLogs map[string]bool
	known      map[string]bool
	// beforeSync, when set (tests only, before the first commit), runs at
	// the start of each sync; beforeFsync before each log's fsync.
	beforeSync  func()
	beforeFsync func(name string)
	// syncFault, when set (tests only), is the result of each sync that
	// succeeded: a failed fsync without a failing disk.
	syncFault func() error
}

func newGroupSync(e *engine) *groupSync {
	g := &groupSync{e: e, closedLogs: make(map[string]bool), known: make(map[string]bool)}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// ticket registers a commit just applied and returns its ticket.
func (g *groupSync) ticket() uint64 { return g.applied.Add(1) }

// failed returns the sticky failure, if any.
func (g *groupSync) failed() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// wait returns once every commit up to ticket t is durable, running a sync
// itself when none is running, or with the sticky error.
func (g *groupSync) wait(t uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.synced < t && g.err == nil {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		target := g.applied.Load() // every commit applied before the sync starts
		g.mu.Unlock()
		err := g.syncNow()
		g.mu.Lock()
		g.running = false
		if err != nil && g.err == nil {
			g.err = err
		}
		if err == nil && target > g.synced {
			g.synced = target
		}
		g.cond.Broadcast()
	}
	if g.synced >= t {
		// Durable before the failure: a waiter woken by the sync that
		// covered it can get mu back only after a later sync has failed,
		// and that failure is not this commit's.
		return nil
	}
	return g.err
}

// syncNow makes everything written so far durable; one goroutine at a time.
func (g *groupSync) syncNow() error {
	if g.beforeSync != nil {
		g.beforeSync()
	}
	err := g.syncLogs()
	if err == nil && g.syncFault != nil {
		err = g.syncFault()
	}
	if err != nil {
		// Sticky: the commits it leaves undurable are visible, so no later
		// commit may be acknowledged on top of them (kv.SyncDeferrer).
		return fmt.Errorf("kv: badger: sync %s: %w: %w", g.e.dir, kv.ErrNeedsReopen, kv.Fault(err))
	}
	return nil
}

// syncLogs fsyncs the newest .mem and .vlog files, each older one once
// (after it stopped taking writes), and the directory when a log appeared
// since the last look. A log deleted meanwhile was flushed into a table,
// which Badger synced.
func (g *groupSync) syncLogs() error {
	entries, err := os.ReadDir(g.e.dir)
	if err != nil {
		return err
	}
	newest := map[string]uint64{}
	type log struct {
		name, ext string
		fid       uint64
	}
	var logs []log
	for _, de := range entries {
		name := de.Name()
		ext := filepath.Ext(name)
		if ext != ".mem" && ext != ".vlog" {
			continue
		}
		fid, err := strconv.ParseUint(strings.TrimSuffix(name, ext), 10, 64)
		if err != nil {
			continue
		}
		logs = append(logs, log{name, ext, fid})
		newest[ext] = max(newest[ext], fid)
	}
	appeared := false
	seen := make(map[string]bool, len(logs))
	for _, l := range logs {
		seen[l.name] = true
		if !g.known[l.name] {
			g.known[l.name] = true
			appeared = true
		}
		if g.closedLogs[l.name] {
			continue
		}
		if g.beforeFsync != nil {
			g.beforeFsync(l.name)
		}
		if err := fsyncFile(filepath.Join(g.e.dir, l.name)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // flushed into a table (synced by Badger) and removed
			}
			return err
		}
		if l.fid != newest[l.ext] {
			g.closedLogs[l.name] = true
		}
	}
	for name := range g.known {
		if !seen[name] {
			delete(g.known, name)
			delete(g.closedLogs, name)
		}
	}
	if appeared {
		return fsyncFile(g.e.dir)
	}
	return nil
}

package pebble

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable/block"
	"github.com/polykv/polykv/kv"
)

// FormatMajorVersion is the Pebble on-disk format this package creates and
// ratchets stores to. It is pinned (not pebble.FormatNewest, which moves
// with every Pebble release) so that the format of a store changes only
// when this constant does, in a release that says so. Later Pebble builds
// read it; an older one that does not know it refuses to open the store.
const FormatMajorVersion = pebble.FormatValueSeparation

// Memory budget split (see the package documentation).
const (
	minMemTableSize = 4 << 20
	maxMemTableSize = 128 << 20
	// memTableStopWrites is Pebble's MemTableStopWritesThreshold: writes
	// stall when this many memtables are queued for flushing.
	memTableStopWrites = 2
)

// Option keys accepted in kv.Config.Options. Values are decimal integers
// unless said otherwise.
const (
	// OptCompression is the sstable block compression: "snappy" (default),
	// "none", "zstd", "minlz", "balanced" (fast in the upper levels, zstd at
	// the bottom) or "good" (stronger zstd at the bottom).
	OptCompression = "compression"
	// OptBloomBitsPerKey is the bits per key of the sstables' bloom filters,
	// which let a Get skip tables that lack the key; 0 disables them.
	// Default 10 (about 1% false positives).
	OptBloomBitsPerKey = "bloom_bits_per_key"
	// OptBytesPerSync makes Pebble sync sstables in the background every
	// this many bytes written, to smooth out I/O. Default 524288 (512 KiB).
	OptBytesPerSync = "bytes_per_sync"
	// OptWALBytesPerSync does the same for the WAL. Default 0 (off). It is
	// not a durability setting: durability is kv.Config.Durability.
	OptWALBytesPerSync = "wal_bytes_per_sync"
	// OptL0CompactionThreshold is how many L0 sublevels trigger a
	// compaction. Default 4.
	OptL0CompactionThreshold = "l0_compaction_threshold"
	// OptL0StopWritesThreshold is how many L0 sublevels stall writes.
	// Default 12.
	OptL0StopWritesThreshold = "l0_stop_writes_threshold"
	// OptMaxConcurrentCompactions is the most compactions Pebble runs at
	// once. Default 1.
	OptMaxConcurrentCompactions = "max_concurrent_compactions"
	// OptMaxOpenFiles is a soft limit on the files Pebble keeps open.
	// Default 1000.
	OptMaxOpenFiles = "max_open_files"
	// OptFreeSpaceReserve is the free space, a size ("512MiB"), below
	// which commits fail with kv.ErrNoSpace, so that Pebble's own flushes
	// and compactions keep room (see FreeSpaceReserve). Default:
	// (max queued memtables + 1 + l0_compaction_threshold) memtables and
	// 64 MiB of log space, 512 MiB at the default budget; 0 turns the
	// check off.
	OptFreeSpaceReserve = "free_space_reserve"
)

// settings are the parsed Config.Options.
type settings struct {
	compression         string
	bloomBitsPerKey     int
	bytesPerSync        int
	walBytesPerSync     int
	l0CompactionThresh  int
	l0StopWritesThresh  int
	maxConcurrentCompac int
	maxOpenFiles        int
	// freeSpaceReserve: -1 until set, then the option's size.
	freeSpaceReserve int64
}

func defaultSettings() settings {
	return settings{
		compression:         "snappy",
		bloomBitsPerKey:     10,
		bytesPerSync:        512 << 10,
		walBytesPerSync:     0,
		l0CompactionThresh:  4,
		l0StopWritesThresh:  12,
		maxConcurrentCompac: 1,
		maxOpenFiles:        1000,
		freeSpaceReserve:    -1,
	}
}

// reserve is the free space commits keep for Pebble's own writes with a
// memory budget: the option's, or room for the flush of every memtable
// Pebble may hold (memTableStopWrites queued and the mutable one), an L0
// compaction of l0_compaction_threshold memtables' worth, and two of the
// engine's reservations of log space (the current log's next, the next
// log's first: walreserve.go), so that commits stop at the reserve before
// a log reservation is refused.
func (s settings) reserve(budget int64) int64 {
	if s.freeSpaceReserve >= 0 {
		return s.freeSpaceReserve
	}
	return int64(memTableStopWrites+1+s.l0CompactionThresh)*int64(memTableSize(budget)) + 2*walReserveChunk
}

// intOption describes one integer option: where it goes and its range.
type intOption struct {
	dst      func(*settings) *int
	min, max int
}

var intOptions = map[string]intOption{
	OptBloomBitsPerKey:          {func(s *settings) *int { return &s.bloomBitsPerKey }, 0, 32},
	OptBytesPerSync:             {func(s *settings) *int { return &s.bytesPerSync }, 4096, 1 << 30},
	OptWALBytesPerSync:          {func(s *settings) *int { return &s.walBytesPerSync }, 0, 1 << 30},
	OptL0CompactionThreshold:    {func(s *settings) *int { return &s.l0CompactionThresh }, 1, 1000},
	OptL0StopWritesThreshold:    {func(s *settings) *int { return &s.l0StopWritesThresh }, 1, 1000},
	OptMaxConcurrentCompactions: {func(s *settings) *int { return &s.maxConcurrentCompac }, 1, 64},
	OptMaxOpenFiles:             {func(s *settings) *int { return &s.maxOpenFiles }, 16, 1 << 20},
}

// compressions maps the accepted compression names onto Pebble's settings.
var compressions = map[string]func() pebble.DBCompressionSettings{
	"none": func() pebble.DBCompressionSettings { return pebble.DBCompressionNone },
	"snappy": func() pebble.DBCompressionSettings {
		return pebble.UniformDBCompressionSettings(block.SnappyCompression)
	},
	"zstd": func() pebble.DBCompressionSettings { return pebble.UniformDBCompressionSettings(block.ZstdCompression) },
	"minlz": func() pebble.DBCompressionSettings {
		return pebble.UniformDBCompressionSettings(block.MinLZCompression)
	},
	"balanced": func() pebble.DBCompressionSettings { return pebble.DBCompressionBalanced },
	"good":     func() pebble.DBCompressionSettings { return pebble.DBCompressionGood },
}

// OptionKeys returns the keys accepted in kv.Config.Options, sorted.
func OptionKeys() []string {
	keys := []string{OptCompression, OptFreeSpaceReserve}
	for k := range intOptions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parseSettings validates opts. An unknown key is an error naming it and
// listing the accepted ones.
func parseSettings(opts map[string]string) (settings, error) {
	s := defaultSettings()
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same first error every time
	for _, k := range keys {
		v := strings.TrimSpace(opts[k])
		if k == OptCompression {
			name := strings.ToLower(v)
			if _, ok := compressions[name]; !ok {
				return s, fmt.Errorf("%w: pebble option %s=%q: want one of %s",
					kv.ErrInvalidConfig, k, v, strings.Join(compressionNames(), ", "))
			}
			s.compression = name
			continue
		}
		if k == OptFreeSpaceReserve {
			n, err := kv.ParseSize(v)
			if err != nil || n < 0 {
				return s, fmt.Errorf("%w: pebble option %s=%q: want a size such as 512MiB, or 0 to turn the check off",
					kv.ErrInvalidConfig, k, v)
			}
			s.freeSpaceReserve = n
			continue
		}
		o, ok := intOptions[k]
		if !ok {
			return s, fmt.Errorf("%w: pebble option %q is unknown (accepted: %s)",
				kv.ErrInvalidConfig, k, strings.Join(OptionKeys(), ", "))
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < o.min || n > o.max {
			return s, fmt.Errorf("%w: pebble option %s=%q: want an integer from %d to %d",
				kv.ErrInvalidConfig, k, v, o.min, o.max)
		}
		*o.dst(&s) = n
	}
	if s.l0StopWritesThresh < s.l0CompactionThresh {
		return s, fmt.Errorf("%w: pebble option %s=%d is below %s=%d: writes would stall before L0 is compacted",
			kv.ErrInvalidConfig, OptL0StopWritesThreshold, s.l0StopWritesThresh, OptL0CompactionThreshold, s.l0CompactionThresh)
	}
	return s, nil
}

func compressionNames() []string {
	names := make([]string, 0, len(compressions))
	for n := range compressions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// memTableSize is the memtable size for a memory budget: a quarter of it,
// between minMemTableSize and maxMemTableSize.
func memTableSize(budget int64) uint64 {
	return uint64(min(max(budget/4, minMemTableSize), maxMemTableSize))
}

// writeOptions maps kv's durability onto Pebble's commit options.
func writeOptions(d kv.Durability) *pebble.WriteOptions {
	if d == kv.NoSync {
		return pebble.NoSync
	}
	return pebble.Sync
}

// pebbleOptions builds the Options for a store; the caller sets Cache,
// Logger and EventListener.
func pebbleOptions(cfg *kv.Config, s settings) *pebble.Options {
	o := &pebble.Options{
		FormatMajorVersion:          FormatMajorVersion,
		ReadOnly:                    cfg.ReadOnly,
		MemTableSize:                memTableSize(cfg.MemoryBudget),
		MemTableStopWritesThreshold: memTableStopWrites,
		BytesPerSync:                s.bytesPerSync,
		WALBytesPerSync:             s.walBytesPerSync,
		L0CompactionThreshold:       s.l0CompactionThresh,
		L0StopWritesThreshold:       s.l0StopWritesThresh,
		MaxOpenFiles:                s.maxOpenFiles,
	}
	n := s.maxConcurrentCompac
	o.CompactionConcurrencyRange = func() (int, int) { return 1, n }
	if s.bloomBitsPerKey > 0 {
		// L1 and below inherit L0's filter policy.
		o.Levels[0].FilterPolicy = bloom.FilterPolicy(s.bloomBitsPerKey)
	}
	o.ApplyCompressionSettings(compressions[s.compression])
	return o
}

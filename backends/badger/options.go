package badger

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/skl"

	"github.com/polykv/polykv/kv"
)

// Sizes of the Badger configuration that polykv chooses. They are chosen
// for memory first: a migration process holds the store beside its own
// data, and Badger's defaults (5 memtables of 64 MiB, a 256 MiB block
// cache, 4 compactors) use several times kv.DefaultMemoryBudget.
const (
	// DefaultMemTableSize is the size of one memtable: the smallest
	// accepted (MinMemTableSize). Badger allocates each memtable's arena up
	// front at 1.3 times this size (memtableFootprint) and builds its level-0
	// table in memory when it flushes it (flushFootprint), so every MiB here
	// costs about 6 MiB of the budget. Badger's default is 64 MiB.
	DefaultMemTableSize = MinMemTableSize
	// MinMemTableSize is the smallest memtable_size accepted, a round size
	// above the smallest (about 53.4 MiB) for which Badger's transaction
	// limits stay above kv's (checkTxnLimits).
	MinMemTableSize = 56 << 20
	// DefaultNumCompactors is Badger's smallest working number of
	// compaction goroutines (1 is refused, 0 stops compaction). Each
	// compaction builds its output tables in memory, several at a time;
	// Badger's default of 4 holds twice as many builders and, on a machine
	// with few cores, only competes with the writer for the CPU.
	DefaultNumCompactors = 2
	// maxNumMemtables caps the memtables the budget buys; more memtables
	// only buffer more writes and make reads check more tables.
	maxNumMemtables = 5
	// minCache is the smallest block cache: Badger needs one when
	// compression is on.
	minCache = 1 << 20
	// maxValueThreshold is Badger's own upper limit for ValueThreshold.
	maxValueThreshold = 1 << 20
	// finEntrySlack bounds what Badger adds to a transaction's batch on
	// top of its writes: the "!badger!txn" end marker, with an 8-byte
	// commit timestamp as value, and its metadata.
	finEntrySlack = 64
)

// DefaultPrefetchSize is how many values an iterator that loads values
// reads ahead (Badger's IteratorOptions.PrefetchSize). 0 turns prefetching
// off; see the prefetch_size option.
const DefaultPrefetchSize = 0

// optionDoc lists the keys accepted in kv.Config.Options, with what they
// take. Sizes are a number of bytes, optionally followed by KiB, MiB or
// GiB ("64MiB").
var optionDoc = map[string]string{
	"compression":           "none | snappy (default) | zstd: block compression of the LSM tables",
	"zstd_level":            "1 (default) to 22: zstd compression level, with compression=zstd",
	"value_threshold":       "size, 0 to 1MiB (default 1MiB): values of at least this size go to the value log",
	"memtable_size":         "size, 56MiB (default) to 1GiB: one memtable",
	"num_memtables":         "1 to 16 (default: from the memory budget): memtables kept before writes stall",
	"block_cache_size":      "size (default: from the memory budget): cache of LSM blocks; 0 only with compression=none",
	"index_cache_size":      "size (default: from the memory budget): cache of table indexes and bloom filters; 0 keeps every index in memory, unbounded",
	"num_compactors":        "0 or 2 (default) to 16: compaction goroutines",
	"value_log_file_size":   "size, 16MiB to 2GiB-1 (default 1GiB-1): one value-log file",
	"checksum_verification": "block (default) | none: whether every block read from an LSM table verifies its checksum",
	"verify_on_open":        "true (default) | false: verify the checksums of every LSM table when the store is opened",
	"verify_value_checksum": "true | false (default): verify value checksums on every read from the value log",
	"compact_l0_on_close":   "true | false (default): flush level 0 into level 1 on Close",
	"prefetch_size":         "0 (default, no prefetch) to 10000: values an iterator reads ahead, one goroutine each",
	"free_space_reserve":    "size (default: (num_memtables + 7) × memtable_size, 448MiB by default): commits fail with kv.ErrNoSpace when they would leave less free on the file system, and a writable open is refused with less free; 0 turns the check off",
}

func acceptedOptions() string {
	names := make([]string, 0, len(optionDoc))
	for k := range optionDoc {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// settings is what the driver derives from a kv.Config.
type settings struct {
	opts             badger.Options
	prefetchSize     int
	verifyOnOpen     bool
	freeSpaceReserve int64
}

// memtableFootprint is the memory one memtable holds: Badger allocates
// its skiplist arena up front (db.go, arenaSize) at memTableSize plus room
// for the largest batch (15% of memTableSize) and for that batch's nodes
// (as many again), 1.3 times memTableSize in all.
func memtableFootprint(memTableSize int64) int64 {
	maxBatchSize := 15 * memTableSize / 100
	maxBatchCount := maxBatchSize / int64(skl.MaxNodeSize)
	return memTableSize + maxBatchSize + maxBatchCount*int64(skl.MaxNodeSize)
}

// flushFootprint is the least memory Badger's flush of one memtable holds
// while the memtable itself is still in memory: the level-0 table is built
// whole in memory (db.go, buildL0Table; table/builder.go) before it is
// written, its blocks uncompressed (up to memTableSize) and, when
// compression is on, a compressed copy of each block in a buffer sized for
// the worst case (as large again). The builder's allocator grows by
// doubling and Badger pools up to 8 of them, so the real figure can reach
// twice this; it is the part of the budget that counts it at all.
func flushFootprint(memTableSize int64, compressed bool) int64 {
	if compressed {
		return 2 * memTableSize
	}
	return memTableSize
}

// budgetSplit divides a memory budget between Badger's memtables, the
// flush of one of them, and Badger's two caches:
//
//   - NumMemtables is how many memtables queue for flushing (Badger's
//     flush channel), between 1 and 5. Up to NumMemtables+2 are in memory
//     at once: the one taking writes, those queued, and the one being
//     flushed (taken off the queue when its flush starts, freed when it
//     ends), each of memtableFootprint, plus flushFootprint for the flush.
//     NumMemtables is the most for which that leaves an eighth of the
//     budget to the caches; at least 1 (0 would let Badger's writer wait
//     for a flush that already ended).
//   - the caches get what is left, but at least an eighth of the budget:
//     two thirds to the block cache, one third to the index cache.
//
// With the default 56 MiB memtable and compression, the fixed part (three
// arenas of 72.8 MiB and a 112 MiB flush, 330.4 MiB) exceeds budgets below
// about 378 MiB, kv.DefaultMemoryBudget included: the split is then one
// queued memtable and an eighth of the budget for the caches (32 MiB at
// 256 MiB), and Badger uses more than the budget. A smaller memtable would
// lower Badger's transaction limit below kv's (checkTxnLimits), and fewer
// memtables deadlock Badger's writer.
func budgetSplit(budget, memTableSize int64, compressed bool) (numMemtables int, blockCache, indexCache int64) {
	mem := memtableFootprint(memTableSize)
	flush := flushFootprint(memTableSize, compressed)
	minCaches := max(budget/8, 2*minCache)
	n := (budget-minCaches-flush)/mem - 2
	n = max(1, min(n, maxNumMemtables))
	caches := max(budget-(n+2)*mem-flush, minCaches)
	blockCache = max(caches*2/3, minCache)
	indexCache = max(caches-blockCache, minCache)
	return int(n), blockCache, indexCache
}

// checkTxnLimits returns an error unless every transaction kv accepts fits
// Badger's limits for the given memtable size, so that badger.ErrTxnTooBig
// never reaches a user.
//
// Badger (db.go, checkAndSetOptions) derives maxBatchSize = 15% of
// MemTableSize and maxBatchCount = maxBatchSize / skl.MaxNodeSize, and
// txn.checkSize fails when count >= maxBatchCount or size >= maxBatchSize,
// where size sums, per write, len(key)+len(value)+2 for a value kept in
// the LSM tree or len(key)+14 for one in the value log, plus 10. The
// stored key is at most one byte longer than the user's (keys.go), so one
// write costs Badger at most len(key)+len(value)+13 or len(key)+25 bytes,
// both below kv's EntrySize (len(key)+len(value)+32): a batch of at most
// kv.MaxTxnBytes is at most kv.MaxTxnBytes for Badger too. The commit
// checks again (db.sendToWriteCh) with an 8-byte timestamp on each key and
// no +10, which is less, plus one end-of-transaction entry (finEntrySlack).
func checkTxnLimits(memTableSize int64) error {
	maxBatchSize := 15 * memTableSize / 100
	maxBatchCount := maxBatchSize / int64(skl.MaxNodeSize)
	if maxBatchCount <= kv.MaxTxnOps+1 {
		return fmt.Errorf("%w: badger: memtable_size %d allows %d writes per transaction, kv needs more than %d",
			kv.ErrInvalidConfig, memTableSize, maxBatchCount, kv.MaxTxnOps+1)
	}
	if maxBatchSize <= kv.MaxTxnBytes+finEntrySlack {
		return fmt.Errorf("%w: badger: memtable_size %d allows %d bytes per transaction, kv needs more than %d (memtable_size at least %d)",
			kv.ErrInvalidConfig, memTableSize, maxBatchSize, kv.MaxTxnBytes+finEntrySlack, int64(MinMemTableSize))
	}
	return nil
}

// buildSettings validates cfg (its Options above all) and derives
// Badger's options for the store in dir.
func buildSettings(dir string, cfg *kv.Config) (settings, error) {
	o := badger.DefaultOptions(dir)
	o.Logger = newLogger(cfg.Logger)
	// kv.Sync is kept by the engine's group sync (groupsync.go), which
	// shares one sync among concurrent commits; Badger's SyncWrites would
	// sync once per commit.
	o.SyncWrites = false
	o.ReadOnly = cfg.ReadOnly
	// kv.DB serializes writers and Update reads the latest committed state
	// under the writer lock: Badger's conflict detection has nothing to
	// find and only costs memory.
	o.DetectConflicts = false
	// Badger's metrics are process-global expvars keyed by directory.
	o.MetricsEnabled = false
	o.MemTableSize = DefaultMemTableSize
	o.NumCompactors = DefaultNumCompactors
	o.Compression = options.Snappy
	o.ChecksumVerificationMode = DefaultChecksumVerification

	s := settings{prefetchSize: DefaultPrefetchSize, verifyOnOpen: true}
	var (
		numMemtables, zstdLevel  int
		blockCache, indexCache   int64
		haveBlock, haveIndex     bool
		haveNumMemtables, isZstd bool
		reserve                  int64 = -1
	)
	keys := make([]string, 0, len(cfg.Options))
	for k := range cfg.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the first bad key deterministically
	for _, k := range keys {
		v := strings.TrimSpace(cfg.Options[k])
		bad := func(err error) error {
			return fmt.Errorf("%w: badger: option %s=%q: %v (want %s)", kv.ErrInvalidConfig, k, cfg.Options[k], err, optionDoc[k])
		}
		var err error
		switch k {
		case "compression":
			switch strings.ToLower(v) {
			case "none":
				o.Compression = options.None
			case "snappy":
				o.Compression = options.Snappy
			case "zstd":
				o.Compression = options.ZSTD
				isZstd = true
			default:
				return s, bad(fmt.Errorf("unknown compression"))
			}
		case "zstd_level":
			zstdLevel, err = parseInt(v, 1, 22)
		case "value_threshold":
			o.ValueThreshold, err = parseSize(v, 0, maxValueThreshold)
		case "memtable_size":
			o.MemTableSize, err = parseSize(v, MinMemTableSize, 1<<30)
		case "num_memtables":
			numMemtables, err = parseInt(v, 1, 16)
			haveNumMemtables = true
		case "block_cache_size":
			blockCache, err = parseSize(v, 0, math.MaxInt64)
			haveBlock = true
		case "index_cache_size":
			indexCache, err = parseSize(v, 0, math.MaxInt64)
			haveIndex = true
		case "num_compactors":
			o.NumCompactors, err = parseInt(v, 0, 16)
			if err == nil && o.NumCompactors == 1 {
				err = fmt.Errorf("badger needs 0 or at least 2 compactors")
			}
		case "value_log_file_size":
			o.ValueLogFileSize, err = parseSize(v, 16<<20, 2<<30-1)
		case "checksum_verification":
			o.ChecksumVerificationMode, err = parseChecksumMode(v)
		case "verify_on_open":
			s.verifyOnOpen, err = strconv.ParseBool(v)
		case "verify_value_checksum":
			o.VerifyValueChecksum, err = strconv.ParseBool(v)
		case "compact_l0_on_close":
			o.CompactL0OnClose, err = strconv.ParseBool(v)
		case "prefetch_size":
			s.prefetchSize, err = parseInt(v, 0, 10000)
		case "free_space_reserve":
			reserve, err = parseSize(v, 0, math.MaxInt64)
		default:
			return s, fmt.Errorf("%w: badger: unknown option %q (accepted: %s)", kv.ErrInvalidConfig, k, acceptedOptions())
		}
		if err != nil {
			return s, bad(err)
		}
	}
	if zstdLevel != 0 {
		if !isZstd {
			return s, fmt.Errorf("%w: badger: option zstd_level needs compression=zstd", kv.ErrInvalidConfig)
		}
		o.ZSTDCompressionLevel = zstdLevel
	}
	if err := checkTxnLimits(o.MemTableSize); err != nil {
		return s, err
	}
	n, bc, ic := budgetSplit(cfg.MemoryBudget, o.MemTableSize, o.Compression != options.None)
	if !haveNumMemtables {
		numMemtables = n
	}
	if !haveBlock {
		blockCache = bc
	}
	if !haveIndex {
		indexCache = ic
	}
	if blockCache == 0 && o.Compression != options.None {
		// Badger panics when opened like this.
		return s, fmt.Errorf("%w: badger: option block_cache_size=0 needs compression=none", kv.ErrInvalidConfig)
	}
	o.NumMemtables = numMemtables
	if reserve < 0 {
		reserve = defaultFreeSpaceReserve(numMemtables, o.MemTableSize)
	}
	s.freeSpaceReserve = reserve
	o.BlockCacheSize = blockCache
	o.IndexCacheSize = indexCache
	s.opts = o
	return s, nil
}

// DefaultChecksumVerification is which reads of an LSM table verify its
// checksums: every block read from disk (Badger's OnBlockRead). Badger's own
// default verifies nothing: a damaged block then decodes into wrong keys and
// values. Badger's OnTableRead modes, which verify each table as Badger
// opens it, are not offered: Badger 4.9 dereferences a nil block when that
// verification fails, in a goroutine of its own, which ends the process;
// verify_on_open does that verification in the caller's goroutine instead.
const DefaultChecksumVerification = options.OnBlockRead

// parseChecksumMode parses the checksum_verification option.
func parseChecksumMode(v string) (options.ChecksumVerificationMode, error) {
	switch strings.ToLower(v) {
	case "block":
		return options.OnBlockRead, nil
	case "none":
		return options.NoVerification, nil
	}
	return 0, fmt.Errorf("unknown checksum verification mode")
}

func parseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("not an integer")
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("out of range")
	}
	return n, nil
}

// parseSize parses a number of bytes, optionally followed by KiB, MiB or
// GiB (case-insensitive), and checks lo <= n <= hi.
func parseSize(s string, lo, hi int64) (int64, error) {
	mult := int64(1)
	low := strings.ToLower(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}} {
		if strings.HasSuffix(low, u.suffix) {
			mult = u.mult
			s = strings.TrimSpace(s[:len(s)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a size in bytes (a number, optionally followed by KiB, MiB or GiB)")
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("out of range")
	}
	n *= mult
	if n < lo || n > hi {
		return 0, fmt.Errorf("out of range")
	}
	return n, nil
}

// MemorySplit returns how the driver divides a memory budget (0 means
// kv.DefaultMemoryBudget) between Badger's memtables and caches when no
// option overrides it (default memtable size, compression on): the number
// of memtables queued for flushing, the size of each, and the block and
// index cache sizes. Each memtable holds 1.3 times its size in memory, and
// up to two more than the number returned are in memory at once; see the
// package documentation.
func MemorySplit(budget int64) (numMemtables int, memTableSize, blockCache, indexCache int64) {
	if budget == 0 {
		budget = kv.DefaultMemoryBudget
	}
	n, bc, ic := budgetSplit(budget, DefaultMemTableSize, true)
	return n, DefaultMemTableSize, bc, ic
}

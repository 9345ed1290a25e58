package bbolt

import (
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/polykv/polykv/kv"
)

// Keys accepted in kv.Config.Options. Any other key is an error wrapping
// kv.ErrInvalidConfig that names it and lists these.
const (
	// OptInitialMmapSize is the address space, in bytes, bbolt maps when
	// the store opens: "0" (bbolt's own default, the file size rounded up),
	// a number of bytes, or a size with a unit (KiB, MiB, GiB, TiB; KB, MB,
	// GB, TB are read as the same powers of two). Default:
	// DefaultInitialMmapSize. It is only address space, not memory: pages
	// are read on demand and belong to the OS page cache. As long as the
	// file stays below it, a write never has to remap the file, which is
	// what lets a write run while an iteration is open (see the package
	// documentation, "Writing while iterating").
	OptInitialMmapSize = "initial_mmap_size"
	// OptFreelist is bbolt's free-page list: "hashmap" (default; "map" is
	// accepted too) or "array". The hashmap stays fast when a large store
	// is fragmented; array is bbolt's historical default and always reuses
	// the lowest free page.
	OptFreelist = "freelist"
	// OptNoFreelistSync: "true" skips writing the free-page list at each
	// commit (faster commits, as etcd does) at the price of a scan of the
	// whole file at every open to rebuild it. Default "false". It does not
	// change what survives a crash.
	OptNoFreelistSync = "no_freelist_sync"
	// OptPageSize is the page size of a new store in bytes: a power of two
	// from 1024 to 65536. Default: the OS page size. Ignored when the file
	// exists (bbolt reads it from the file).
	OptPageSize = "page_size"
	// OptLockTimeout is how long Open waits for bbolt's own lock on the
	// data file (a Go duration such as "1s"; must be positive). Default
	// DefaultLockTimeout. polykv's directory lock is taken first, so this
	// wait only matters when a program other than polykv (the bbolt
	// command, another library) holds the file; past it, Open fails with
	// kv.ErrLocked instead of waiting forever as bbolt would.
	OptLockTimeout = "lock_timeout"
	// OptResidentLimit bounds how much of the data file this process keeps
	// mapped in its page tables, the part of the file counted in the
	// process's RSS: a size (as for OptInitialMmapSize), or "0" or "off"
	// to let the mapping grow to the whole file. Default: the store's
	// Config.MemoryBudget (kv.DefaultMemoryBudget, 256 MiB, unless set),
	// since bbolt has no cache of its own for the budget to size. Linux
	// only (it reads /proc/self/statm); elsewhere, or without /proc, it is
	// accepted and does nothing (Stats reports resident_limit 0). See the
	// package documentation, "Memory budget", for what it does and costs.
	OptResidentLimit = "resident_limit"
)

// DefaultLockTimeout is the default for OptLockTimeout.
const DefaultLockTimeout = time.Second

// DefaultInitialMmapSize is the default for OptInitialMmapSize: 256 GiB of
// address space on 64-bit Unix systems, and 0 (bbolt's default) elsewhere:
// 32-bit systems have little address space, and on Windows bbolt grows the
// file itself to the mapped size. On 64-bit Unix the mapping costs nothing
// until pages are read (a shared read-only mapping of a file is not
// charged as memory, even under strict overcommit), and 256 GiB is far
// beyond the file of a traversal of tens of millions of nodes (about 1.1
// GiB per million): etcd maps 10 GiB for the same reason, and this backend
// mapped 16 GiB until a file of 16 million nodes proved reachable. A
// process has about 128 TiB of address space, so some 500 stores can be
// open at once; past that, Open falls back to smaller mappings.
var DefaultInitialMmapSize = defaultInitialMmapSize()

func defaultInitialMmapSize() int {
	if bits.UintSize != 64 || runtime.GOOS == "windows" {
		return 0
	}
	return 256 << 30
}

// minFallbackMmapSize is the smallest mapping Open retries with when the
// default mapping is refused (RLIMIT_AS, vm.overcommit settings): below it
// Open falls back to bbolt's own default (0).
const minFallbackMmapSize = 1 << 30

var acceptedOptions = []string{OptFreelist, OptInitialMmapSize, OptLockTimeout, OptNoFreelistSync, OptPageSize, OptResidentLimit}

// options are the parsed backend options.
type options struct {
	initialMmapSize    int
	initialMmapSizeSet bool // given by the user: no fallback on ENOMEM
	freelist           bolt.FreelistType
	noFreelistSync     bool
	pageSize           int
	lockTimeout        time.Duration
	residentLimit      int64 // bytes; 0: off; meaningful only if residentLimitSet
	residentLimitSet   bool  // given by the user; otherwise Config.MemoryBudget
}

// parseOptions validates the backend options of a Config.
func parseOptions(m map[string]string) (options, error) {
	o := options{
		initialMmapSize: DefaultInitialMmapSize,
		freelist:        bolt.FreelistMapType,
		lockTimeout:     DefaultLockTimeout,
	}
	// Sorted, so that the first error reported does not depend on map order.
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := strings.TrimSpace(m[k])
		switch k {
		case OptInitialMmapSize:
			n, err := parseSize(v)
			if err != nil {
				return o, optErr(k, v, "want a size in bytes such as 17179869184 or 16GiB (0: bbolt's default)")
			}
			if bits.UintSize == 32 && n > 1<<30 {
				return o, optErr(k, v, "want at most 1GiB on a 32-bit system")
			}
			o.initialMmapSize = int(n)
			o.initialMmapSizeSet = true
		case OptFreelist:
			switch strings.ToLower(v) {
			case "hashmap", "map":
				o.freelist = bolt.FreelistMapType
			case "array":
				o.freelist = bolt.FreelistArrayType
			default:
				return o, optErr(k, v, `want "hashmap" or "array"`)
			}
		case OptNoFreelistSync:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, optErr(k, v, `want "true" or "false"`)
			}
			o.noFreelistSync = b
		case OptPageSize:
			n, err := parseSize(v)
			if err != nil || n < 1024 || n > 65536 || n&(n-1) != 0 {
				return o, optErr(k, v, "want a power of two from 1024 to 65536")
			}
			o.pageSize = int(n)
		case OptLockTimeout:
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return o, optErr(k, v, `want a positive duration such as "1s" or "500ms"`)
			}
			o.lockTimeout = d
		case OptResidentLimit:
			o.residentLimitSet = true
			if strings.EqualFold(v, "off") {
				o.residentLimit = 0
				break
			}
			n, err := parseSize(v)
			if err != nil {
				return o, optErr(k, v, `want a size in bytes such as 268435456 or 256MiB, or "off"`)
			}
			o.residentLimit = n
		default:
			return o, fmt.Errorf("%w: bbolt: unknown option %q (accepted: %s)",
				kv.ErrInvalidConfig, k, strings.Join(acceptedOptions, ", "))
		}
	}
	return o, nil
}

func optErr(key, value, want string) error {
	return fmt.Errorf("%w: bbolt: option %s=%q: %s", kv.ErrInvalidConfig, key, value, want)
}

// parseSize reads a byte count with an optional binary unit.
func parseSize(s string) (int64, error) {
	num := strings.TrimRight(s, "KMGTBkmgtib ")
	unit := strings.ToLower(strings.TrimSpace(s[len(num):]))
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	var shift uint
	switch unit {
	case "", "b":
	case "k", "kb", "kib":
		shift = 10
	case "m", "mb", "mib":
		shift = 20
	case "g", "gb", "gib":
		shift = 30
	case "t", "tb", "tib":
		shift = 40
	default:
		return 0, fmt.Errorf("bad unit in %q", s)
	}
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return n << shift, nil
}

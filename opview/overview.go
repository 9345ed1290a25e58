package opview

import (
	"bytes"
	"context"
	"io/fs"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/polykv/polykv/kv"
)

// Overview is the overview page's data (overview.json).
type Overview struct {
	Backend      string        `json:"backend"`
	Path         string        `json:"path,omitempty"`
	Durability   kv.Durability `json:"durability"`
	ReadOnly     bool          `json:"read_only"`
	MemoryBudget int64         `json:"memory_budget_bytes"`
	Guarantees   kv.Guarantees `json:"guarantees"`
	// DiskBytes is the store's size on disk in allocated blocks (the
	// engine's figure, or the directory's); -1 when unknown.
	DiskBytes int64 `json:"disk_bytes"`
	// Engine are the engine's own figures (kv.EngineStats), when it has
	// them.
	EngineMemoryBytes int64    `json:"engine_memory_bytes"`
	EngineFigures     []Figure `json:"engine_figures"`
	StatsError        string   `json:"stats_error,omitempty"`
	// Families are the key families found by skipping from one family to
	// the next; see Family.
	Families []Family `json:"families"`
	// FamiliesTruncated: the listing stopped after MaxFamilySteps seeks.
	FamiliesTruncated bool `json:"families_truncated,omitempty"`
}

// Figure is one named engine figure.
type Figure struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

// Family is a group of keys sharing a prefix: the key up to its first ':'
// ("meta:"), or to its second for nodestore and log keys ("src:00000003:",
// "src:children:", "log:info:"), when each part before a ':' is a word
// (letters, digits, '_', '-', '.') of at most 31 bytes; other keys form the
// family "(other)" (Prefix empty). A key of src, dst or log without a second
// such part ("src:", "src:zzz", "src:00000003", "dst::x") is one of the
// other keys: a family "src:" would hold all the queue's families.
// Keys counts at most MaxFamilyCount keys: KeysCapped says it stopped.
type Family struct {
	Name       string `json:"name"`
	Prefix     string `json:"-"`
	PrefixHex  string `json:"prefix_hex"`
	Keys       int64  `json:"keys"`
	KeysCapped bool   `json:"keys_capped,omitempty"`
	FirstKey   string `json:"first_key"` // escaped (see Key)
}

const (
	// MaxFamilySteps bounds the seeks the overview makes to list families.
	MaxFamilySteps = 256
	// MaxFamilyCount bounds the keys counted per family on the overview.
	MaxFamilyCount = 10_000
)

func (h *Handler) overview(ctx context.Context) (*Overview, error) {
	info := h.store.Info()
	o := &Overview{
		Backend: info.Backend, Path: info.Path, Durability: info.Durability, ReadOnly: info.ReadOnly,
		MemoryBudget: info.MemoryBudget, Guarantees: info.Guarantees, DiskBytes: -1,
		EngineFigures: []Figure{}, Families: []Family{},
	}
	if st, ok := h.store.(interface{ Stats() (kv.Stats, error) }); ok {
		s, err := st.Stats()
		if err != nil {
			o.StatsError = err.Error()
		} else {
			o.EngineMemoryBytes = s.Engine.MemoryBytes
			if s.Engine.DiskBytes > 0 {
				o.DiskBytes = s.Engine.DiskBytes
			}
			for k, v := range s.Engine.Extra {
				o.EngineFigures = append(o.EngineFigures, Figure{k, v})
			}
			slices.SortFunc(o.EngineFigures, func(a, b Figure) int { return cmpString(a.Name, b.Name) })
		}
	}
	if o.DiskBytes < 0 && info.Path != "" {
		if n, err := diskUsage(info.Path); err == nil {
			o.DiskBytes = n
		}
	}
	fams, truncated, err := families(ctx, h.store)
	if err != nil {
		return nil, err
	}
	o.Families = append(o.Families, fams...)
	o.FamiliesTruncated = truncated
	return o, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// families lists the key families on one snapshot: it seeks to the first
// key, counts its family (up to MaxFamilyCount), and seeks past the
// family's prefix to the next, at most MaxFamilySteps times.
func families(ctx context.Context, store kv.Store) (out []Family, truncated bool, err error) {
	err = store.View(ctx, func(tx kv.ReadTxn) error {
		var start []byte
		other := -1 // index of "(other)" in out
		for step := 0; ; step++ {
			if step == MaxFamilySteps {
				truncated = true
				if other >= 0 {
					out[other].KeysCapped = true // only the keys stepped over
				}
				return nil
			}
			var key []byte
			err := tx.Iterate(kv.IterOptions{Start: start, KeysOnly: true, Limit: 1}, func(k, _ []byte) error {
				key = bytes.Clone(k)
				return nil
			})
			if err != nil {
				return err
			}
			if key == nil {
				return nil
			}
			name, prefix := KeyFamily(key)
			if prefix == nil {
				if other < 0 {
					other = len(out)
					out = append(out, Family{Name: name, FirstKey: escapeText(key)})
				}
				out[other].Keys++
				start = append(key, 0)
				continue
			}
			f := Family{Name: name, Prefix: string(prefix), PrefixHex: hexString(prefix), FirstKey: escapeText(key)}
			err = tx.Iterate(kv.IterOptions{Prefix: prefix, KeysOnly: true, Limit: MaxFamilyCount + 1}, func(_, _ []byte) error {
				f.Keys++
				return nil
			})
			if err != nil {
				return err
			}
			if f.Keys > MaxFamilyCount {
				f.Keys, f.KeysCapped = MaxFamilyCount, true
			}
			out = append(out, f)
			if start = kv.PrefixEnd(prefix); start == nil {
				return nil
			}
		}
	})
	return out, truncated, err
}

// KeyFamily returns the family of a key, as Family describes it, and the
// prefix every key of that family starts with (nil for "(other)", whose
// keys share none). polykv inspect groups keys by it too.
func KeyFamily(k []byte) (name string, prefix []byte) {
	head := k[:min(len(k), 32)]
	i := bytes.IndexByte(head, ':')
	if i <= 0 || !isWord(k[:i]) {
		return "(other)", nil
	}
	switch string(k[:i]) {
	case "src", "dst", "log":
		if j := bytes.IndexByte(k[i+1:], ':'); j > 0 && j < 32 && isWord(k[i+1:i+1+j]) {
			return string(k[:i+1+j]), k[:i+2+j]
		}
		// Not the family up to the first ':': its prefix ("src:") holds
		// all the queue's families, whose keys it would count again (or
		// make the listing skip).
		return "(other)", nil
	}
	return string(k[:i]), k[:i+1]
}

// isWord reports whether b is made of ASCII letters, digits, '_', '-' and
// '.'.
func isWord(b []byte) bool {
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return len(b) > 0
}

// diskUsage counts the allocated blocks of every file under dir, like du.
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += int64(st.Blocks) * 512
		} else {
			total += info.Size()
		}
		return nil
	})
	return total, err
}

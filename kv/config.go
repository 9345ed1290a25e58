package kv

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
)

// DefaultBackend is the backend used when Config.Backend is empty.
const DefaultBackend = "badger"

// AutoBackend as Config.Backend opens whatever backend the directory's
// marker names (an existing store is required).
const AutoBackend = "auto"

// DefaultMemoryBudget is the memory budget used when Config.MemoryBudget is
// zero: what the engine may spend on caches and memtables.
const DefaultMemoryBudget = 256 << 20

// MinMemoryBudget is the smallest accepted memory budget.
const MinMemoryBudget = 16 << 20

// Config says which store to open and how. The zero value, with Path set,
// opens a synced Badger store with the default memory budget.
type Config struct {
	// Backend is a registered backend name ("badger", "pebble", "bbolt",
	// "memory") or "auto". Empty means DefaultBackend.
	Backend string `json:"backend,omitempty" yaml:"backend,omitempty"`
	// Path is the store's directory, for every persistent backend (bbolt
	// too: its file lives inside). It must be empty for "memory".
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
	// Durability is Sync (default) or NoSync; in JSON and YAML, "sync" or
	// "nosync".
	Durability Durability `json:"durability,omitempty" yaml:"durability,omitempty"`
	// MemoryBudget is the bytes the engine may use for caches and
	// memtables; 0 means DefaultMemoryBudget.
	MemoryBudget int64 `json:"memory_budget,omitempty" yaml:"memory_budget,omitempty"`
	// ReadOnly opens an existing store for reading only; every write
	// returns ErrReadOnly.
	ReadOnly bool `json:"read_only,omitempty" yaml:"read_only,omitempty"`
	// Options are backend-specific settings, documented by each backend
	// package. An option the backend does not know is an error.
	Options map[string]string `json:"options,omitempty" yaml:"options,omitempty"`
	// Logger receives the engine's log lines. Nil discards them: engines
	// never write to stderr by default.
	Logger *slog.Logger `json:"-" yaml:"-"`
}

// withDefaults returns a copy of c with defaults filled in.
func (c Config) withDefaults() Config {
	if c.Backend == "" {
		c.Backend = DefaultBackend
	}
	c.Backend = strings.ToLower(c.Backend)
	if c.MemoryBudget == 0 {
		c.MemoryBudget = DefaultMemoryBudget
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Options != nil {
		opts := make(map[string]string, len(c.Options))
		for k, v := range c.Options {
			opts[k] = v
		}
		c.Options = opts
	}
	return c
}

// Validate reports the first problem with c, naming the field and the
// allowed values. It does not touch the file system.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Backend != AutoBackend {
		if _, ok := lookupDriver(c.Backend); !ok {
			return unknownBackendError(c.Backend)
		}
	}
	if c.Durability != Sync && c.Durability != NoSync {
		return fmt.Errorf("%w: durability %d: want sync or nosync", ErrInvalidConfig, int(c.Durability))
	}
	if c.MemoryBudget < MinMemoryBudget {
		return fmt.Errorf("%w: memory_budget %d: want 0 (default %d) or at least %d bytes",
			ErrInvalidConfig, c.MemoryBudget, int64(DefaultMemoryBudget), int64(MinMemoryBudget))
	}
	if c.Backend == "memory" {
		if c.Path != "" {
			return fmt.Errorf("%w: path %q: the memory backend keeps nothing on disk, path must be empty", ErrInvalidConfig, c.Path)
		}
		if c.ReadOnly {
			return fmt.Errorf("%w: read_only: a memory store starts empty, read-only makes no sense", ErrInvalidConfig)
		}
	} else if c.Path == "" {
		return fmt.Errorf("%w: path: backend %q needs a directory", ErrInvalidConfig, c.Backend)
	}
	return nil
}

func unknownBackendError(name string) error {
	known := Backends()
	return fmt.Errorf("%w %q (known: %s; forgotten import of github.com/polykv/polykv/backends/%s or backends/all?)",
		ErrUnknownBackend, name, strings.Join(append(known, AutoBackend), ", "), name)
}

// knownList returns names sorted, for messages.
func knownList(names []string) []string {
	sort.Strings(names)
	return names
}

package bench

import (
	"fmt"
	"slices"
	"strings"

	"github.com/polykv/polykv/kv"
)

// RawPrefix marks a calibration backend: "raw-badger" is Badger driven
// through its own API, configured as backends/badger configures it.
const RawPrefix = "raw-"

// RawEngines returns the engines with a calibration target (the names
// after RawPrefix that a Spec's Backend may take), sorted.
func RawEngines() []string {
	names := make([]string, 0, len(rawEngines))
	for name := range rawEngines {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Spec identifies one run: one workload, on one backend, with one
// durability, at one size. It is what a child process receives.
type Spec struct {
	Workload   string `json:"workload"`
	Backend    string `json:"backend"`
	Durability string `json:"durability"` // "sync" or "nosync"
	// Size scales the workload: records for the raw kv workloads, nodes for
	// traverse-gen, entries for logs. 0 means the workload's default.
	Size int `json:"size"`
	// Ops, when positive, overrides the number of measured operations of
	// the raw kv workloads (the Go benchmarks set it to b.N).
	Ops  int    `json:"ops,omitempty"`
	Seed uint64 `json:"seed"`
	Rep  int    `json:"rep"`
	// Dir is where the run's fresh store directory is created (and removed
	// afterwards). Empty means os.TempDir().
	Dir string `json:"dir,omitempty"`
	// Tree is the directory traverse-dir walks; empty means GOROOT/src.
	Tree string `json:"tree,omitempty"`
	// Skew makes traverse-gen's fan-out skewed (a few huge directories)
	// instead of uniform.
	Skew bool `json:"skew,omitempty"`
	// Ceiling makes the traverse workloads, after the measured pass, run
	// a second, recorded one (every kv write it commits logged) and replay
	// its writes as blind batches on a fresh store of the same backend:
	// the engine's ceiling for that work (extras ceiling_node_per_s,
	// traverse_vs_ceiling and kv operations per node).
	Ceiling bool `json:"ceiling,omitempty"`
	// MemoryBudget is kv.Config.MemoryBudget; 0 means the default.
	MemoryBudget int64 `json:"memory_budget,omitempty"`
	// Producers is the number of goroutines adding log entries in the logs
	// workload (0 means 4) and of copy workers in copy-status (0 means 16).
	Producers int `json:"producers,omitempty"`
	// Page is the number of pending nodes the traverse workloads list at
	// a time (PendingPage), and so complete with one CompleteBatch on the
	// page path; 0 means 1000.
	Page int `json:"page,omitempty"`
	// Endpoints, for the etcd backend, are the client URLs of an existing
	// cluster to run on instead of an embedded one (cluster.go).
	Endpoints []string `json:"endpoints,omitempty"`
	// KeepDir keeps the store directory after the run (for inspection).
	KeepDir bool `json:"keep_dir,omitempty"`
}

// sizeOr returns Size, or def when Size is 0 or less.
func (s Spec) sizeOr(def int) int {
	if s.Size <= 0 {
		return def
	}
	return s.Size
}

// producersOr returns Producers, or def when Producers is 0 or less.
func (s Spec) producersOr(def int) int {
	if s.Producers <= 0 {
		return def
	}
	return s.Producers
}

// pageOr returns Page, or def when Page is 0 or less.
func (s Spec) pageOr(def int) int {
	if s.Page <= 0 {
		return def
	}
	return s.Page
}

// durability parses Spec.Durability.
func (s Spec) durability() (kv.Durability, error) {
	switch strings.ToLower(s.Durability) {
	case "", "sync":
		return kv.Sync, nil
	case "nosync":
		return kv.NoSync, nil
	}
	return 0, fmt.Errorf("bench: durability %q: want sync or nosync", s.Durability)
}

// engine returns the engine name of the spec's backend and whether it is a
// raw (calibration) backend.
func (s Spec) engine() (name string, raw bool) {
	if e, ok := strings.CutPrefix(s.Backend, RawPrefix); ok {
		return e, true
	}
	return s.Backend, false
}

// String names the run as in progress lines.
func (s Spec) String() string {
	return fmt.Sprintf("%s/%s/%s rep %d", s.Workload, s.Backend, s.Durability, s.Rep)
}

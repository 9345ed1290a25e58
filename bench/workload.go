package bench

import (
	"fmt"
	"slices"
	"strings"
)

// Workload is one benchmark, written once against kv (and nodestore or
// logstore) and run on any registered backend. Run loads its data with
// Env.Load, measures with Env.Measure or Env.MeasureFunc, and must call
// Env.Verified after checking its own result: a run that does not verify
// fails.
type Workload struct {
	Name string
	// Group is "kv", "ycsb", "traverse", "logs" or "nodestore".
	Group string
	// Doc is one line for --help.
	Doc string
	// Calibrated workloads also run on raw engines ("raw-badger", ...).
	Calibrated bool
	// DefaultSize is the size used when Spec.Size is 0.
	DefaultSize int
	Run         func(e *Env) error
}

var registry []Workload

func register(w Workload) { registry = append(registry, w) }

// Workloads returns every workload, in a stable order.
func Workloads() []Workload { return slices.Clone(registry) }

// Lookup returns the workload with this name.
func Lookup(name string) (Workload, bool) {
	for _, w := range registry {
		if w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}

func knownWorkloads() string {
	names := make([]string, len(registry))
	for i, w := range registry {
		names[i] = w.Name
	}
	return strings.Join(names, ", ")
}

// Groups a --workload flag may name besides single workloads.
var groups = map[string]string{
	"default":   "traverse-gen, traverse-dir and logs: what make bench runs",
	"kv":        "every raw kv workload (fill, read, scan)",
	"ycsb":      "YCSB workloads A to F",
	"traverse":  "traverse-gen and traverse-dir",
	"nodestore": "copy-status: concurrent copy workers updating nodestore (run it with --sync too)",
	"calibrate": "the calibrated kv workloads on each engine through polykv and through its own API",
	"all":       "every workload",
}

// GroupDocs returns the workload groups and what each holds.
func GroupDocs() map[string]string { return groups }

// Expand turns a comma-separated list of workload and group names into
// workload names, without duplicates, in registry order.
func Expand(list string) ([]string, error) {
	want := map[string]bool{}
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		matched := false
		for _, w := range registry {
			if inGroup(w, name) {
				want[w.Name] = true
				matched = true
			}
		}
		if !matched {
			if _, isGroup := groups[name]; isGroup {
				return nil, fmt.Errorf("bench: workload group %q is empty in this build", name)
			}
			return nil, fmt.Errorf("bench: unknown workload %q (workloads: %s; groups: default, kv, ycsb, traverse, calibrate, all)", name, knownWorkloads())
		}
	}
	var out []string
	for _, w := range registry {
		if want[w.Name] {
			out = append(out, w.Name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bench: no workload selected")
	}
	return out, nil
}

func inGroup(w Workload, name string) bool {
	switch name {
	case w.Name, "all":
		return true
	case "default":
		return w.Name == "traverse-gen" || w.Name == "traverse-dir" || w.Name == "logs"
	case "calibrate":
		return w.Calibrated
	}
	return w.Group == name
}

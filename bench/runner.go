package bench

import (
	"context"
	"fmt"
	"strings"
)

// Options configure a comparison.
type Options struct {
	// Workloads are workload names (see Expand for groups).
	Workloads []string
	// Backends are the backends compared, e.g. badger, pebble, bbolt,
	// memory. For calibrated workloads, "raw-<engine>" backends run the
	// same workload on the engine's own API.
	Backends []string
	// Durabilities are "sync" and/or "nosync"; each gets its own table.
	Durabilities []string
	// Size scales every workload (0: each workload's default).
	Size int
	// Reps is the number of repetitions of each (workload, backend); at
	// least 1, 3 by default. Repetitions alternate backends: A B C A B C.
	Reps int
	// Seed fixes every random choice; it is printed in the report.
	Seed uint64
	// Template is copied into every Spec (Dir, Tree, Skew, MemoryBudget,
	// Producers, KeepDir).
	Template Spec
	// Exec runs one spec. Nil runs it in this process with RunOne; the
	// polykv command re-executes itself so that every run has its own
	// process (peak RSS and write bytes per run).
	Exec func(ctx context.Context, s Spec) (Result, error)
	// Progress, if not nil, is called before each run (res nil) and after
	// it, with the run's index (from 0) and the plan's length.
	Progress func(i, n int, s Spec, res *Result)
	// Calibrate adds the raw-<engine> backend beside each engine for the
	// calibrated workloads.
	Calibrate bool
}

// DefaultSeed is the seed used when Options.Seed is 0.
const DefaultSeed = 20260101

// Plan returns the specs a comparison runs, in order: for each durability
// and workload, repetition after repetition, every backend in turn.
func Plan(o Options) []Spec {
	o = o.withDefaults()
	var out []Spec
	for _, d := range o.Durabilities {
		for _, wname := range o.Workloads {
			w, _ := Lookup(wname)
			backends := o.backendsFor(w, d)
			for rep := 1; rep <= o.Reps; rep++ {
				for _, b := range backends {
					s := o.Template
					s.Workload, s.Backend, s.Durability, s.Size, s.Seed, s.Rep = wname, b, d, o.Size, o.Seed, rep
					out = append(out, s)
				}
			}
		}
	}
	return out
}

func (o Options) backendsFor(w Workload, durability string) []string {
	var out []string
	for _, b := range o.Backends {
		if strings.HasPrefix(b, RawPrefix) && !w.Calibrated {
			continue
		}
		out = append(out, b)
		if o.Calibrate && w.Calibrated && !strings.HasPrefix(b, RawPrefix) {
			if _, ok := rawEngines[b]; ok {
				out = append(out, RawPrefix+b)
			}
		}
	}
	return out
}

func (o Options) withDefaults() Options {
	if o.Reps <= 0 {
		o.Reps = 3
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if len(o.Durabilities) == 0 {
		o.Durabilities = []string{"sync"}
	}
	return o
}

// Run runs the comparison and returns its report. A failing run does not
// stop the others: it is recorded with its error, and Run returns the
// report and an error naming the failures.
func Run(ctx context.Context, o Options) (*Report, error) {
	o = o.withDefaults()
	for _, w := range o.Workloads {
		if _, ok := Lookup(w); !ok {
			return nil, fmt.Errorf("bench: unknown workload %q (known: %s)", w, knownWorkloads())
		}
	}
	for _, d := range o.Durabilities {
		if _, err := (Spec{Durability: d}).durability(); err != nil {
			return nil, err
		}
	}
	exec := o.Exec
	if exec == nil {
		exec = RunOne
	}
	rep := NewReport(o)
	plan := Plan(o)
	var failed []string
	for i, s := range plan {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if o.Progress != nil {
			o.Progress(i, len(plan), s, nil)
		}
		res, err := exec(ctx, s)
		if err != nil {
			if res.Err == "" {
				res.Err = err.Error()
			}
			res.Spec = s
			failed = append(failed, s.String())
		}
		if o.Progress != nil {
			o.Progress(i, len(plan), s, &res)
		}
		rep.Add(res)
	}
	rep.Finish()
	if len(failed) > 0 {
		return rep, fmt.Errorf("bench: %d of %d runs failed: %s", len(failed), len(plan), strings.Join(failed, "; "))
	}
	return rep, nil
}

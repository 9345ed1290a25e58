package bench_test

import (
	"context"
	"fmt"
	"os"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/bench"
)

// RunOne runs one workload on one backend and returns every figure; the
// run's own check of its result is in Verified.
func ExampleRunOne() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	res, err := bench.RunOne(context.Background(), bench.Spec{
		Workload: "fill-seq-b100", Backend: "memory", Durability: "nosync",
		Size: 2000, Seed: bench.DefaultSeed, Dir: dir,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Unit, res.Ops > 0, res.OpsPerSec > 0)
	fmt.Println(res.Verified)
	// Output:
	// record true true
	// 2000 records present in order, 100 values read back
}

// Run compares backends: repetitions alternate backends, and the report
// summarizes each (workload, backend) as a median with min–max.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	rep, err := bench.Run(context.Background(), bench.Options{
		Workloads: []string{"read-uniform"},
		Backends:  []string{"memory"},
		Size:      1000,
		Reps:      3,
		Template:  bench.Spec{Dir: dir, Ops: 1000},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range rep.Summaries {
		fmt.Println(s.Durability, s.Workload, s.Backend, s.Reps, s.Min <= s.Median && s.Median <= s.Max)
	}
	// rep.WriteTable(os.Stdout) prints the table; rep.WriteFiles(dir) writes
	// the JSON, CSV, benchstat and PNG files.

	// Output:
	// sync read-uniform memory 3 true
}

// Expand turns workload and group names into workload names.
func ExampleExpand() {
	names, _ := bench.Expand("ycsb,logs")
	fmt.Println(names)
	// Output:
	// [logs ycsb-a ycsb-b ycsb-c ycsb-d ycsb-e ycsb-f]
}

package bench_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/bench"
)

func TestRunMemorySmoke(t *testing.T) {
	names, err := bench.Expand("kv,ycsb")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bench.Run(t.Context(), bench.Options{
		Workloads: names, Backends: []string{"memory"}, Durabilities: []string{"sync", "nosync"},
		Size: 2000, Reps: 1, Template: bench.Spec{Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	dir := t.TempDir()
	paths, err := rep.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v, %d bytes", p, err, st.Size())
		}
	}
	if !strings.Contains(buf.String(), "durability: nosync") {
		t.Error("no nosync table")
	}
	_ = filepath.Join
}

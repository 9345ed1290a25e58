// Package layering holds tests that enforce the dependency rules of
// DESIGN.md ("Layout"): backends → kv; nodestore and logstore → kv only;
// conformance and bench → kv and the layers; no engine type in an exported
// signature outside its backend. They are lint rules written as tests, run
// by make test.
package layering

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/polykv/polykv"

// engines maps each engine module to the only backend package allowed to
// import it (bench's calibration also may: it measures the raw engines).
// etcd's server is imported only by internal/etcdtest, which starts
// embedded clusters for the tests and the bench.
var engines = map[string]string{
	"github.com/dgraph-io/badger/v4":   module + "/backends/badger",
	"github.com/cockroachdb/pebble/v2": module + "/backends/pebble",
	"go.etcd.io/bbolt":                 module + "/backends/bbolt",
	"github.com/tidwall/btree":         module + "/backends/memory",
	"go.etcd.io/etcd/client/v3":        module + "/backends/etcd",
	"go.etcd.io/etcd/api/v3":           module + "/backends/etcd",
	"go.etcd.io/etcd/server/v3":        module + "/internal/etcdtest",
}

// imports lists, for every package of the module, its non-test imports.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	if len(m) < 10 {
		t.Fatalf("go list found only %d packages: %s", len(m), out)
	}
	return m
}

func TestForbiddenImports(t *testing.T) {
	for pkg, imps := range imports(t) {
		for _, imp := range imps {
			for engine, owner := range engines {
				if (imp == engine || strings.HasPrefix(imp, engine+"/")) && pkg != owner && pkg != module+"/bench" {
					t.Errorf("%s imports the engine %s: only %s may", pkg, imp, owner)
				}
			}
			isBackend := strings.HasPrefix(imp, module+"/backends/")
			switch {
			case pkg == module+"/kv" && strings.HasPrefix(imp, module+"/") && imp != module+"/internal/dirlock":
				t.Errorf("kv imports %s: kv imports no other package of the module (but internal/dirlock)", imp)
			case (pkg == module+"/nodestore" || pkg == module+"/logstore") && strings.HasPrefix(imp, module+"/") && imp != module+"/kv":
				t.Errorf("%s imports %s: the layers import kv only", pkg, imp)
			case isBackend && !strings.HasPrefix(pkg, module+"/cmd/") && pkg != module+"/backends/all":
				t.Errorf("%s imports the backend %s: only backends/all and commands choose backends", pkg, imp)
			}
		}
	}
}

// TestNoEngineTypesExported checks every package's exported API (go doc
// -all) for an engine package's identifiers, outside the engine's backend.
func TestNoEngineTypesExported(t *testing.T) {
	qualifiers := []string{"badger.", "pebble.", "bbolt.", "bolt.", "btree."}
	for pkg := range imports(t) {
		if strings.HasPrefix(pkg, module+"/backends/") || strings.Contains(pkg, "/internal/") {
			continue
		}
		out, err := exec.Command("go", "doc", "-all", "-short=false", pkg).CombinedOutput()
		if err != nil {
			// go doc of a main package has nothing exported.
			if strings.Contains(pkg, "/cmd/") {
				continue
			}
			t.Fatalf("go doc %s: %v\n%s", pkg, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(line, "func ") && !strings.HasPrefix(line, "type ") && !strings.HasPrefix(line, "    ") {
				continue
			}
			code := line
			if i := strings.Index(code, "//"); i >= 0 {
				code = code[:i]
			}
			for _, q := range qualifiers {
				if strings.Contains(code, "*"+q) || strings.Contains(code, " "+q) || strings.Contains(code, "("+q) || strings.Contains(code, "]"+q) {
					t.Errorf("%s exports an engine type: %q", pkg, strings.TrimSpace(line))
				}
			}
		}
	}
}

package memory

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// weakDriver opens optimistic engines whose commits skip some checks.
type weakDriver struct {
	Driver
	check validation
}

func (d weakDriver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	return &optimisticEngine{engine: newEngine(), check: d.check}, nil
}

const weakEnv = "POLYKV_WEAK_VALIDATION"

var weakModes = map[string]struct {
	check validation
	catch []string // rules of the Serializable group that must fail
}{
	// A range check of "nothing added or changed since the snapshot", as a
	// compare on modification revisions gives: deleted keys go unseen.
	"no-removed":  {checkKeys | checkAdded, []string{"PhantomDelete"}},
	"keys-only":   {checkKeys, []string{"PhantomInsert", "PhantomDelete"}},
	"ranges-only": {checkAdded | checkRemoved, []string{"WriteSkew", "InsertIfAbsent"}},
}

// TestWeakValidationChild runs the Serializable rules on an engine whose
// commit skips checks; only in the child process of
// TestSuiteCatchesWeakValidation.
func TestWeakValidationChild(t *testing.T) {
	mode, ok := weakModes[os.Getenv(weakEnv)]
	if !ok {
		t.Skip("run by TestSuiteCatchesWeakValidation")
	}
	conformance.Run(t, func(t *testing.T) func() (kv.Store, error) {
		return func() (kv.Store, error) {
			return kv.OpenDriver(context.Background(), kv.Config{Backend: Name}, weakDriver{check: mode.check})
		}
	})
}

// TestSuiteCatchesWeakValidation proves the serializability rules can
// fail: each weakened commit check lets through exactly the anomalies of
// the rules listed for it, and the suite reports them.
func TestSuiteCatchesWeakValidation(t *testing.T) {
	if os.Getenv(weakEnv) != "" {
		t.Skip("in the child process")
	}
	for name, mode := range weakModes {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestWeakValidationChild$/^Serializable$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), weakEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the Serializable rules passed on a commit that skips checks (%s):\n%s", name, out)
			}
			for _, rule := range []string{"WriteSkew", "PhantomInsert", "PhantomDelete", "InsertIfAbsent"} {
				failed := strings.Contains(string(out), "--- FAIL: TestWeakValidationChild/Serializable/"+rule+" ")
				want := false
				for _, c := range mode.catch {
					want = want || c == rule
				}
				if failed != want {
					t.Errorf("%s: rule %s failed=%v, want %v; child output:\n%s", name, rule, failed, want, out)
				}
			}
		})
	}
}

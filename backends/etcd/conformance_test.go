package etcd_test

import (
	"testing"

	"github.com/polykv/polykv/conformance"
)

// TestConformance runs the whole kv suite and the nodestore and logstore
// sections on the shared 3-member embedded cluster, each subtest on a
// fresh prefix.
func TestConformance(t *testing.T) {
	conformance.Run(t, factory)
}

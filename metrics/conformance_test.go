package metrics_test

import (
	"testing"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// TestConformance runs the whole suite on a wrapped memory store: the
// wrapper changes no behaviour. Each open registers in a registry of its
// own, which every subtest gathers at its end (a scrape of a store in any
// state must work).
func TestConformance(t *testing.T) {
	inner := conformance.ConfigFactory(kv.Config{Backend: "memory"})
	conformance.Run(t, func(t *testing.T) func() (kv.Store, error) {
		open := inner(t)
		return func() (kv.Store, error) {
			s, err := open()
			if err != nil {
				return nil, err
			}
			reg := prometheus.NewPedanticRegistry()
			w, err := metrics.Wrap(s, reg, nil)
			if err != nil {
				s.Close()
				return nil, err
			}
			t.Cleanup(func() {
				if _, err := reg.Gather(); err != nil {
					t.Errorf("gather: %v", err)
				}
			})
			return w, nil
		}
	})
}

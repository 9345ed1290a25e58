package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/logstore"
	"github.com/polykv/polykv/metrics"
	"github.com/polykv/polykv/nodestore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Example mounts the metrics of an engine's store: wrap the store, hand
// the wrapper to the layers, register the layers' collectors, and serve
// the registry on /metrics.
func Example() {
	ctx := context.Background()
	db, err := memory.Open(ctx) // or kv.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	reg := prometheus.NewRegistry()
	store, err := metrics.Wrap(db, reg, nil) // kv op metrics and engine figures
	if err != nil {
		log.Fatal(err)
	}
	ns := nodestore.New(store)
	logs := logstore.NewLogBuffer(store, 0, 0)
	defer logs.Stop()
	reg.MustRegister(
		metrics.NewNodestoreCollector(nodestore.New(db), nil), // scrapes read db: they stay out of the op metrics
		metrics.NewLogstoreCollector(db, nil),
		metrics.NewLogBufferCollector(logs, nil),
	)
	mux := http.NewServeMux() // or http.Handle on the default mux
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	// The engine works through store, ns and logs...
	err = ns.Insert(ctx, nodestore.Node{
		Queue: nodestore.QueueSrc, Traversal: nodestore.TraversalStatusPending, Copy: nodestore.CopyStatusPending,
		State: nodestore.NodeState{ID: "root", Name: "root", Path: "/", Type: nodestore.NodeTypeFolder},
	})
	if err != nil {
		log.Fatal(err)
	}

	// ...and an operator scrapes /metrics.
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, `polykv_kv_ops_total{op="update"}`) ||
			strings.HasPrefix(line, "polykv_nodestore_nodes{") ||
			strings.HasPrefix(line, "polykv_engine_keys") {
			fmt.Println(line)
		}
	}
	// Output:
	// polykv_engine_keys{backend="memory"} 4
	// polykv_kv_ops_total{op="update"} 1
	// polykv_nodestore_nodes{copy="pending",level="0",queue="src",traversal="pending"} 1
}

package opview_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/metrics"
	"github.com/polykv/polykv/nodestore"
	"github.com/polykv/polykv/opview"
)

// An engine mounts the operator view of its open store, and the metrics of
// its registry, on its own HTTP server.
func Example() {
	ctx := context.Background()
	store, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	// The engine works through the wrapped store: every call is measured,
	// and the engine's figures are registered with it.
	registry := prometheus.NewRegistry()
	measured, err := metrics.Wrap(store, registry, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	registry.MustRegister(
		collectors.NewGoCollector(),
		metrics.NewNodestoreCollector(nodestore.New(store), nil),
	)
	ns := nodestore.New(measured) // the engine's traversal state
	_ = ns

	// The view reads the store itself, so that its reads stay out of the
	// kv metrics, and serves the registry at /metrics.
	view, err := opview.New(store, opview.Options{Gatherer: registry, Token: "s3cret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer view.Close() // before store.Close: stops the sampler

	mux := http.NewServeMux()
	mux.Handle("/debug/polykv/", http.StripPrefix("/debug/polykv", view))
	// The engine would now run http.ListenAndServe("127.0.0.1:8080", mux).
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/debug/polykv/progress.json", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, strings.Contains(string(body), `"queues"`))

	req, _ = http.NewRequest("GET", srv.URL+"/debug/polykv/metrics", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, strings.Contains(string(body), "polykv_engine_disk_bytes"))
	// Output:
	// 200 OK true
	// 200 OK true
}

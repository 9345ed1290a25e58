package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/metrics"
	"github.com/polykv/polykv/nodestore"
	"github.com/polykv/polykv/opview"
)

const serveDoc = `
Serves the operator view (package opview) of a store at rest: overview,
migration progress, logs and a key browser, with JSON twins and /metrics,
read-only. The store is opened read-only; the URL is printed once the
server listens. SIGINT or SIGTERM stops it.

A running engine mounts the same view on its own server instead (its store
is locked while it runs): see the opview package.

The server binds to 127.0.0.1 by default. With --token (or the environment
variable POLYKV_SERVE_TOKEN), every request needs
"Authorization: Bearer <token>".
`

func runServe(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "serve", "[flags] DSN", serveDoc)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	token := fs.String("token", "", "bearer token every request must carry (default: $POLYKV_SERVE_TOKEN; empty: none)")
	expected := fs.Int64("expected-nodes", 0, "nodes of the source tree, for an ETA (0: unknown)")
	db, err := parseAndOpen(ctx, fs, s, args, true)
	if err != nil {
		return err
	}
	defer db.Close()
	switch {
	case *addr == "":
		// net.Listen would take "" as every interface, any port.
		return fmt.Errorf("%w: --addr is empty: give host:port (127.0.0.1:8080 by default; \":8080\" listens on every interface)", errUsage)
	case *expected < 0:
		return fmt.Errorf("%w: --expected-nodes %d: want 0 (unknown) or more", errUsage, *expected)
	}
	if *token == "" {
		*token = os.Getenv("POLYKV_SERVE_TOKEN")
	}
	reg := prometheus.NewRegistry()
	// The engine's figures and the traversal's counts, read on each scrape
	// (metrics package); the view's own reads are not wrapped, so /metrics
	// does not count the requests that serve it.
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		metrics.NewEngineCollector(db, nil),
		metrics.NewNodestoreCollector(nodestore.New(db), nil),
		metrics.NewLogstoreCollector(db, nil),
	)
	view, err := opview.New(db, opview.Options{Gatherer: reg, Token: *token, ExpectedNodes: *expected})
	if err != nil {
		return err
	}
	defer view.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: view, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(s.out, "serving %s read-only at http://%s/ (Ctrl-C stops)\n", kv.RedactDSN(fs.Arg(0)), ln.Addr())
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close() // a client kept a request open: cut it
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("stop the server: %w", err)
		}
	}
	if err := view.Close(); err != nil {
		return err
	}
	return db.Close()
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polykv/polykv/bench"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
	"github.com/polykv/polykv/nodestore"
	"github.com/polykv/polykv/opview"
)

// traversedStore runs the bench's traverse-gen workload (the engine's
// breadth-first traversal of a generated tree, src then dst) on a pebble
// store of about nodes nodes and keeps the store; then, as a migration
// under way would, it moves some source files to copied, some to copy
// failed, sets some deepest-level nodes back to pending traversal, and logs
// a few lines. It returns the store's DSN.
func traversedStore(t testing.TB, nodes int) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	_, err := bench.RunOne(ctx, bench.Spec{Workload: "traverse-gen", Backend: "pebble", Durability: "nosync",
		Size: nodes, Seed: 1, Dir: dir, KeepDir: true})
	if err != nil {
		t.Fatal(err)
	}
	stores, _ := filepath.Glob(filepath.Join(dir, "polykv-bench-*", "store1"))
	if len(stores) != 1 {
		t.Fatalf("traverse-gen left %v, want one store", stores)
	}
	dsn := "pebble://" + stores[0] + "?sync=false"
	cfg, err := kv.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := kv.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ns := nodestore.New(db)
	counts, err := ns.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deepest := 0
	for _, c := range counts {
		deepest = max(deepest, c.Level)
	}
	var copied, failed, again []string
	i := 0
	err = ns.IterateNodes(ctx, kv.IterOptions{Prefix: []byte("src:")}, func(n nodestore.Node) error {
		if n.State.Type != nodestore.NodeTypeFile {
			return nil
		}
		switch {
		case i%3 == 0:
			copied = append(copied, n.State.Path)
		case i%17 == 1:
			failed = append(failed, n.State.Path)
		case i%11 == 2 && n.Level == deepest:
			again = append(again, n.State.Path)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct {
		paths []string
		cs    nodestore.CopyStatus
	}{{copied, nodestore.CopyStatusSuccessful}, {failed, nodestore.CopyStatusFailed}} {
		if _, err := ns.BatchSetCopyStatus(ctx, nodestore.QueueSrc, op.paths, op.cs); err != nil {
			t.Fatal(err)
		}
	}
	if len(again) == 0 {
		t.Fatal("no file at the deepest level to set back to pending")
	}
	if _, err := ns.BatchSetStatus(ctx, nodestore.QueueSrc, again, nodestore.TraversalStatusPending); err != nil {
		t.Fatal(err)
	}
	// A hostile key: markup that would load an image and run a handler if
	// a page let it through.
	if err := db.Set(ctx, []byte(hostileKey), []byte(`<script>console.error("value")</script>`)); err != nil {
		t.Fatal(err)
	}
	buf := logstore.NewLogBuffer(db, 100, time.Second)
	for _, e := range []logstore.LogEntry{
		{Level: logstore.LevelInfo, Entity: "traverser", Queue: "src", Message: "level done"},
		{Level: logstore.LevelError, Entity: "copier", EntityID: "c1", Queue: "src", Message: "copy failed: <permission denied>"},
	} {
		if err := buf.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := buf.Stop(); err != nil {
		t.Fatal(err)
	}
	return dsn
}

const hostileKey = `<img src=x onerror=console.error("key")>`

// lockedBuffer is an io.Writer safe for a command writing while the test
// reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var urlRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)

// waitURL waits for the URL a serve command prints.
func waitURL(t testing.TB, out *lockedBuffer, exited <-chan int, errOut *lockedBuffer) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if u := urlRE.FindString(out.String()); u != "" {
			return u
		}
		select {
		case code := <-exited:
			t.Fatalf("serve exited %d before listening:\n%s%s", code, out, errOut)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no URL:\n%s%s", out, errOut)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServe runs polykv serve in-process on a bbolt store, reads its pages,
// stops it as a signal would, and checks that it released the store.
func TestServe(t *testing.T) {
	dsn := "bbolt://" + t.TempDir() + "/s"
	fill(t, dsn, 50)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut lockedBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, stdio{in: strings.NewReader(""), out: &out, err: &errOut}, []string{"serve", "--addr", "127.0.0.1:0", "--token", "t0k", dsn})
	}()
	u := waitURL(t, &out, exited, &errOut)
	if !strings.Contains(out.String(), "read-only") {
		t.Errorf("serve does not say it is read-only: %q", out.String())
	}
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", u+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("progress", ""); code != 401 {
		t.Errorf("without the token: %d, want 401", code)
	}
	var o opview.Overview
	code, body := get("overview.json", "t0k")
	if code != 200 || json.Unmarshal([]byte(body), &o) != nil || o.Backend != "bbolt" || !o.ReadOnly || o.DiskBytes <= 0 {
		t.Errorf("overview.json: %d %+v\n%s", code, o, body)
	}
	if code, body := get("metrics", "t0k"); code != 200 || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "polykv_nodestore_lowest_pending_level") || !strings.Contains(body, "polykv_engine_") {
		t.Errorf("metrics: %d\n%.300s", code, body)
	}
	if code, body := get("keys?prefix=log:", "t0k"); code != 200 || !strings.Contains(body, "log:info:") {
		t.Errorf("keys: %d\n%s", code, body)
	}
	// While it serves, the store is locked.
	cfg, _ := kv.ParseDSN(dsn)
	if db, err := kv.Open(ctx, cfg); !errors.Is(err, kv.ErrLocked) {
		if db != nil {
			db.Close()
		}
		t.Errorf("open while served: %v, want kv.ErrLocked", err)
	}
	cancel() // what SIGINT does in main
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("serve exited %d after the signal:\n%s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on the signal")
	}
	db, err := kv.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("the store is not released after serve: %v", err)
	}
	db.Close()

	// A store that does not exist, or is locked, is an error, not a server.
	if code, _, stderr := polykv(t, nil, "serve", "--addr", "127.0.0.1:0", "bbolt://"+t.TempDir()+"/nosuch"); code != 1 || stderr == "" {
		t.Errorf("serve of a missing store: exit %d %q", code, stderr)
	}
	if code, _, stderr := polykv(t, nil, "serve", "--addr", "256.0.0.1:1", dsn); code != 1 || !strings.Contains(stderr, "listen on 256.0.0.1:1") {
		t.Errorf("serve on a bad address: exit %d %q", code, stderr)
	}
	// Bad flag values are usage errors: an empty --addr listened on every
	// interface, a negative --expected-nodes failed with exit 1.
	for _, args := range [][]string{{"--addr", ""}, {"--addr", "127.0.0.1:0", "--expected-nodes", "-5"}} {
		if code, _, stderr := polykv(t, nil, append(append([]string{"serve"}, args...), dsn)...); code != 2 {
			t.Errorf("serve %q: exit %d %q, want 2", args, code, stderr)
		}
	}
}

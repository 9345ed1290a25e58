package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
	"github.com/polykv/polykv/opview"
)

// chromiumPath finds a headless-capable Chromium: $POLYKV_CHROMIUM, or
// chromium / chromium-browser / google-chrome on PATH.
func chromiumPath() string {
	if p := os.Getenv("POLYKV_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts a headless Chromium and returns a context for chromedp
// actions in one tab; the test's cleanup stops it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("chromium not found (apt-get install -y chromium, as .ci/run does, or set POLYKV_CHROMIUM): the browser test cannot run")
	}
	profile, err := os.MkdirTemp("", "polykv-chromium-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's children may still write there a moment after it
		// stops: retry.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute) // a loaded machine starts Chromium slowly
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// consoleLog collects what the pages write to the browser's console
// (console calls, uncaught exceptions, and the browser log: failed loads,
// policy violations).
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func watchConsole(ctx context.Context) *consoleLog {
	c := &consoleLog{}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *consoleLog) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		if m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning {
			out = append(out, fmt.Sprintf("%s (%s %s:%d)", m, m.Source, m.URL, m.Line))
		}
	}
	return out
}

// startServe starts the built polykv serve on dsn and returns its URL; the
// test's cleanup stops it with SIGINT and checks that it exits cleanly.
func startServe(t *testing.T, dsn string, args ...string) string {
	t.Helper()
	cmd := exec.Command(polykvBinary(t), append(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), dsn)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u := urlRE.FindString(sc.Text()); u != "" {
				urls <- u
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("polykv serve after SIGINT: %v\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("polykv serve did not stop on SIGINT")
		}
	})
	select {
	case u := <-urls:
		return u
	case err := <-exited:
		t.Fatalf("polykv serve exited before listening: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("polykv serve printed no URL\n%s", stderr.String())
	}
	return ""
}

// cell is one number of the progress page, as the browser shows it.
type cell struct {
	Queue string `json:"q"`
	Level int    `json:"level"`
	Col   string `json:"col"`
	Text  string `json:"text"`
}

// readCells is run in the page: every level cell of the progress tables.
const readCells = `JSON.stringify(Array.from(document.querySelectorAll('tr[data-q][data-level] td[data-col]')).map(td => ({
	q: td.parentElement.dataset.q, level: +td.parentElement.dataset.level, col: td.dataset.col, text: td.textContent})))`

// readLowest is run in the page: the lowest pending level of each queue.
const readLowest = `JSON.stringify(Object.fromEntries(Array.from(document.querySelectorAll('td[data-col="lowest-pending"]')).map(td => [td.dataset.q, td.textContent])))`

// TestBrowserProgressPage: polykv serve on a store a traversal produced;
// headless Chromium loads the progress page; the numbers it shows equal
// nodestore's counts, and no page writes an error to the console.
func TestBrowserProgressPage(t *testing.T) {
	ctx := browser(t)
	dsn := traversedStore(t, 3000)

	// What the page must show, read before serve locks the store.
	cfg, err := kv.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ReadOnly = true
	db, err := kv.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := nodestore.New(db)
	counts, err := ns.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{} // "q/level/col" -> n
	add := func(q nodestore.QueueType, level int, col string, n int64) {
		want[fmt.Sprintf("%s/%d/%s", q, level, col)] += n
	}
	for _, c := range counts {
		add(c.Queue, c.Level, "nodes", c.N)
		add(c.Queue, c.Level, string(c.Traversal), c.N)
		if c.Queue == nodestore.QueueSrc {
			add(c.Queue, c.Level, "copy_"+string(c.Copy), c.N)
		}
	}
	wantLowest := map[string]string{}
	for _, q := range nodestore.Queues {
		l, ok, err := ns.LowestPendingLevel(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		wantLowest[string(q)] = "none"
		if ok {
			wantLowest[string(q)] = strconv.Itoa(l)
		}
	}
	db.Close()
	if wantLowest["src"] == "none" {
		t.Fatal("the store has no pending src level: the test would not show one")
	}

	u := startServe(t, dsn, "--expected-nodes", "3001")
	console := watchConsole(ctx)
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(u+"progress"),
		chromedp.WaitVisible(chromedp.ID("levels-src")),
	); err != nil {
		t.Fatal(err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](readCells))
	if err != nil {
		t.Fatal(err)
	}
	var cells []cell
	if err := json.Unmarshal([]byte(raw), &cells); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range cells {
		n, err := strconv.ParseInt(strings.ReplaceAll(c.Text, ",", ""), 10, 64)
		if err != nil {
			t.Fatalf("cell %+v is not a number", c)
		}
		got[fmt.Sprintf("%s/%d/%s", c.Queue, c.Level, c.Col)] = n
	}
	checked := 0
	for k, n := range want {
		if got[k] != n {
			t.Errorf("the page shows %s = %d, nodestore counts %d", k, got[k], n)
		}
		checked++
	}
	for k, n := range got {
		if _, ok := want[k]; !ok && n != 0 {
			t.Errorf("the page shows %s = %d, nodestore counts none", k, n)
		}
	}
	raw, err = chromedp.Run(ctx, chromedp.Evaluate[string](readLowest))
	if err != nil {
		t.Fatal(err)
	}
	var lowest map[string]string
	if err := json.Unmarshal([]byte(raw), &lowest); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(lowest) != fmt.Sprint(wantLowest) {
		t.Errorf("lowest pending levels shown %v, want %v", lowest, wantLowest)
	}
	t.Logf("%d cells shown, %d figures compared with nodestore's counts; lowest pending %v", len(cells), checked, lowest)

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot: %d bytes, not a PNG", len(png))
	}

	// Every other page, one with a hostile key among the shown ones.
	for _, p := range []string{"", "logs", "logs?level=error", "keys", "keys?prefix=%3Cimg", "overview.json"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(u+p)); err != nil {
			t.Fatalf("load %s: %v", p, err)
		}
	}
	imgs, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('img').length`))
	if err != nil {
		t.Fatal(err)
	}
	if imgs != 0 {
		t.Errorf("the keys page holds %d <img> elements: a hostile key became markup", imgs)
	}
	time.Sleep(300 * time.Millisecond) // late console events
	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("console errors and warnings:\n%s", strings.Join(errs, "\n"))
	}
}

// TestBrowserLiveView: an engine's own server with the view mounted
// (as opview's Example), while copies and traversals go on; the progress
// page shows rates, an ETA and the chart, without console errors. With
// POLYKV_OPVIEW_SCREENSHOT=file.png it saves the page (the README's
// picture).
func TestBrowserLiveView(t *testing.T) {
	ctx := browser(t)
	dsn := traversedStore(t, 3000)
	cfg, err := kv.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := kv.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ns := nodestore.New(db)
	var toCopy, toTraverse []string
	err = ns.IterateNodes(context.Background(), kv.IterOptions{Prefix: []byte("src:")}, func(n nodestore.Node) error {
		if n.Copy == nodestore.CopyStatusPending {
			toCopy = append(toCopy, n.State.Path)
		}
		if n.Traversal == nodestore.TraversalStatusPending {
			toTraverse = append(toTraverse, n.State.Path)
		}
		return nil
	})
	if err != nil || len(toCopy) < 500 || len(toTraverse) == 0 {
		t.Fatalf("%d nodes to copy, %d to traverse: %v", len(toCopy), len(toTraverse), err)
	}

	// Start the browser first: it takes seconds.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	view, err := opview.New(db, opview.Options{ExpectedNodes: 3001, SampleInterval: 500 * time.Millisecond, SampleWindow: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	mux := http.NewServeMux()
	mux.Handle("/debug/polykv/", http.StripPrefix("/debug/polykv", view))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The migration: a batch of copies every 100 ms, faster then slower,
	// and the pending traversals finishing on the way.
	work, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for i := 0; len(toCopy) > 0; i++ {
			n := min(len(toCopy), 2+2*(i%12))
			cs := nodestore.CopyStatusSuccessful
			if i%9 == 4 {
				cs = nodestore.CopyStatusFailed
			}
			if _, err := ns.BatchSetCopyStatus(work, nodestore.QueueSrc, toCopy[:n], cs); err != nil {
				if work.Err() == nil {
					done <- err
				}
				return
			}
			toCopy = toCopy[n:]
			if i%4 == 3 && len(toTraverse) > 0 {
				k := min(len(toTraverse), 3)
				if _, err := ns.BatchSetStatus(work, nodestore.QueueSrc, toTraverse[:k], nodestore.TraversalStatusSuccessful); err != nil {
					done <- err
					return
				}
				toTraverse = toTraverse[k:]
			}
			select {
			case <-work.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(8 * time.Second)

	console := watchConsole(ctx)
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1100, 800),
		chromedp.Navigate(srv.URL+"/debug/polykv/progress"),
		chromedp.WaitVisible(chromedp.ID("levels-src")),
	); err != nil {
		t.Fatal(err)
	}
	lines, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('svg polyline').length`))
	if err != nil {
		t.Fatal(err)
	}
	summary, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('summary-src').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if lines != 3 || !strings.Contains(summary, "/s") || !regexp.MustCompile(`ETA copy\s*\d+(\.\d+)?(ms|s|m)`).MatchString(summary) {
		t.Errorf("the live page shows %d chart lines (want 3), summary %q (want rates and a copy ETA)", lines, summary)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("POLYKV_OPVIEW_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot of the live progress page: %s", out)
	}
	time.Sleep(300 * time.Millisecond)
	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("console errors and warnings:\n%s", strings.Join(errs, "\n"))
	}
}

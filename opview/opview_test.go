package opview_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
	"github.com/polykv/polykv/nodestore"
	"github.com/polykv/polykv/opview"
)

// Hostile keys: markup, invalid UTF-8, NUL and control bytes.
var hostile = [][]byte{
	[]byte(`<script>alert("key")</script>`),
	[]byte("bin:\xff\xfe\x00\x01"),
	[]byte("nul\x00<b>x</b>"),
	[]byte("quote:\"'&<>\n"),
}

const hostileValue = `<img src=x onerror=alert(1)>` + "\x00\xff"

func openStore(t testing.TB) *kv.DB {
	t.Helper()
	db, err := memory.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func folder(q nodestore.QueueType, level int, path, parent string) nodestore.Node {
	return node(q, level, path, parent, nodestore.NodeTypeFolder)
}

func node(q nodestore.QueueType, level int, path, parent string, typ nodestore.NodeType) nodestore.Node {
	name := path[strings.LastIndexByte(path, '/')+1:]
	if path == "/" {
		name = "root"
	}
	n := nodestore.Node{Queue: q, Level: level, Traversal: nodestore.TraversalStatusPending,
		State: nodestore.NodeState{ID: path, Name: name, Path: path, ParentPath: parent, Type: typ, Depth: level}}
	if q == nodestore.QueueSrc {
		n.Copy = nodestore.CopyStatusPending
	}
	return n
}

// seed writes a small traversal in progress (src: 3 levels, statuses of
// every kind; dst: 2 levels), log entries, and the hostile keys.
func seed(t testing.TB, db kv.Store) {
	t.Helper()
	ctx := context.Background()
	ns := nodestore.New(db)
	src, dst := nodestore.QueueSrc, nodestore.QueueDst
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ns.Insert(ctx, folder(src, 0, "/", "")))
	_, err := ns.CompleteWithChildren(ctx, src, "/", nodestore.TraversalStatusSuccessful, []nodestore.Node{
		folder(src, 1, "/a", "/"), node(src, 1, "/b", "/", nodestore.NodeTypeFile), node(src, 1, "/c", "/", nodestore.NodeTypeFile),
	})
	must(err)
	_, err = ns.CompleteWithChildren(ctx, src, "/a", nodestore.TraversalStatusSuccessful, []nodestore.Node{
		node(src, 2, "/a/x", "/a", nodestore.NodeTypeFile), node(src, 2, "/a/y", "/a", nodestore.NodeTypeFile),
	})
	must(err)
	_, err = ns.SetStatus(ctx, src, "/b", nodestore.TraversalStatusSuccessful)
	must(err)
	_, err = ns.SetCopyStatus(ctx, src, "/b", nodestore.CopyStatusSuccessful)
	must(err)
	_, err = ns.SetStatus(ctx, src, "/c", nodestore.TraversalStatusFailed)
	must(err)
	_, err = ns.SetCopyStatus(ctx, src, "/c", nodestore.CopyStatusFailed)
	must(err)
	must(ns.Insert(ctx, folder(dst, 0, "/", "")))
	_, err = ns.CompleteWithChildren(ctx, dst, "/", nodestore.TraversalStatusSuccessful, []nodestore.Node{folder(dst, 1, "/a", "/")})
	must(err)

	buf := logstore.NewLogBuffer(db, 100, time.Second)
	for i, e := range []logstore.LogEntry{
		{Level: logstore.LevelInfo, Entity: "worker", EntityID: "w1", Queue: "src", Message: "started"},
		{Level: logstore.LevelError, Entity: "worker", EntityID: "w1", Queue: "src", Message: `<script>alert("log")</script>`, Attrs: map[string]any{"path": "</td><b>"}},
		{Level: logstore.LevelWarning, Entity: "copier", Queue: "dst", Message: "slow"},
		{Level: logstore.LevelInfo, Entity: "worker", EntityID: "w2", Queue: "src", Message: "listed"},
		{Level: logstore.LevelError, Entity: "copier", Queue: "src", Message: "copy failed"},
	} {
		must(buf.Add(e))
		if i < 4 {
			time.Sleep(2 * time.Millisecond) // distinct milliseconds: a stable order
		}
	}
	must(buf.Stop())
	for _, k := range hostile {
		must(db.Set(ctx, k, []byte(hostileValue)))
	}
}

// newView returns a test server serving a view of a seeded store (mounted
// under /view/, as an engine would).
func newView(t testing.TB, opts opview.Options) (*httptest.Server, *kv.DB, *opview.Handler) {
	t.Helper()
	db := openStore(t)
	seed(t, db)
	if opts.SampleInterval == 0 {
		opts.SampleInterval = -1
	}
	h, err := opview.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	mux := http.NewServeMux()
	mux.Handle("/view/", http.StripPrefix("/view", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, db, h
}

func get(t testing.TB, method, u string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func getJSON(t testing.TB, u string, v any) {
	t.Helper()
	resp, body := get(t, "GET", u)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s: Content-Type %q", u, ct)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", u, err, body)
	}
}

func TestEveryPage(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "polykv_test_total", Help: "a test counter"})
	reg.MustRegister(c)
	c.Add(3)
	srv, _, _ := newView(t, opview.Options{Gatherer: reg})
	for _, tc := range []struct {
		path, ctype string
		want        []string
	}{
		{"/view/", "text/html", []string{"<title>polykv · Overview</title>", `id="backend">memory<`, "src:00000001", "log:error", "src:children", `href="progress"`, `href="metrics"`, `href="overview.json"`}},
		{"/view/progress", "text/html", []string{`<meta http-equiv="refresh" content="5">`, "lowest pending level", `data-q="src" data-level="2"`, `<h2>dst</h2>`}},
		{"/view/logs", "text/html", []string{"copy failed", "slow", "started", `name="level" value="critical"`}},
		{"/view/keys", "text/html", []string{"src:00000000:successful:pending:", "dst:children:"}},
		{"/view/overview.json", "application/json", []string{`"backend": "memory"`, `"families"`}},
		{"/view/progress.json", "application/json", []string{`"queues"`, `"lowest_pending_level": 2`}},
		{"/view/logs.json", "application/json", []string{`"message": "copy failed"`}},
		{"/view/keys.json", "application/json", []string{`"key_hex"`}},
		{"/view/metrics", "text/plain", []string{"polykv_test_total 3"}},
		{"/view/favicon.ico", "image/svg+xml", []string{"<svg"}},
	} {
		resp, body := get(t, "GET", srv.URL+tc.path)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %s\n%s", tc.path, resp.Status, body)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff header", tc.path)
		}
		if tc.ctype == "text/html" && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, resp.Header.Get("Content-Security-Policy"))
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: body lacks %q:\n%s", tc.path, w, body)
			}
		}
		if tc.ctype == "text/html" && strings.Contains(body, "<script") {
			t.Errorf("GET %s: the page holds a script tag", tc.path)
		}
		// HEAD answers like GET, without a body.
		resp, body = get(t, "HEAD", srv.URL+tc.path)
		if resp.StatusCode != 200 || body != "" {
			t.Errorf("HEAD %s: %s, %d bytes of body", tc.path, resp.Status, len(body))
		}
	}
	for _, p := range []string{"/view/nosuch", "/view/progress/", "/view/keys.jsonx"} {
		if resp, body := get(t, "GET", srv.URL+p); resp.StatusCode != 404 || !strings.Contains(body, "opview: no page") {
			t.Errorf("GET %s: %s %q, want 404", p, resp.Status, body)
		}
	}
}

// TestEmptyStore: every page of an empty store renders, and its JSON has
// empty lists, not nulls.
func TestEmptyStore(t *testing.T) {
	h, err := opview.New(openStore(t), opview.Options{SampleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, p := range []string{"/", "/progress", "/logs", "/keys", "/overview.json", "/progress.json", "/logs.json", "/keys.json"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		// Null means "not known" for these; lists are never null.
		body := regexp.MustCompile(`"(lowest_pending_level|traversed_per_second)": null`).ReplaceAllString(rec.Body.String(), "")
		if rec.Code != 200 || strings.Contains(body, "null") {
			t.Errorf("GET %s of an empty store: %d\n%s", p, rec.Code, rec.Body.String())
		}
	}
}

func TestMetricsWithoutGatherer(t *testing.T) {
	srv, _, _ := newView(t, opview.Options{})
	resp, body := get(t, "GET", srv.URL+"/view/metrics")
	if resp.StatusCode != 404 || !strings.Contains(body, "without a Gatherer") {
		t.Fatalf("GET /metrics without a Gatherer: %s %q", resp.Status, body)
	}
	_, page := get(t, "GET", srv.URL+"/view/")
	if strings.Contains(page, `href="metrics"`) {
		t.Error("the navigation links to /metrics, which is not served")
	}
}

// TestHostileKeysEscaped: keys, values and log fields are arbitrary bytes;
// no page may let them become markup, and the JSON gives their exact bytes.
func TestHostileKeysEscaped(t *testing.T) {
	srv, _, _ := newView(t, opview.Options{})
	for _, p := range []string{"/view/", "/view/keys", "/view/keys?prefix=%3Cscript", "/view/logs", "/view/keys?enc=hex&prefix=" + hex.EncodeToString([]byte("nul\x00"))} {
		resp, body := get(t, "GET", srv.URL+p)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s\n%s", p, resp.Status, body)
		}
		for _, bad := range []string{"<script", "<img", "<b>", "</td><b>", "\x00", "\xff"} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s: body holds %q unescaped", p, bad)
			}
		}
	}
	_, body := get(t, "GET", srv.URL+"/view/keys")
	for _, want := range []string{
		`&lt;script&gt;alert(\&#34;key\&#34;)&lt;/script&gt;`, // the key as text
		hex.EncodeToString(hostile[0]),                        // and as hex
		`bin:\xff\xfe\x00\x01`,
		`nul\x00&lt;b&gt;x&lt;/b&gt;`,
		`&lt;img src=x onerror=alert(1)&gt;\x00\xff`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("keys page lacks %q", want)
		}
	}
	_, logs := get(t, "GET", srv.URL+"/view/logs")
	if !strings.Contains(logs, `&lt;script&gt;alert(&#34;log&#34;)&lt;/script&gt;`) || !strings.Contains(logs, `&lt;/td&gt;&lt;b&gt;`) {
		t.Errorf("logs page does not show the hostile message and attribute as text:\n%s", logs)
	}

	// A text prefix that is not UTF-8 comes back to the form as hex, and
	// finds the same keys.
	_, body = get(t, "GET", srv.URL+"/view/keys?prefix=bin:%FF")
	if !strings.Contains(body, `value="62696e3aff"`) || !strings.Contains(body, `value="hex" checked`) || !strings.Contains(body, hex.EncodeToString(hostile[1])) {
		t.Errorf("keys page with a non-UTF-8 text prefix:\n%s", body)
	}

	var keys opview.Keys
	getJSON(t, srv.URL+"/view/keys.json?limit=1000", &keys)
	found := map[string]bool{}
	for _, e := range keys.Entries {
		k, err := hex.DecodeString(e.KeyHex)
		if err != nil {
			t.Fatal(err)
		}
		found[string(k)] = true
		if bytes.Equal(k, hostile[1]) {
			if e.Key != `bin:\xff\xfe\x00\x01` || e.ValueHex != hex.EncodeToString([]byte(hostileValue)) || e.ValueLen != len(hostileValue) {
				t.Errorf("keys.json entry of %q: %+v", k, e)
			}
		}
	}
	for _, k := range hostile {
		if !found[string(k)] {
			t.Errorf("keys.json lacks key %q", k)
		}
	}
}

// TestKeysFormKeepsTextItCannotHold: a text prefix or start holding NUL,
// CR or LF (valid UTF-8, but html/template writes NUL in an attribute as
// U+FFFD and browsers strip CR and LF from an input's value) comes back to
// the form as hex, so that submitting it again finds the same keys.
func TestKeysFormKeepsTextItCannotHold(t *testing.T) {
	srv, _, _ := newView(t, opview.Options{})
	for _, tc := range []struct{ query, prefix, start string }{
		{"prefix=nul%00", "6e756c00", ""},
		{"prefix=quote:&start=quote:%22%27%26%3C%3E%0A", "71756f74653a", hex.EncodeToString(hostile[3])},
		{"prefix=a%0Db", "610d62", ""},
	} {
		_, body := get(t, "GET", srv.URL+"/view/keys?"+tc.query)
		for _, want := range []string{`name="prefix" value="` + tc.prefix + `"`, `name="start" value="` + tc.start + `"`, `value="hex" checked`} {
			if !strings.Contains(body, want) {
				t.Errorf("keys?%s: the form lacks %s", tc.query, want)
			}
		}
	}
}

func TestToken(t *testing.T) {
	srv, _, _ := newView(t, opview.Options{Token: "tok-123", Gatherer: prometheus.NewRegistry()})
	for _, p := range []string{"/view/", "/view/progress", "/view/progress.json", "/view/keys", "/view/logs.json", "/view/metrics", "/view/nosuch"} {
		for _, auth := range []string{"", "Bearer tok-12", "Bearer tok-1234", "Basic tok-123", "tok-123", "Bearer  tok-123"} {
			resp, body := get(t, "GET", srv.URL+p, "Authorization", auth)
			if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") || strings.Contains(body, "src:") {
				t.Errorf("GET %s with Authorization %q: %s, WWW-Authenticate %q", p, auth, resp.Status, resp.Header.Get("WWW-Authenticate"))
			}
		}
		want := 200
		if p == "/view/nosuch" {
			want = 404
		}
		// The scheme's name is case-insensitive (RFC 9110).
		for _, auth := range []string{"Bearer tok-123", "bearer tok-123", "BEARER tok-123"} {
			if resp, _ := get(t, "GET", srv.URL+p, "Authorization", auth); resp.StatusCode != want {
				t.Errorf("GET %s with %q: %s, want %d", p, auth, resp.Status, want)
			}
		}
	}
}

// TestReadOnly: every method but GET and HEAD is 405, on every path, and
// the store is unchanged.
func TestReadOnly(t *testing.T) {
	srv, db, _ := newView(t, opview.Options{})
	before := dump(t, db)
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PROPFIND"} {
		for _, p := range []string{"/view/", "/view/keys?prefix=src", "/view/progress.json", "/view/metrics", "/view/nosuch"} {
			resp, _ := get(t, m, srv.URL+p)
			if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %s, Allow %q; want 405 with Allow: GET, HEAD", m, p, resp.Status, resp.Header.Get("Allow"))
			}
		}
	}
	for _, p := range []string{"/view/", "/view/progress", "/view/logs", "/view/keys", "/view/keys.json?limit=1000"} {
		get(t, "GET", srv.URL+p)
	}
	if after := dump(t, db); !bytes.Equal(before, after) {
		t.Error("the store changed while being viewed")
	}
}

func dump(t testing.TB, db kv.Store) []byte {
	var b bytes.Buffer
	err := db.Iterate(context.Background(), kv.IterOptions{}, func(k, v []byte) error {
		fmt.Fprintf(&b, "%q=%q\n", k, v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestProgressMatchesCounts: the progress figures are nodestore's counters.
func TestProgressMatchesCounts(t *testing.T) {
	srv, db, _ := newView(t, opview.Options{})
	var p opview.Progress
	getJSON(t, srv.URL+"/view/progress.json", &p)
	counts, err := nodestore.New(db).Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Counts) != len(counts) {
		t.Fatalf("progress.json has %d counters, nodestore %d", len(p.Counts), len(counts))
	}
	for i, c := range counts {
		got := p.Counts[i]
		if got.Queue != string(c.Queue) || got.Level != c.Level || got.Traversal != string(c.Traversal) || got.Copy != string(c.Copy) || got.N != c.N {
			t.Errorf("counter %d: %+v, nodestore %+v", i, got, c)
		}
	}
	want := map[string][]opview.LevelRow{
		"src": {
			{Level: 0, Nodes: 1, Successful: 1, CopyPending: 1, PercentTraversed: 100},
			{Level: 1, Nodes: 3, Successful: 2, Failed: 1, CopyPending: 1, CopySuccessful: 1, CopyFailed: 1, PercentTraversed: 100, PercentCopied: 66.6},
			{Level: 2, Nodes: 2, Pending: 2, CopyPending: 2},
		},
		"dst": {
			{Level: 0, Nodes: 1, Successful: 1, PercentTraversed: 100},
			{Level: 1, Nodes: 1, Pending: 1},
		},
	}
	lowest := map[string]int{"src": 2, "dst": 1}
	if len(p.Queues) != 2 || p.Queues[0].Queue != "src" || p.Queues[1].Queue != "dst" {
		t.Fatalf("queues %+v", p.Queues)
	}
	for _, q := range p.Queues {
		if fmt.Sprint(q.Levels) != fmt.Sprint(want[q.Queue]) {
			t.Errorf("%s levels:\n got %+v\nwant %+v", q.Queue, q.Levels, want[q.Queue])
		}
		if q.LowestPendingLevel == nil || *q.LowestPendingLevel != lowest[q.Queue] {
			t.Errorf("%s lowest pending level %v, want %d", q.Queue, q.LowestPendingLevel, lowest[q.Queue])
		}
		if q.TraversedPerSecond != nil || q.TraversalETA != nil {
			t.Errorf("%s: a rate without samples", q.Queue)
		}
	}
	if tot := p.Queues[0].Total; tot.Nodes != 6 || tot.Pending != 2 || tot.Level != -1 {
		t.Errorf("src total %+v", tot)
	}
}

func TestBadParameters(t *testing.T) {
	srv, _, _ := newView(t, opview.Options{})
	for _, tc := range []struct{ path, want string }{
		{"/view/keys?enc=hex&prefix=zz", `prefix "zz" is not hex`},
		{"/view/keys?enc=hex&start=abc", `start "abc" is not hex`},
		{"/view/keys?enc=base64", `enc "base64": want text or hex`},
		{"/view/keys?limit=-1", `limit "-1"`},
		{"/view/keys.json?limit=x", `limit "x"`},
		{"/view/keys?prefix=" + strings.Repeat("a", kv.MaxKeySize+1), "longer than the longest key"},
		{"/view/logs?level=loud", `level "loud"`},
		{"/view/logs.json?since=yesterday", `since "yesterday"`},
		{"/view/logs?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "is not before until"},
		{"/view/logs?after=log:info:nope", `after "log:info:nope": not a log cursor`},
		// A query that does not decode: its filter was dropped, and the
		// page showed every key.
		{"/view/keys.json?prefix=%zz", `invalid URL escape "%zz"`},
	} {
		resp, body := get(t, "GET", srv.URL+tc.path)
		if resp.StatusCode != 400 || !strings.Contains(body, tc.want) || !strings.HasPrefix(body, "opview: ") {
			t.Errorf("GET %s: %s %q, want 400 with %q", tc.path, resp.Status, body, tc.want)
		}
	}
}

// TestKeysPaging: following "next" from a prefix visits every key of the
// prefix once, in order, whatever the limit.
func TestKeysPaging(t *testing.T) {
	srv, db, _ := newView(t, opview.Options{})
	var want []string
	err := db.Iterate(context.Background(), kv.IterOptions{Prefix: []byte("src:")}, func(k, _ []byte) error {
		want = append(want, hex.EncodeToString(k))
		return nil
	})
	if err != nil || len(want) < 10 {
		t.Fatalf("%d src keys, %v", len(want), err)
	}
	for _, limit := range []int{1, 3, len(want), len(want) + 1} {
		var got []string
		q := url.Values{"prefix": {"src:"}, "limit": {fmt.Sprint(limit)}}.Encode()
		for pages := 0; q != ""; pages++ {
			if pages > len(want)+1 {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			var k opview.Keys
			getJSON(t, srv.URL+"/view/keys.json?"+q, &k)
			if len(k.Entries) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(k.Entries))
			}
			for _, e := range k.Entries {
				got = append(got, e.KeyHex)
			}
			q = k.Next
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("limit %d: paging visited\n%v\nwant\n%v", limit, got, want)
		}
	}
	// The HTML page links to the same next page.
	_, body := get(t, "GET", srv.URL+"/view/keys?prefix=src:&limit=2")
	if !strings.Contains(body, `id="next"`) || !strings.Contains(body, "enc=hex") {
		t.Errorf("keys page has no next link:\n%s", body)
	}
	// A start key inside the prefix starts there; the cap holds.
	var k opview.Keys
	getJSON(t, srv.URL+"/view/keys.json?prefix=src:&start=src:children:&limit=100000", &k)
	if k.Limit != opview.MaxKeysLimit || len(k.Entries) == 0 || !strings.HasPrefix(k.Entries[0].Key, "src:children:") {
		t.Errorf("start inside the prefix: limit %d, first %+v", k.Limit, k.Entries[:min(1, len(k.Entries))])
	}
}

func TestLogsQuery(t *testing.T) {
	srv, db, _ := newView(t, opview.Options{})
	all, err := logstore.Newest(context.Background(), db, 100)
	if err != nil || len(all) != 5 {
		t.Fatalf("%d entries, %v", len(all), err)
	}
	var l opview.Logs
	getJSON(t, srv.URL+"/view/logs.json", &l)
	if len(l.Entries) != 5 || l.Next != "" {
		t.Fatalf("logs.json: %d entries, next %q", len(l.Entries), l.Next)
	}
	for i, e := range l.Entries {
		if e.ID != all[i].ID || e.Message != all[i].Message {
			t.Errorf("entry %d: %+v, want %+v (newest first)", i, e, all[i])
		}
	}
	// Paging by two: every entry once, newest first.
	var ids []string
	q := "limit=2"
	for q != "" {
		var p opview.Logs
		getJSON(t, srv.URL+"/view/logs.json?"+q, &p)
		for _, e := range p.Entries {
			ids = append(ids, e.ID)
		}
		q = p.Next
	}
	var want []string
	for _, e := range all {
		want = append(want, e.ID)
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("paging by 2: %v, want %v", ids, want)
	}
	// Level and entity filters.
	getJSON(t, srv.URL+"/view/logs.json?level=error&level=warning", &l)
	if len(l.Entries) != 3 {
		t.Errorf("error+warning: %d entries, want 3", len(l.Entries))
	}
	for _, e := range l.Entries {
		if e.Level != "error" && e.Level != "warning" {
			t.Errorf("level filter let %+v through", e)
		}
	}
	getJSON(t, srv.URL+"/view/logs.json?level=error,info&entity=worker", &l)
	if len(l.Entries) != 3 {
		t.Errorf("error+info of worker: %d entries, want 3", len(l.Entries))
	}
	// Time filter: nothing before the first entry, everything since it.
	first, _ := logstore.IDTime(all[len(all)-1].ID)
	getJSON(t, srv.URL+"/view/logs.json?until="+url.QueryEscape(first.UTC().Format(time.RFC3339Nano)), &l)
	if len(l.Entries) != 0 {
		t.Errorf("until the first entry: %d entries", len(l.Entries))
	}
	getJSON(t, srv.URL+"/view/logs.json?since="+url.QueryEscape(first.UTC().Format(time.RFC3339Nano)), &l)
	if len(l.Entries) != 5 {
		t.Errorf("since the first entry: %d entries", len(l.Entries))
	}
	_, body := get(t, "GET", srv.URL+"/view/logs?level=error&limit=1")
	if !strings.Contains(body, `href="logs.json?level=error&amp;limit=1"`) {
		t.Errorf("logs page: the JSON link does not carry the query:\n%s", body)
	}
	if !strings.Contains(body, `id="next"`) || !strings.Contains(body, `value="error" checked`) {
		t.Errorf("logs page: no next link or checked level:\n%s", body)
	}
}

func TestNewErrors(t *testing.T) {
	db := openStore(t)
	for _, tc := range []struct {
		store kv.Store
		opts  opview.Options
		want  string
	}{
		{nil, opview.Options{}, "nil store"},
		{db, opview.Options{ExpectedNodes: -1}, "ExpectedNodes -1"},
		{db, opview.Options{SampleWindow: -time.Second}, "SampleWindow -1s"},
	} {
		h, err := opview.New(tc.store, tc.opts)
		if h != nil || !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "opview: ") {
			t.Errorf("New(%+v): %v, want an error wrapping kv.ErrInvalidConfig naming %q", tc.opts, err, tc.want)
		}
	}
}

// TestSamplerThroughputAndClose: the sampler measures the traversal going
// on, the page shows a rate, a chart and an ETA, and Close stops its
// goroutine.
func TestSamplerThroughputAndClose(t *testing.T) {
	before := runtime.NumGoroutine()
	db := openStore(t)
	seed(t, db)
	h, err := opview.New(db, opview.Options{SampleInterval: 5 * time.Millisecond, SampleWindow: time.Minute, ExpectedNodes: 100})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ns := nodestore.New(db)
	ctx := context.Background()
	for _, p := range []string{"/a/x", "/a/y"} {
		time.Sleep(20 * time.Millisecond)
		if _, err := ns.SetStatus(ctx, nodestore.QueueSrc, p, nodestore.TraversalStatusSuccessful); err != nil {
			t.Fatal(err)
		}
		if _, err := ns.SetCopyStatus(ctx, nodestore.QueueSrc, p, nodestore.CopyStatusSuccessful); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	var p opview.Progress
	for {
		getJSON(t, srv.URL+"/progress.json", &p)
		src := p.Queues[0]
		if src.TraversedPerSecond != nil && *src.TraversedPerSecond > 0 && src.Total.Pending == 0 && p.Samples > 4 {
			if src.CopiedPerSecond == nil || *src.CopiedPerSecond <= 0 {
				t.Errorf("copied per second %v, want > 0", src.CopiedPerSecond)
			}
			if src.TraversalETA == nil || src.CopyETA == nil || *src.TraversalETA <= 0 {
				t.Errorf("ETA traversal %v, copy %v: want both, traversal > 0 (94 of 100 nodes left)", src.TraversalETA, src.CopyETA)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no throughput measured: %+v", p.Queues[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, body := get(t, "GET", srv.URL+"/progress")
	if !strings.Contains(body, "<polyline") || !strings.Contains(body, "src traversed/s") {
		t.Errorf("progress page has no chart:\n%s", body)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	srv.Close()
	http.DefaultClient.CloseIdleConnections()
	// The sampler's goroutine is gone (the server's may take a moment).
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	// After Close the view still serves, from the samples it has, and
	// takes no more.
	samples := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/progress.json", nil))
		var after opview.Progress
		if err := json.Unmarshal(rec.Body.Bytes(), &after); err != nil || rec.Code != 200 {
			t.Fatalf("after Close: %d %v", rec.Code, err)
		}
		return after.Samples
	}
	n := samples()
	time.Sleep(30 * time.Millisecond)
	if m := samples(); m != n || n < 2 {
		t.Errorf("samples after Close: %d, then %d 30 ms later", n, m)
	}
}

// TestClosedStore: with its store closed under it, the view answers 500
// naming the cause, and its sampler neither panics nor blocks Close.
func TestClosedStore(t *testing.T) {
	db := openStore(t)
	h, err := opview.New(db, opview.Options{SampleInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	db.Close()
	time.Sleep(5 * time.Millisecond) // a few samples fail
	for _, p := range []string{"/", "/progress", "/logs.json", "/keys"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 500 || !strings.Contains(rec.Body.String(), "closed") {
			t.Errorf("GET %s of a closed store: %d %q", p, rec.Code, rec.Body.String())
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOverviewFamilies: families and their counts on the seeded store; a
// store of binary keys stops the listing after MaxFamilySteps and says so.
func TestOverviewFamilies(t *testing.T) {
	srv, _, _ := newView(t, opview.Options{})
	var o opview.Overview
	getJSON(t, srv.URL+"/view/overview.json", &o)
	got := map[string]int64{}
	for _, f := range o.Families {
		got[f.Name] = f.Keys
	}
	want := map[string]int64{
		"src:00000000": 1, "src:00000001": 3, "src:00000002": 2, "src:children": 5, "src:path": 6,
		"dst:00000000": 1, "dst:00000001": 1, "dst:children": 1, "dst:path": 2,
		"log:info": 2, "log:error": 2, "log:warning": 1,
		"(other)": 2, "bin": 1, "quote": 1,
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("family %s: %d keys, want %d (all: %v)", name, got[name], n, got)
		}
	}
	if o.FamiliesTruncated || o.Backend != "memory" || o.DiskBytes != -1 {
		t.Errorf("overview %+v", o)
	}

	db := openStore(t)
	for i := range opview.MaxFamilySteps + 10 {
		if err := db.Set(context.Background(), []byte{0, byte(i >> 8), byte(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	h, err := opview.New(db, opview.Options{SampleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/overview.json", nil))
	o = opview.Overview{}
	if err := json.Unmarshal(rec.Body.Bytes(), &o); err != nil {
		t.Fatal(err)
	}
	if !o.FamiliesTruncated || len(o.Families) != 1 || !o.Families[0].KeysCapped || o.Families[0].Keys != opview.MaxFamilySteps {
		t.Errorf("overview of %d binary keys: truncated %v, families %+v", opview.MaxFamilySteps+10, o.FamiliesTruncated, o.Families)
	}
}

// TestOverviewFamilyGrouping: a key of src, dst or log is in the family
// up to its second ':' when the part between the colons is a word, and
// in "(other)" when it is not (no second ':', an empty part, a part that
// is not a word). Such a key was given the family up to its first ':',
// whose prefix ("src:") holds every family of the queue: the overview
// counted the node families' keys again under "src", or skipped them.
func TestOverviewFamilyGrouping(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string
		want []string // family=keys, in key order
	}{
		{"nodestore and log layout",
			[]string{"src:00000003:pending:pending:h1", "src:00000003:pending:pending:h2", "src:children:a:b",
				"src:count:00000003:pending:pending:01", "dst:00000001:successful::h", "log:info:id", "nodestore:rebuild", "meta:x"},
			[]string{"dst:00000001=1", "log:info=1", "meta=1", "nodestore=1", "src:00000003=2", "src:children=1", "src:count=1"}},
		{"queue alone",
			[]string{"src:", "src:00000003:pending:pending:h1", "src:children:a:b"},
			[]string{"(other)=1", "src:00000003=1", "src:children=1"}},
		{"no second colon",
			[]string{"src:00000003:pending:pending:h1", "src:zzz"},
			[]string{"src:00000003=1", "(other)=1"}},
		{"level without the rest",
			[]string{"src:00000003", "src:00000003:pending:pending:h1"},
			[]string{"(other)=1", "src:00000003=1"}},
		{"empty part",
			[]string{"dst::x", "dst:00000001:successful::h"},
			[]string{"dst:00000001=1", "(other)=1"}},
		{"part not a word",
			[]string{"log:a b:x", "log:info:id"},
			[]string{"(other)=1", "log:info=1"}},
		{"part too long",
			[]string{"log:info:id", "log:" + strings.Repeat("w", 40) + ":x"},
			[]string{"log:info=1", "(other)=1"}},
		{"no colon, leading colon",
			[]string{":x", "src", "srcx:y"},
			[]string{"(other)=2", "srcx=1"}},
	} {
		db := openStore(t)
		for _, k := range tc.keys {
			if err := db.Set(context.Background(), []byte(k), nil); err != nil {
				t.Fatal(err)
			}
		}
		h, err := opview.New(db, opview.Options{SampleInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/overview.json", nil))
		h.Close()
		var o opview.Overview
		if err := json.Unmarshal(rec.Body.Bytes(), &o); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range o.Families {
			got = append(got, fmt.Sprintf("%s=%d", f.Name, f.Keys))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: families of %q: %q, want %q", tc.name, tc.keys, got, tc.want)
		}
	}
}

// TestLogsForeignKeys: keys under "log:" that hold no entry this build
// can read (written by something else, damaged, or by a newer polykv) do
// not fail the log page: it shows the entries around them and lists them,
// escaped, as unreadable, with the reason; the JSON twin does the same.
func TestLogsForeignKeys(t *testing.T) {
	srv, db, _ := newView(t, opview.Options{})
	ctx := context.Background()
	foreign := map[string]string{
		"log:info:not-a-log-id":                                 "x",
		"log:info:<script>alert(1)</script>":                    "x",
		"log:error:" + logstore.GenerateLogID():                 "{not json",
		"log:warning:" + logstore.GenerateLogID():               `{"v":99,"msg":"from a newer polykv"}`,
		"log:nosuchlevel:" + logstore.GenerateLogID():           "x", // outside every level's range: never read
		"log:critical:" + strings.Repeat("f", logstore.IDLen-1): "x",
	}
	for k, v := range foreign {
		if err := db.Set(ctx, []byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	var l opview.Logs
	getJSON(t, srv.URL+"/view/logs.json", &l)
	if len(l.Entries) != 5 {
		t.Errorf("logs.json: %d entries, want the 5 readable ones", len(l.Entries))
	}
	if len(l.Unreadable) != 5 {
		t.Errorf("logs.json: %d unreadable keys, want 5: %+v", len(l.Unreadable), l.Unreadable)
	}
	for _, u := range l.Unreadable {
		k, err := hex.DecodeString(u.KeyHex)
		if err != nil || foreign[string(k)] == "" || u.Error == "" {
			t.Errorf("unreadable %+v: not one of the foreign keys, or no reason", u)
		}
	}
	resp, body := get(t, "GET", srv.URL+"/view/logs")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /logs: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{"copy failed", "not-a-log-id", "&lt;script&gt;alert(1)&lt;/script&gt;", "version 99"} {
		if !strings.Contains(body, want) {
			t.Errorf("logs page does not show %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Errorf("logs page holds a foreign key unescaped:\n%s", body)
	}
	// A page that ends on the limit resumes after its last readable
	// entry, never at an unreadable key.
	getJSON(t, srv.URL+"/view/logs.json?limit=2", &l)
	for l.Next != "" {
		if len(l.Entries) == 0 {
			t.Fatalf("a page with no entries links to another: %s", l.Next)
		}
		var next opview.Logs
		getJSON(t, srv.URL+"/view/logs.json?"+l.Next, &next)
		l = next
	}
}

// TestLogsCapHugeFields: entries with a message, attributes and short
// fields of many KiB each. The log page and its JSON show at most
// MaxLogTextShown bytes of the message and of the attributes, cut at a
// character boundary, with the full length and a truncation flag (a
// marker on the page), and at most MaxLogFieldShown bytes of each short
// field. The response and what the request allocates stay bounded: the
// page used to copy every field in full (240 MiB of HTML for 20 entries of
// 3 MiB).
func TestLogsCapHugeFields(t *testing.T) {
	db := openStore(t)
	const n = 12
	msg := strings.Repeat("<é", 200_000) // 600 KB; "<" escapes to 4 bytes or more, "é" is 2 bytes
	attrs := map[string]any{"blob": strings.Repeat("x", 300_000)}
	entity := strings.Repeat("e", 50_000)
	buf := logstore.NewLogBuffer(db, n, time.Second)
	for range n {
		if err := buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Entity: entity, Queue: "src", Message: msg, Attrs: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	if err := buf.Add(logstore.LogEntry{Level: logstore.LevelError, Message: "short", Attrs: map[string]any{"k": 1}}); err != nil {
		t.Fatal(err)
	}
	if err := buf.Stop(); err != nil {
		t.Fatal(err)
	}
	srv := serveView(t, db)
	stored := n * (len(msg) + len(entity) + 300_000)

	// allocated returns the body of GET u and the bytes allocated meanwhile
	// (this process: the handler, the client and the test server).
	allocated := func(u string) (string, uint64) {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		resp, body := get(t, "GET", u)
		runtime.ReadMemStats(&m1)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s\n%.500s", u, resp.Status, body)
		}
		return body, m1.TotalAlloc - m0.TotalAlloc
	}
	// Reading the entries decodes each whole (logstore.Scan), one at a
	// time: a few times what is stored, not what printing it all would take.
	maxAlloc := uint64(8*stored + 32<<20)
	perEntry := 2*(opview.MaxLogTextShown+4*opview.MaxLogFieldShown)*6 + 1024 // JSON escapes "<" as \u003c

	body, alloc := allocated(srv.URL + "/logs.json?limit=1000")
	if len(body) > (n+1)*perEntry {
		t.Errorf("logs.json: %d bytes for %d entries, want at most %d each", len(body), n+1, perEntry)
	}
	if alloc > maxAlloc {
		t.Errorf("logs.json: the request allocated %d MiB for %d MiB stored", alloc>>20, stored>>20)
	}
	var l struct {
		Entries []struct {
			Level            string   `json:"level"`
			Entity           string   `json:"entity"`
			Queue            string   `json:"queue"`
			Message          string   `json:"message"`
			MessageLen       int      `json:"message_len"`
			MessageTruncated bool     `json:"message_truncated"`
			Attrs            string   `json:"attrs"`
			AttrsLen         int      `json:"attrs_len"`
			AttrsTruncated   bool     `json:"attrs_truncated"`
			TruncatedFields  []string `json:"truncated_fields"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("logs.json: %v", err)
	}
	if len(l.Entries) != n+1 {
		t.Fatalf("logs.json: %d entries, want %d", len(l.Entries), n+1)
	}
	wantAttrs := `{"blob":"` + attrs["blob"].(string) + `"}`
	for i, e := range l.Entries {
		if e.Level == "error" {
			if e.Message != "short" || e.MessageLen != 5 || e.MessageTruncated || e.Attrs != `{"k":1}` || e.AttrsLen != 7 || e.AttrsTruncated || e.TruncatedFields != nil {
				t.Errorf("entry %d, a small one: %+v", i, e)
			}
			continue
		}
		if len(e.Message) > opview.MaxLogTextShown || len(e.Message) < opview.MaxLogTextShown-utf8.UTFMax ||
			!utf8.ValidString(e.Message) || !strings.HasPrefix(msg, e.Message) || e.MessageLen != len(msg) || !e.MessageTruncated {
			t.Errorf("entry %d: message of %d bytes (valid UTF-8 %v), message_len %d, truncated %v; want its first %d bytes of %d",
				i, len(e.Message), utf8.ValidString(e.Message), e.MessageLen, e.MessageTruncated, opview.MaxLogTextShown, len(msg))
		}
		if len(e.Attrs) > opview.MaxLogTextShown || !strings.HasPrefix(wantAttrs, e.Attrs) || e.AttrsLen != len(wantAttrs) || !e.AttrsTruncated {
			t.Errorf("entry %d: attrs of %d bytes, attrs_len %d, truncated %v; want the first %d bytes of %d",
				i, len(e.Attrs), e.AttrsLen, e.AttrsTruncated, opview.MaxLogTextShown, len(wantAttrs))
		}
		if len(e.Entity) != opview.MaxLogFieldShown || e.Queue != "src" || fmt.Sprint(e.TruncatedFields) != "[entity]" {
			t.Errorf("entry %d: entity of %d bytes, queue %q, truncated fields %v; want %d bytes of entity, named as cut",
				i, len(e.Entity), e.Queue, e.TruncatedFields, opview.MaxLogFieldShown)
		}
	}

	page, alloc := allocated(srv.URL + "/logs?limit=1000")
	if len(page) > (n+1)*perEntry+16<<10 {
		t.Errorf("logs page: %d bytes for %d entries, want at most %d each", len(page), n+1, perEntry)
	}
	if alloc > maxAlloc {
		t.Errorf("logs page: the request allocated %d MiB for %d MiB stored", alloc>>20, stored>>20)
	}
	for _, want := range []string{fmt.Sprintf("… <span class=\"muted\">(%s bytes)</span>", "600,000"), "short"} {
		if !strings.Contains(page, want) {
			t.Errorf("logs page lacks %q", want)
		}
	}
}

// TestKeysPagingAcrossMaxSizeKeys: pages that end on a key of
// kv.MaxKeySize bytes link to a next page that the browser accepts and
// that starts at the next key. The link used to start at the key plus a
// zero byte, one byte longer than any key, which the browser refused
// (400).
func TestKeysPagingAcrossMaxSizeKeys(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	long := func(body string, last byte) []byte {
		return append([]byte(strings.Repeat(body, kv.MaxKeySize-1)), last)
	}
	keys := [][]byte{
		[]byte("a"),
		long("k", 'k'),
		long("k", 0xff), // the next key is not this one plus a byte
		[]byte("l"),
		long("\xff", 0xfe),
		long("\xff", 0xff), // the last possible key
	}
	for _, k := range keys {
		if err := db.Set(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	srv := serveView(t, db)
	for _, tc := range []struct {
		prefix string
		want   [][]byte
	}{
		{"", keys},
		{"6b", keys[1:3]},   // "k"
		{"ff", keys[4:]},    // 0xff
		{"6b6b", keys[1:3]}, // "kk"
	} {
		for _, limit := range []int{1, 2} {
			var got []string
			q := url.Values{"enc": {"hex"}, "prefix": {tc.prefix}, "limit": {fmt.Sprint(limit)}}.Encode()
			for pages := 0; q != ""; pages++ {
				if pages > len(keys) {
					t.Fatalf("prefix %s, limit %d: paging does not end", tc.prefix, limit)
				}
				resp, body := get(t, "GET", srv.URL+"/keys.json?"+q)
				if resp.StatusCode != 200 {
					t.Fatalf("prefix %s, limit %d, page %d: %s: %.300s", tc.prefix, limit, pages, resp.Status, body)
				}
				var k opview.Keys
				if err := json.Unmarshal([]byte(body), &k); err != nil {
					t.Fatal(err)
				}
				for _, e := range k.Entries {
					got = append(got, e.KeyHex)
				}
				if k.Next != "" && len(k.NextStartHex) > 2*kv.MaxKeySize {
					t.Errorf("prefix %s, limit %d: next page starts at a key of %d bytes", tc.prefix, limit, len(k.NextStartHex)/2)
				}
				q = k.Next
			}
			var want []string
			for _, k := range tc.want {
				want = append(want, hex.EncodeToString(k))
			}
			if !slices.Equal(got, want) {
				t.Errorf("prefix %s, limit %d: paging visited %d keys, want %d (%v)", tc.prefix, limit, len(got), len(want),
					slices.Equal(got, want[:min(len(got), len(want))]))
			}
		}
	}
}

// A log page with a filter reads at most MaxLogsScanned entries: one rare
// entry behind more than that many others is found by following the
// page's "older" link, not by one request reading the whole log.
func TestLogsFilterBounded(t *testing.T) {
	db := openStore(t)
	buf := logstore.NewLogBuffer(db, 10_000, time.Second)
	if err := buf.Add(logstore.LogEntry{Level: logstore.LevelError, Entity: "rare", Message: "the one"}); err != nil {
		t.Fatal(err)
	}
	for range opview.MaxLogsScanned + 10 {
		if err := buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Entity: "common", Message: "noise"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := buf.Stop(); err != nil {
		t.Fatal(err)
	}
	srv := serveView(t, db)

	var page struct {
		Entries []struct {
			Message string `json:"message"`
		} `json:"entries"`
		Bounded bool   `json:"bounded"`
		Next    string `json:"next"`
	}
	getJSON(t, srv.URL+"/logs.json?entity=rare", &page)
	if !page.Bounded || len(page.Entries) != 0 || page.Next == "" {
		t.Fatalf("first page of a filter behind %d entries: bounded %v, %d entries, next %q; want bounded, none, a next link",
			opview.MaxLogsScanned+10, page.Bounded, len(page.Entries), page.Next)
	}
	if _, body := get(t, "GET", srv.URL+"/logs?entity=rare"); !strings.Contains(body, `id="bounded"`) {
		t.Error("the HTML page does not say it stopped")
	}
	next := page.Next
	page.Bounded, page.Next = false, ""
	getJSON(t, srv.URL+"/logs.json?"+next, &page)
	if page.Bounded || len(page.Entries) != 1 || page.Entries[0].Message != "the one" {
		t.Errorf("the next page: bounded %v, entries %+v; want the rare entry", page.Bounded, page.Entries)
	}
}

// serveView serves a view of db (no sampling) on a test server, both
// closed when t ends.
func serveView(t *testing.T, db kv.Store) *httptest.Server {
	t.Helper()
	h, err := opview.New(db, opview.Options{SampleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// A filter that is not valid UTF-8 (entries hold text) is echoed on the
// log page as valid UTF-8: it was written into the HTML as given, which
// made the page itself invalid UTF-8.
func TestLogsEchoedFilterIsValidUTF8(t *testing.T) {
	srv := serveView(t, openStore(t))
	for _, u := range []string{"/logs?entity=%FF%FEx&queue=%C3", "/logs.json?entity=%FF%FEx&queue=%C3"} {
		resp, body := get(t, "GET", srv.URL+u)
		if resp.StatusCode != 200 || !utf8.ValidString(body) {
			t.Errorf("GET %s: %d, valid UTF-8 %v", u, resp.StatusCode, utf8.ValidString(body))
		}
	}
}

// A log range holding more than MaxLogsScanned unreadable keys in a row
// (foreign keys under "log:") ends the page with an error naming them,
// instead of reading on through every one of them: logstore.Scan reads
// past its bound among unreadable keys, since a cursor cannot name one.
func TestLogsManyUnreadableKeysBounded(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	w := kv.NewBulkWriter(ctx, db)
	for i := range opview.MaxLogsScanned + 50 {
		if err := w.Set(fmt.Appendf(nil, "log:info:0000-foreign-%07d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	srv := serveView(t, db)
	resp, body := get(t, "GET", srv.URL+"/logs.json")
	if resp.StatusCode == 200 || !strings.Contains(body, "unreadable keys") {
		t.Errorf("logs.json over %d foreign keys: %s, %.200s; want an error naming the unreadable keys", opview.MaxLogsScanned+50, resp.Status, body)
	}
}

package opview

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// Defaults of Options.
const (
	DefaultSampleInterval = 10 * time.Second
	DefaultSampleWindow   = 10 * time.Minute
	DefaultRefresh        = 5 * time.Second
	// MaxSamples caps the ring of throughput samples, whatever
	// SampleWindow / SampleInterval.
	MaxSamples = 4096
)

// Options configure a Handler. The zero value is usable: no metrics, no
// token, no ETA, a sample every 10 s kept for 10 min, pages refreshing
// every 5 s.
type Options struct {
	// Gatherer, when set, is served at /metrics in the Prometheus text
	// format (promhttp). Without it /metrics is 404.
	Gatherer prometheus.Gatherer
	// Token, when not empty, is required on every request as
	// "Authorization: Bearer <Token>" (compared in constant time);
	// requests without it get 401.
	Token string
	// ExpectedNodes is the number of nodes of the source tree, when the
	// engine knows it: the progress page then shows an ETA for the source
	// traversal and the copy. 0 means unknown.
	ExpectedNodes int64
	// SampleInterval is how often the sampler reads the counters to
	// measure throughput; 0 means DefaultSampleInterval, a negative value
	// disables the sampler (no goroutine; no throughput, no ETA).
	SampleInterval time.Duration
	// SampleWindow is how far back the throughput is measured and charted;
	// 0 means DefaultSampleWindow.
	SampleWindow time.Duration
	// Refresh is how often the overview and progress pages reload
	// themselves; 0 means DefaultRefresh, negative never.
	Refresh time.Duration
}

// Handler is the operator view of one store: an http.Handler serving
// read-only pages and JSON. Create it with New and Close it before
// closing the store.
type Handler struct {
	store   kv.Store
	ns      *nodestore.Store
	opts    Options
	metrics http.Handler
	token   [sha256.Size]byte
	sampler *sampler
	now     func() time.Time

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

var _ http.Handler = (*Handler)(nil)

// New returns the operator view of store and starts its throughput sampler
// (unless Options.SampleInterval is negative). The store stays the
// caller's: the view never writes to it and never closes it. Call Close
// when done, before closing the store. A nil store or an invalid option is
// an error wrapping kv.ErrInvalidConfig.
func New(store kv.Store, opts Options) (*Handler, error) {
	if store == nil {
		return nil, fmt.Errorf("opview: %w: nil store", kv.ErrInvalidConfig)
	}
	if opts.ExpectedNodes < 0 {
		return nil, fmt.Errorf("opview: %w: ExpectedNodes %d: want 0 (unknown) or more", kv.ErrInvalidConfig, opts.ExpectedNodes)
	}
	if opts.SampleWindow < 0 {
		return nil, fmt.Errorf("opview: %w: SampleWindow %v: want 0 (default) or more", kv.ErrInvalidConfig, opts.SampleWindow)
	}
	if opts.SampleInterval == 0 {
		opts.SampleInterval = DefaultSampleInterval
	}
	if opts.SampleWindow == 0 {
		opts.SampleWindow = DefaultSampleWindow
	}
	if opts.Refresh == 0 {
		opts.Refresh = DefaultRefresh
	}
	h := &Handler{
		store: store,
		ns:    nodestore.New(store),
		opts:  opts,
		now:   time.Now,
		done:  make(chan struct{}),
	}
	if opts.Token != "" {
		h.token = sha256.Sum256([]byte(opts.Token))
	}
	if opts.Gatherer != nil {
		h.metrics = promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{})
	}
	n := 2
	if opts.SampleInterval > 0 {
		n = min(MaxSamples, max(2, int(opts.SampleWindow/opts.SampleInterval)+1))
	}
	h.sampler = newSampler(n)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	if opts.SampleInterval > 0 {
		go h.sampleLoop(ctx)
	} else {
		close(h.done)
	}
	return h, nil
}

// Close stops the sampler and waits for its goroutine to end. It is
// idempotent, and the handler keeps serving pages afterwards (without new
// samples). It does not close the store.
func (h *Handler) Close() error {
	h.closeOnce.Do(h.cancel)
	<-h.done
	return nil
}

// sampleLoop samples the counters every SampleInterval until ctx ends.
func (h *Handler) sampleLoop(ctx context.Context) {
	defer close(h.done)
	t := time.NewTicker(h.opts.SampleInterval)
	defer t.Stop()
	for {
		h.sampleOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sampleOnce reads the counters once and records them. A failure is kept
// and shown on the progress page; a closed store stops nothing (the host
// closes the handler).
func (h *Handler) sampleOnce(ctx context.Context) {
	entries, err := h.ns.Counts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			h.sampler.fail(err)
		}
		return
	}
	h.sampler.add(sampleOf(h.now(), entries))
}

// page is one route of the view.
type page struct {
	name  string // the path, without the leading "/"
	title string
	nav   bool // shown in the navigation bar
	html  func(h *Handler, r *http.Request) (any, error)
}

var pages = []page{
	{name: "", title: "Overview", nav: true, html: func(h *Handler, r *http.Request) (any, error) { return h.overview(r.Context()) }},
	{name: "progress", title: "Progress", nav: true, html: func(h *Handler, r *http.Request) (any, error) { return h.progress(r.Context()) }},
	{name: "logs", title: "Logs", nav: true, html: func(h *Handler, r *http.Request) (any, error) { return h.logs(r.Context(), r.URL.Query()) }},
	{name: "keys", title: "Keys", nav: true, html: func(h *Handler, r *http.Request) (any, error) { return h.keys(r.Context(), r.URL.Query()) }},
}

// jsonName is the JSON endpoint of a page: "overview.json" for the
// overview, "progress.json" for progress, and so on.
func jsonName(p page) string {
	if p.name == "" {
		return "overview.json"
	}
	return p.name + ".json"
}

// errBadRequest marks an error caused by the request's parameters: 400.
var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errBadRequest}, args...)...)
}

// ServeHTTP serves the view. Paths are relative to where the handler is
// mounted (use http.StripPrefix): / (overview), /progress, /logs, /keys,
// the same with .json (overview.json for /), and /metrics. Only GET and
// HEAD are accepted (405 otherwise); with a token, a request without it is
// 401.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "opview: method "+r.Method+" not allowed: the view is read-only (GET, HEAD)", http.StatusMethodNotAllowed)
		return
	}
	if !h.authorized(r) {
		hd.Set("WWW-Authenticate", `Bearer realm="polykv"`)
		http.Error(w, "opview: a bearer token is required (Authorization: Bearer <token>)", http.StatusUnauthorized)
		return
	}
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		// r.URL.Query() drops what it cannot decode: a filter lost that
		// way would show every key as if none had been asked for.
		http.Error(w, "opview: bad request: query "+strconv.Quote(r.URL.RawQuery)+": "+err.Error(), http.StatusBadRequest)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "favicon.ico" {
		// Browsers ask for it on the JSON pages, which cannot name an
		// icon; a 404 would be an error in their console.
		hd.Set("Content-Type", "image/svg+xml")
		_, _ = w.Write([]byte(favicon))
		return
	}
	if name == "metrics" {
		if h.metrics == nil {
			http.Error(w, "opview: no metrics: the view was created without a Gatherer", http.StatusNotFound)
			return
		}
		h.metrics.ServeHTTP(w, r)
		return
	}
	for _, p := range pages {
		switch name {
		case p.name:
			h.serveHTML(w, r, p)
			return
		case jsonName(p):
			h.serveJSON(w, r, p)
			return
		}
	}
	http.Error(w, fmt.Sprintf("opview: no page %q (pages: /, /progress, /logs, /keys, their .json, /metrics)", r.URL.Path), http.StatusNotFound)
}

func (h *Handler) authorized(r *http.Request) bool {
	if h.opts.Token == "" {
		return true
	}
	// The scheme's name is case-insensitive (RFC 9110, section 11.1).
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	// Hashing first makes the comparison constant-time in the length too.
	got := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(got[:], h.token[:]) == 1
}

func statusOf(err error) int {
	if errors.Is(err, errBadRequest) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func (h *Handler) serveJSON(w http.ResponseWriter, r *http.Request, p page) {
	data, err := p.html(h, r)
	if err != nil {
		http.Error(w, "opview: "+err.Error(), statusOf(err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(data) // the client went away; nothing to do
}

// favicon is a small blue square.
const favicon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#263238"/><rect x="3" y="9" width="2" height="4" fill="#4fc3f7"/><rect x="7" y="6" width="2" height="7" fill="#4fc3f7"/><rect x="11" y="3" width="2" height="10" fill="#4fc3f7"/></svg>`

// contentSecurityPolicy allows no script at all: the pages use none
// (refresh is a meta tag, the chart inline SVG).
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func (h *Handler) serveHTML(w http.ResponseWriter, r *http.Request, p page) {
	data, err := p.html(h, r)
	if err != nil {
		http.Error(w, "opview: "+err.Error(), statusOf(err))
		return
	}
	refresh := 0
	if (p.name == "" || p.name == "progress") && h.opts.Refresh > 0 {
		refresh = max(1, int(h.opts.Refresh/time.Second))
	}
	jsonLink := jsonName(p)
	if q := r.URL.Query().Encode(); q != "" {
		jsonLink += "?" + q // the same query, re-encoded
	}
	var buf strings.Builder
	err = templates.ExecuteTemplate(&buf, pageTemplate(p), layout{
		Title:   p.title,
		Page:    p.name,
		JSON:    jsonLink,
		Refresh: refresh,
		Metrics: h.metrics != nil,
		Nav:     navLinks(p),
		Data:    data,
	})
	if err != nil {
		http.Error(w, "opview: render "+p.title+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	_, _ = w.Write([]byte(buf.String()))
}

func pageTemplate(p page) string {
	if p.name == "" {
		return "overview"
	}
	return p.name
}

// layout is what every page template gets.
type layout struct {
	Title   string
	Page    string
	JSON    string
	Refresh int // seconds; 0: none
	Metrics bool
	Nav     []navLink
	Data    any
}

type navLink struct {
	Href, Title string
	Current     bool
}

func navLinks(cur page) []navLink {
	var out []navLink
	for _, p := range pages {
		if !p.nav {
			continue
		}
		href := p.name
		if href == "" {
			href = "./"
		}
		out = append(out, navLink{Href: href, Title: p.title, Current: p.name == cur.name})
	}
	return out
}

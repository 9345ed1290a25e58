// Package opview is the operator's view of a running migration: an
// http.Handler that the engine mounts on its own HTTP server, next to its
// open store, and that serves read-only pages and JSON about that store.
// It is the only way to look at a live store (its directory is locked by
// the engine); `polykv serve DSN` serves the same view for a store at rest.
//
// # Where to start
//
//	view, err := opview.New(store, opview.Options{Gatherer: registry})
//	defer view.Close()                      // stops the throughput sampler
//	mux.Handle("/debug/polykv/", http.StripPrefix("/debug/polykv", view))
//
// Example (in example_test.go) mounts the view and /metrics in a program.
//
// # Pages
//
// Paths are relative to where the handler is mounted, and every link the
// pages hold is relative, so any mount point works:
//
//	/           overview: backend, path, durability, memory budget, size on
//	            disk, key families (counted up to MaxFamilyCount keys each),
//	            the engine's own figures (kv.Stats, when the store has them)
//	/progress   per queue and level: nodes by traversal and copy status
//	            (nodestore.Store.Counts: counters, not scans), pending per
//	            level, the lowest pending level, throughput over the sample
//	            window, an ETA when Options.ExpectedNodes is set, a chart
//	/logs       logstore entries, newest first; ?level=error&level=warning,
//	            since/until (RFC 3339), entity, queue, limit, after (cursor);
//	            keys under "log:" that hold no entry this build can read
//	            (foreign, damaged, newer) are listed apart, not an error;
//	            each entry shows at most MaxLogTextShown bytes of its
//	            message and attributes, MaxLogFieldShown of other fields;
//	            a page reads at most MaxLogsScanned entries (a filter that
//	            matches few stops there: "bounded", and "older" goes on)
//	/keys       key browser: ?prefix=&start= as text, or with enc=hex as
//	            hex; limit (at most MaxKeysLimit); a "next" link resumes
//	            after the last key shown
//	/metrics    Options.Gatherer in the Prometheus text format (404 without)
//
// Each page has its JSON twin: overview.json, progress.json, logs.json,
// keys.json (same parameters). Keys and values are arbitrary bytes: the
// JSON gives each as escaped text and as hex.
//
// # Safety
//
// The view only reads: it accepts GET and HEAD and answers 405 to every
// other method; it never calls a writing method of the store. With
// Options.Token, every request needs "Authorization: Bearer <token>"
// (compared in constant time; 401 otherwise). Pages are rendered by
// html/template, so every key, value and log field is escaped for where it
// appears: a key holding "<script>" shows as text. Unprintable bytes
// (invalid UTF-8, NUL, control bytes) are shown as Go escapes (\x00). The
// pages hold no script at all: they refresh with a meta tag, the chart is
// inline SVG drawn on the server, and the Content-Security-Policy forbids
// scripts. Bad parameters are a 400 naming the parameter. Binding the
// server to 127.0.0.1 (what polykv serve does by default) is the host's
// choice, as is TLS.
//
// # Throughput and Close
//
// New starts one goroutine that reads the counters every
// Options.SampleInterval (one read of the small counter family) and keeps
// the readings of the last Options.SampleWindow in memory. Throughput is
// the change of "traversal done" and "copy done" counts between the first
// and last reading of the window; the ETA divides the nodes left of
// ExpectedNodes by it. Close stops the goroutine and waits for it; call it
// before closing the store. A failed reading is shown on the progress page
// and never stops or crashes the host.
//
// # Cost
//
// The progress page reads the counters (their number follows the levels
// and statuses in use, not the nodes) and one key per queue for the lowest
// pending level. The overview seeks once per key family and counts at most
// MaxFamilyCount keys of each. The log and key pages read about limit
// entries, and keep of each only what they show (MaxValueShown bytes of a
// value, MaxLogTextShown of a log message): a page's size follows its
// limit, not the size of the entries. None of them scans the store.
package opview

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/polykv/polykv/bench"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/opview"
)

const inspectDoc = `
Describes a store: its backend and options, its marker, its size on disk
(allocated blocks), and its keys grouped by family with a count, the bytes of
keys and values, and the first keys of each family. It reads one consistent
snapshot; the store is opened read-only.

A family is the key up to its first ':' ("meta"), or to its second ':' for
nodestore and log keys ("src:00000003", "src:children", "log:info"), when
each part is a word (letters, digits, '_', '-', '.'; at most 31 bytes);
other keys (binary ones, keys with no ':' in their first 32 bytes, a src,
dst or log key without a second word part such as "src:") form the family
"(other)". The operator view's overview groups keys the same way.
`

// family is one group of keys in inspect's output.
type family struct {
	Name       string   `json:"name"`
	Keys       int64    `json:"keys"`
	KeyBytes   int64    `json:"key_bytes"`
	ValueBytes int64    `json:"value_bytes"`
	First      []string `json:"first_keys"`
}

// inspection is inspect's output.
type inspection struct {
	DSN       string     `json:"dsn"`
	Backend   string     `json:"backend"`
	Path      string     `json:"path,omitempty"`
	Marker    *kv.Marker `json:"marker,omitempty"`
	DiskBytes int64      `json:"disk_bytes"`
	Keys      int64      `json:"keys"`
	Families  []*family  `json:"families"`
}

func runInspect(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "inspect", "[flags] DSN", inspectDoc)
	first := fs.Int("first", 3, "how many first keys to show per family")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	if err := parse(fs, s, args); err != nil {
		return err
	}
	if err := wantArgs(fs, "DSN"); err != nil {
		return err
	}
	if *first < 0 {
		return fmt.Errorf("%w: --first %d: want 0 (no first keys) or more", errUsage, *first)
	}
	db, err := openDSN(ctx, fs.Arg(0), true)
	if err != nil {
		return err
	}
	defer db.Close()
	in, err := inspect(ctx, db, *first)
	if err != nil {
		return err
	}
	in.DSN = kv.RedactDSN(fs.Arg(0))
	// A store that is not a directory (a key prefix on a cluster) keeps
	// its marker as a key: read it through the engine, before Close.
	ne, network := db.Engine().(kv.NetworkEngine)
	if network {
		m, err := ne.ReadMarker(ctx)
		if err != nil {
			return fmt.Errorf("read the marker: %w", err)
		}
		in.Marker = &m
	}
	if err := db.Close(); err != nil {
		return err
	}
	if in.Path != "" && !network {
		// The open read the marker already: failing now is worth saying,
		// not printing as no marker and 0 bytes.
		m, err := kv.ReadMarker(in.Path)
		if err != nil {
			return fmt.Errorf("read the marker: %w", err)
		}
		in.Marker = &m
		if in.DiskBytes, err = bench.DiskUsage(in.Path); err != nil {
			return fmt.Errorf("measure the size on disk: %w", err)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(in)
	}
	fmt.Fprintf(s.out, "store:    %s\nbackend:  %s\n", in.DSN, in.Backend)
	switch {
	case network:
		fmt.Fprintf(s.out, "prefix:   %s (on the cluster)\n", in.Path)
	case in.Path != "":
		fmt.Fprintf(s.out, "path:     %s\n", in.Path)
	}
	if in.Marker != nil {
		fmt.Fprintf(s.out, "marker:   backend %s, format %d, created %s\n", in.Marker.Backend, in.Marker.Format, in.Marker.Created.Format("2006-01-02 15:04:05 MST"))
	}
	if in.Path != "" && !network {
		fmt.Fprintf(s.out, "on disk:  %d bytes (allocated blocks)\n", in.DiskBytes)
	}
	fmt.Fprintf(s.out, "keys:     %d in %d families\n\n", in.Keys, len(in.Families))
	tw := tabwriter.NewWriter(s.out, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "family\tkeys\tkey bytes\tvalue bytes\tfirst keys\n")
	for _, f := range in.Families {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t", f.Name, f.Keys, f.KeyBytes, f.ValueBytes)
		for i, k := range f.First {
			if i > 0 {
				fmt.Fprint(tw, " ")
			}
			fmt.Fprint(tw, k)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// inspect scans the store once and groups its keys by family.
func inspect(ctx context.Context, db *kv.DB, first int) (*inspection, error) {
	info := db.Info()
	in := &inspection{Backend: info.Backend, Path: info.Path}
	byName := map[string]*family{}
	err := db.View(ctx, func(tx kv.ReadTxn) error {
		return tx.Iterate(kv.IterOptions{}, func(k, v []byte) error {
			name, _ := opview.KeyFamily(k)
			f := byName[name]
			if f == nil {
				f = &family{Name: name}
				byName[name] = f
				in.Families = append(in.Families, f)
			}
			f.Keys++
			f.KeyBytes += int64(len(k))
			f.ValueBytes += int64(len(v))
			if len(f.First) < first {
				f.First = append(f.First, quoteKey(k))
			}
			in.Keys++
			return nil
		})
	})
	return in, err
}

// quoteKey shows a key as text when it is printable, quoted otherwise.
func quoteKey(k []byte) string {
	q := strconv.Quote(string(k))
	if q[1:len(q)-1] == string(k) && !bytes.ContainsAny(k, " \t") {
		return string(k)
	}
	return q
}

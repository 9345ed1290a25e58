package bench

import (
	"bytes"
	"fmt"
)

// ycsbMix is one YCSB core workload: the proportions of its operations and
// its request distribution (Cooper et al., "Benchmarking Cloud Serving
// Systems with YCSB", and YCSB's workloads/workload[a-f]).
type ycsbMix struct {
	name                       string
	read, update, insert, scan float64
	rmw                        float64
	latest                     bool // D: reads favour the newest records
	doc                        string
}

var ycsbMixes = []ycsbMix{
	{name: "a", read: 0.5, update: 0.5, doc: "update heavy: 50% read, 50% update, Zipfian"},
	{name: "b", read: 0.95, update: 0.05, doc: "read mostly: 95% read, 5% update, Zipfian"},
	{name: "c", read: 1, doc: "read only: 100% read, Zipfian"},
	{name: "d", read: 0.95, insert: 0.05, latest: true, doc: "read latest: 95% read, 5% insert, newest records favoured"},
	{name: "e", scan: 0.95, insert: 0.05, doc: "short ranges: 95% scans of 1 to 100 records, 5% insert, Zipfian start"},
	{name: "f", read: 0.5, rmw: 0.5, doc: "read-modify-write: 50% read, 50% read-modify-write in one transaction, Zipfian"},
}

const ycsbDefault = 50_000

func ycsbWorkload(m ycsbMix) Workload {
	return Workload{
		Name:        "ycsb-" + m.name,
		Group:       "ycsb",
		DefaultSize: ycsbDefault,
		Doc:         fmt.Sprintf("YCSB %s on --size records of 1 KB (load timed apart); unit: op", m.doc),
		Run: func(e *Env) error {
			t, vals, n, err := openLoaded(e, "op", ycsbDefault, ycsbValue)
			if err != nil {
				return err
			}
			r := e.Rand("ycsb-" + m.name)
			z := newZipfian(r, uint64(n))
			inserted := uint64(n)
			pick := func() uint64 {
				if m.latest {
					off := z.next()
					if off >= inserted {
						off = inserted - 1
					}
					return inserted - 1 - off
				}
				return z.scrambled()
			}
			// A record's version: updates write the value of record
			// i+version, so reads can check they see a complete value.
			var key, v []byte
			var wb writeBatch
			var bad error
			// What each record holds, to check every read byte for byte:
			// the value of record i+version[i] (the load and inserts write
			// version 0, updates another), its first byte increased by
			// bumps[i] read-modify-writes. The loop runs in one goroutine.
			version := make([]uint16, n, n+ycsbDefault)
			bumps := make([]byte, n, n+ycsbDefault)
			check := func(i uint64, got []byte, found bool) {
				if bad != nil {
					return
				}
				if !found || len(got) != ycsbValue {
					bad = fmt.Errorf("record %d: found=%v, %d bytes", i, found, len(got))
					return
				}
				want := vals.of(i + uint64(version[i]))
				if got[0] != want[0]+bumps[i] || !bytes.Equal(got[1:], want[1:]) {
					bad = fmt.Errorf("record %d: the value read is not the one last written (version %d, %d read-modify-writes)", i, version[i], bumps[i])
				}
			}
			var reads, updates, inserts, scans, rmws, scanned int
			ops := opsOr(e, min(n, 50_000))
			warm := min(ops/10, 5000)
			err = e.Measure(warm, ops, func(int) error {
				p := r.Float64()
				switch {
				case p < m.read:
					i := pick()
					key = appendKey(key[:0], i)
					var found bool
					var err error
					v, found, err = t.get(key, v[:0])
					if err != nil {
						return err
					}
					check(i, v, found)
					reads++
				case p < m.read+m.update:
					i := pick()
					key = appendKey(key[:0], i)
					wb.reset()
					k := r.IntN(1000)
					wb.add(key, vals.of(i+uint64(k)))
					version[i], bumps[i] = uint16(k), 0
					e.Wrote(int64(len(key) + ycsbValue))
					updates++
					return t.write(&wb)
				case p < m.read+m.update+m.insert:
					i := inserted
					inserted++
					key = appendKey(key[:0], i)
					wb.reset()
					wb.add(key, vals.of(i))
					version, bumps = append(version, 0), append(bumps, 0)
					e.Wrote(int64(len(key) + ycsbValue))
					inserts++
					return t.write(&wb)
				case p < m.read+m.update+m.insert+m.scan:
					i := z.scrambled()
					key = appendKey(key[:0], i)
					length := 1 + r.IntN(100)
					got := 0
					err := t.scan(key, nil, length, false, func(_, v []byte) error {
						got++
						if bad == nil && len(v) != ycsbValue {
							bad = fmt.Errorf("scan from %d: value of %d bytes", i, len(v))
						}
						return nil
					})
					if err != nil {
						return err
					}
					if want := min(length, int(inserted-i)); got != want && bad == nil {
						bad = fmt.Errorf("scan of %d from record %d: %d records, want %d", length, i, got, want)
					}
					scanned += got
					scans++
				default:
					i := pick()
					key = appendKey(key[:0], i)
					var found bool
					err := t.rmw(key, func(old []byte) []byte {
						found = len(old) > 0
						nv := append([]byte(nil), old...)
						if len(nv) > 0 {
							nv[0]++
						}
						return nv
					})
					if err != nil {
						return err
					}
					if !found && bad == nil {
						bad = fmt.Errorf("read-modify-write of record %d found nothing", i)
					}
					bumps[i]++
					e.Wrote(int64(len(key) + ycsbValue))
					rmws++
				}
				return nil
			})
			if err != nil {
				return err
			}
			if bad != nil {
				return bad
			}
			count := 0
			err = t.scan(nil, nil, 0, true, func(_, _ []byte) error {
				count++
				return nil
			})
			if err != nil {
				return err
			}
			if uint64(count) != inserted {
				return fmt.Errorf("%d records after the run, want %d", count, inserted)
			}
			e.Verified(fmt.Sprintf("%d reads, %d updates, %d inserts, %d scans (%d records), %d rmw all checked; %d records at the end",
				reads, updates, inserts, scans, scanned, rmws, count))
			return nil
		},
	}
}

func init() {
	for _, m := range ycsbMixes {
		register(ycsbWorkload(m))
	}
}

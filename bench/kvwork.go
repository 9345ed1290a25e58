package bench

import (
	"bytes"
	"fmt"
	"strconv"
)

// The raw kv workloads share one key space: record i has the 16-byte key
// "user" + i as 12 decimal digits, so the keys of records [10g, 10g+10) are
// exactly those with the 15-byte prefix of record 10g (and likewise for 100
// and 1000 with shorter prefixes). Values are slices of a seeded random
// buffer: incompressible, and checkable after a read.

const (
	keyPrefix  = "user"
	keyDigits  = 12
	kvValue    = 100  // value size of fill, read and scan
	ycsbValue  = 1000 // value size of the YCSB records
	kvDefault  = 100_000
	valuePool  = 1 << 20
	loadBatch  = 1000
	missFactor = 10 // one read in missFactor asks for a missing key
	// readOps and scanKeys size the measured phases of reads and scans
	// (independently of --size), long enough for a stable median.
	readOps  = 200_000
	scanKeys = 400_000
)

// appendKey appends record i's key to dst.
func appendKey(dst []byte, i uint64) []byte {
	dst = append(dst, keyPrefix...)
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], i, 10)
	for n := len(d); n < keyDigits; n++ {
		dst = append(dst, '0')
	}
	return append(dst, d...)
}

// values hands out the value of record i: a slice of a random buffer fixed
// by the seed, so any reader can check it.
type values struct {
	pool []byte
	size int
}

func newValues(e *Env, size int) *values {
	r := e.Rand("values")
	pool := make([]byte, valuePool)
	for i := 0; i+8 <= len(pool); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			pool[i+j] = byte(v >> (8 * j))
		}
	}
	return &values{pool: pool, size: size}
}

func (v *values) of(i uint64) []byte {
	off := int(i*7919) % (len(v.pool) - v.size)
	return v.pool[off : off+v.size : off+v.size]
}

// kvSize returns the run's record count, rounded up to a multiple of 1000
// so that every scan prefix holds exactly its number of keys.
func kvSize(e *Env, def int) int {
	n := e.Spec.sizeOr(def)
	return (n + 999) / 1000 * 1000
}

// opsOr returns Spec.Ops when set, else def.
func opsOr(e *Env, def int) int {
	if e.Spec.Ops > 0 {
		return e.Spec.Ops
	}
	return max(def, 1)
}

// fill writes records [0, n) in batches, sequentially or in a random
// order, with a warm-up of the first batches untimed.
func fill(e *Env, t target, vals *values, order []uint64, batch int, measured bool) error {
	var wb writeBatch
	var key []byte
	nb := (len(order) + batch - 1) / batch
	op := func(j int) error {
		wb.reset()
		for _, i := range order[j*batch : min((j+1)*batch, len(order))] {
			key = appendKey(key[:0], i)
			wb.add(key, vals.of(i))
			e.Wrote(int64(len(key) + vals.size))
		}
		return t.write(&wb)
	}
	if !measured {
		return e.Load(int64(len(order)), func() error {
			for j := 0; j < nb; j++ {
				if err := op(j); err != nil {
					return err
				}
			}
			return nil
		})
	}
	warm := max(nb/20, 1)
	if nb-warm < 1 {
		warm = 0
	}
	return e.measureRecords(warm, nb-warm, batch, len(order), op)
}

// measureRecords is Measure over batches, counting records as operations.
func (e *Env) measureRecords(warm, n, batch, total int, op func(j int) error) error {
	before := e.ops
	if err := e.Measure(warm, n, op); err != nil {
		return err
	}
	// Measure counted batches; count the records of the measured batches.
	e.ops = before + int64(min(total-warm*batch, n*batch))
	return nil
}

// verifyRecords checks that exactly records [0, n) are present, in order,
// and that a sample of values reads back.
func verifyRecords(e *Env, t target, vals *values, n int) error {
	count := 0
	var want []byte
	var bad error
	err := t.scan(nil, nil, 0, true, func(k, _ []byte) error {
		want = appendKey(want[:0], uint64(count))
		if bad == nil && !bytes.Equal(k, want) {
			bad = fmt.Errorf("key %d is %q, want %q", count, k, want)
		}
		count++
		return nil
	})
	if err != nil {
		return err
	}
	if bad != nil {
		return bad
	}
	if count != n {
		return fmt.Errorf("found %d records, want %d", count, n)
	}
	r := e.Rand("verify")
	var key, v []byte
	for range 100 {
		i := r.Uint64N(uint64(n))
		key = appendKey(key[:0], i)
		var found bool
		v, found, err = t.get(key, v[:0])
		if err != nil {
			return err
		}
		if !found || !bytes.Equal(v, vals.of(i)) {
			return fmt.Errorf("record %d does not read back (found=%v)", i, found)
		}
	}
	e.Verified(fmt.Sprintf("%d records present in order, 100 values read back", n))
	return nil
}

func fillWorkload(random bool, batch int) Workload {
	order := "seq"
	how := "in key order"
	if random {
		order, how = "rand", "in a random order"
	}
	def := kvDefault
	if batch == 1 {
		def = kvDefault / 20 // one commit (one fsync under sync) per record
	}
	return Workload{
		Name:        fmt.Sprintf("fill-%s-b%d", order, batch),
		Group:       "kv",
		Calibrated:  batch > 1,
		DefaultSize: def,
		Doc: fmt.Sprintf("write --size records of %d B %s, %d per atomic batch; unit: record, latency: per batch",
			kvValue, how, batch),
		Run: func(e *Env) error {
			e.SetUnit("record")
			n := kvSize(e, def)
			t, err := e.openTarget()
			if err != nil {
				return err
			}
			vals := newValues(e, kvValue)
			keys := make([]uint64, n)
			for i := range keys {
				keys[i] = uint64(i)
			}
			if random {
				r := e.Rand("order")
				r.Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			}
			if err := fill(e, t, vals, keys, batch, true); err != nil {
				return err
			}
			return verifyRecords(e, t, vals, n)
		},
	}
}

// openLoaded is the prologue of every workload that reads what it loaded:
// it sets the unit, opens the target and loads --size records (def when
// unset) of valueSize-byte values, untimed. It returns the target, the
// values and the record count.
func openLoaded(e *Env, unit string, def, valueSize int) (target, *values, int, error) {
	e.SetUnit(unit)
	n := kvSize(e, def)
	t, err := e.openTarget()
	if err != nil {
		return nil, nil, 0, err
	}
	vals := newValues(e, valueSize)
	if err := load(e, t, vals, n); err != nil {
		return nil, nil, 0, err
	}
	return t, vals, n, nil
}

// load fills records [0, n) in a random order, untimed.
func load(e *Env, t target, vals *values, n int) error {
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = uint64(i)
	}
	r := e.Rand("order")
	r.Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return fill(e, t, vals, keys, loadBatch, false)
}

func readWorkload(zipf bool) Workload {
	name, how := "read-uniform", "uniformly chosen"
	if zipf {
		name, how = "read-zipf", "Zipfian-chosen (YCSB scrambled, 0.99)"
	}
	return Workload{
		Name:        name,
		Group:       "kv",
		Calibrated:  true,
		DefaultSize: kvDefault,
		Doc:         fmt.Sprintf("load --size records, then point reads of %s keys, 10%% of them missing; unit: read", how),
		Run: func(e *Env) error {
			t, vals, n, err := openLoaded(e, "read", kvDefault, kvValue)
			if err != nil {
				return err
			}
			r := e.Rand("reads")
			var z *zipfian
			if zipf {
				z = newZipfian(r, uint64(n))
			}
			var key, v []byte
			hits, misses, wantMisses := 0, 0, 0
			var bad error
			ops := opsOr(e, readOps)
			warm := min(ops/10, 20_000)
			err = e.Measure(warm, ops, func(int) error {
				var i uint64
				miss := r.IntN(missFactor) == 0
				switch {
				case miss:
					i = uint64(n) + r.Uint64N(uint64(n))
				case zipf:
					i = z.scrambled()
				default:
					i = r.Uint64N(uint64(n))
				}
				key = appendKey(key[:0], i)
				var found bool
				var err error
				v, found, err = t.get(key, v[:0])
				if err != nil {
					return err
				}
				if miss {
					wantMisses++
				}
				if found {
					hits++
					if bad == nil && (miss || !bytes.Equal(v, vals.of(i))) {
						bad = fmt.Errorf("record %d: wrong value (miss expected: %v)", i, miss)
					}
				} else {
					misses++
				}
				return nil
			})
			if err != nil {
				return err
			}
			if bad != nil {
				return bad
			}
			if misses != wantMisses {
				return fmt.Errorf("%d reads missed, want %d", misses, wantMisses)
			}
			e.Verified(fmt.Sprintf("%d hits with the right value, %d expected misses", hits, misses))
			return nil
		},
	}
}

func scanWorkload(length int, keysOnly bool) Workload {
	name := fmt.Sprintf("scan-%d", length)
	what := "keys and values"
	if keysOnly {
		name += "-keys"
		what = "keys only"
	}
	digits := 0
	for l := length; l > 1; l /= 10 {
		digits++
	}
	return Workload{
		Name:        name,
		Group:       "kv",
		Calibrated:  true,
		DefaultSize: kvDefault,
		Doc:         fmt.Sprintf("load --size records, then prefix scans of %d keys (%s) at uniform prefixes; unit: scan", length, what),
		Run: func(e *Env) error {
			t, _, n, err := openLoaded(e, "scan", kvDefault, kvValue)
			if err != nil {
				return err
			}
			r := e.Rand("scans")
			groups := uint64(n / length)
			var first, prefix, upper []byte
			var bad error
			var sum int
			ops := opsOr(e, max(scanKeys/length, 200))
			warm := max(ops/10, 1)
			err = e.Measure(warm, ops, func(int) error {
				g := r.Uint64N(groups)
				first = appendKey(first[:0], g*uint64(length))
				prefix = append(prefix[:0], first[:len(first)-digits]...)
				upper = prefixEnd(upper[:0], prefix)
				got := 0
				err := t.scan(prefix, upper, 0, keysOnly, func(k, v []byte) error {
					got++
					sum += len(k) + len(v)
					return nil
				})
				if err != nil {
					return err
				}
				if got != length && bad == nil {
					bad = fmt.Errorf("prefix %q: %d keys, want %d", prefix, got, length)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if bad != nil {
				return bad
			}
			per := length * (len(first) + kvValue)
			if keysOnly {
				per = length * len(first)
			}
			if sum != (ops+warm)*per {
				return fmt.Errorf("scans returned %d bytes, want %d", sum, (ops+warm)*per)
			}
			e.Verified(fmt.Sprintf("%d scans of exactly %d keys", ops+warm, length))
			return nil
		},
	}
}

// prefixEnd appends the exclusive upper bound of prefix to dst (prefix has
// no 0xFF bytes here).
func prefixEnd(dst, prefix []byte) []byte {
	dst = append(dst, prefix...)
	dst[len(dst)-1]++
	return dst
}

func init() {
	for _, random := range []bool{false, true} {
		for _, b := range []int{1, 100, 1000} {
			register(fillWorkload(random, b))
		}
	}
	register(readWorkload(false))
	register(readWorkload(true))
	for _, keysOnly := range []bool{false, true} {
		for _, l := range []int{10, 100, 1000} {
			register(scanWorkload(l, keysOnly))
		}
	}
}

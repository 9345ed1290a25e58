package bench

import (
	"math"
	"math/rand/v2"
)

// zipfian draws integers in [0, n) with the Zipfian distribution YCSB uses
// (Gray et al., "Quickly generating billion-record synthetic databases"),
// constant 0.99: item 0 is the most popular.
type zipfian struct {
	n                 uint64
	theta, alpha, eta float64
	zetan, half2theta float64
	r                 *rand.Rand
}

// zipfConstant is YCSB's default Zipfian constant.
const zipfConstant = 0.99

func newZipfian(r *rand.Rand, n uint64) *zipfian {
	z := &zipfian{n: n, theta: zipfConstant, r: r}
	zeta2 := zeta(2, z.theta)
	z.zetan = zeta(n, z.theta)
	z.alpha = 1 / (1 - z.theta)
	z.eta = (1 - math.Pow(2/float64(n), 1-z.theta)) / (1 - zeta2/z.zetan)
	z.half2theta = 1 + math.Pow(0.5, z.theta)
	return z
}

func zeta(n uint64, theta float64) float64 {
	s := 0.0
	for i := uint64(1); i <= n; i++ {
		s += 1 / math.Pow(float64(i), theta)
	}
	return s
}

func (z *zipfian) next() uint64 {
	u := z.r.Float64()
	uz := u * z.zetan
	if uz < 1 {
		return 0
	}
	if uz < z.half2theta {
		return 1
	}
	v := uint64(float64(z.n) * math.Pow(z.eta*u-z.eta+1, z.alpha))
	if v >= z.n {
		v = z.n - 1
	}
	return v
}

// scrambled returns a Zipfian draw spread over [0, n) by a hash, as YCSB's
// ScrambledZipfianGenerator does: popular items are not neighbours.
func (z *zipfian) scrambled() uint64 {
	return fnv64(z.next()) % z.n
}

func fnv64(v uint64) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < 8; i++ {
		h ^= v & 0xff
		h *= 1099511628211
		v >>= 8
	}
	return h
}

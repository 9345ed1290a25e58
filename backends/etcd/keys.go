package etcd

import "github.com/polykv/polykv/kv"

// Key layout. A store is the key prefix P = Config.Path on the cluster:
//
//	P + "/k/" + key     the store's key `key` (data keys)
//	P + "/marker"       the polykv marker (kv.Marker.Encode's JSON)
//	P + "/t/" + token   commit tokens (see commit.go), each on a lease
//	P + "/turn"         the priority transaction's turn (see priority.go), on a lease
//
// The data keys are exactly the etcd range [P+"/k/", P+"/k0"): the marker
// and the tokens sort outside it, so no iteration, DeleteRange or Empty
// check of the data ever meets them. Two stores on one cluster must not
// have nested prefixes (P and P+"/k/x" overlap: refused, see nesting.go);
// distinct prefixes that are not path-prefixes of each other never share a
// key.
const (
	dataInfix   = "/k/"
	markerName  = "/marker"
	tokenInfix  = "/t/"
	turnName    = "/turn"
	storeSuffix = "/"
)

// layout holds one store's etcd key prefixes.
type layout struct {
	prefix  string // P
	data    []byte // P + "/k/"
	dataEnd []byte // kv.PrefixEnd(data)
	marker  string
	tokens  string
	turn    string
	all     string // P + "/": everything of the store
	// ancestors are the prefixes of the stores that would contain this
	// one (nesting.go).
	ancestors []string
}

func newLayout(prefix string) (layout, error) {
	ancestors, err := ancestorsOf(prefix)
	if err != nil {
		return layout{}, err
	}
	data := []byte(prefix + dataInfix)
	return layout{
		ancestors: ancestors,
		prefix:    prefix,
		data:      data,
		dataEnd:   kv.PrefixEnd(data),
		marker:    prefix + markerName,
		tokens:    prefix + tokenInfix,
		turn:      prefix + turnName,
		all:       prefix + storeSuffix,
	}, nil
}

// key returns the etcd key of the store's key k.
func (l *layout) key(k []byte) string {
	b := make([]byte, 0, len(l.data)+len(k))
	b = append(b, l.data...)
	return string(append(b, k...))
}

// userKey returns the store's key of the etcd data key ek (a slice of ek).
func (l *layout) userKey(ek []byte) []byte { return ek[len(l.data):] }

// bounds returns the etcd range [lo, hi) of the store keys in r; nil
// bounds of r are the ends of the data range.
func (l *layout) bounds(lower, upper []byte) (lo, hi string) {
	lo = string(l.data)
	if lower != nil {
		lo = l.key(lower)
	}
	hi = string(l.dataEnd)
	if upper != nil {
		hi = l.key(upper)
	}
	return lo, hi
}

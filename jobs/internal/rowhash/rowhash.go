// Package rowhash defines the content checksum of a dataset's rows: an order-independent digest
// (sum of per-row 64-bit hashes, and the row count) over a canonical encoding of each value.
// It is written in the snapshot summary and the publication log, and any reader (another Parquet
// library, Trino, SQL) can recompute it to prove that what was published is what was read.
//
// The encoding of a row is, for each contract column in order, h = Combine(h, hash(value)), from
// Start; then Digest.Add(Finish(h)). Values hash as: strings by FNV-1a 64 of their UTF-8 bytes;
// integers, dates (days since epoch) and timestamps (microseconds) as int64; floats by their IEEE
// bits (NaN canonicalised, -0 as +0); booleans as 0/1; nulls as a fixed constant.
package rowhash

import (
	"fmt"
	"math"
)

const (
	start    = 0x9e3779b97f4a7c15
	nullHash = 0x6a09e667f3bcc908
	fnvOff   = 14695981039346656037
	fnvPrime = 1099511628211
)

// mix is the splitmix64 finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Start is the hash of an empty row.
func Start() uint64 { return start }

// Combine folds the hash of the next column's value into a row hash.
func Combine(h, v uint64) uint64 { return mix(h*31 + v) }

// Finish finalises a row hash.
func Finish(h uint64) uint64 { return mix(h ^ 0x510e527fade682d1) }

// Null is the hash of a null.
func Null() uint64 { return nullHash }

// String hashes a string.
func String(s string) uint64 {
	h := uint64(fnvOff)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return mix(h)
}

// Bytes hashes a byte string as String would.
func Bytes(b []byte) uint64 {
	h := uint64(fnvOff)
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return mix(h)
}

// Int hashes an integer, a date or a timestamp.
func Int(v int64) uint64 { return mix(uint64(v) ^ 0x3c6ef372fe94f82b) }

// Float hashes a float.
func Float(f float64) uint64 {
	switch {
	case math.IsNaN(f):
		f = math.NaN()
	case f == 0:
		f = 0
	}
	return mix(math.Float64bits(f) ^ 0xa54ff53a5f1d36f1)
}

// Bool hashes a boolean.
func Bool(b bool) uint64 {
	if b {
		return Int(1)
	}
	return Int(0)
}

// Digest is the order-independent checksum of a set of rows.
type Digest struct {
	Sum  uint64
	Rows int64
}

// Add adds a finished row hash.
func (d *Digest) Add(rowHash uint64) {
	d.Sum += rowHash
	d.Rows++
}

// Merge adds another digest.
func (d *Digest) Merge(o Digest) {
	d.Sum += o.Sum
	d.Rows += o.Rows
}

// String renders the digest as rows:hex.
func (d Digest) String() string { return fmt.Sprintf("%d:%016x", d.Rows, d.Sum) }

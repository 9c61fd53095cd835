package rowhash

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// ArrowColumn folds the values of one column into the row hashes h (one per row).
func ArrowColumn(col arrow.Array, h []uint64) error {
	n := col.Len()
	if len(h) != n {
		return fmt.Errorf("rowhash: %d row hashes for %d values", len(h), n)
	}
	switch a := col.(type) {
	case *array.String:
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				h[i] = Combine(h[i], nullHash)
			} else {
				h[i] = Combine(h[i], String(a.Value(i)))
			}
		}
	case *array.Int32:
		for i := 0; i < n; i++ {
			h[i] = Combine(h[i], valueOrNull(a.IsNull(i), func() uint64 { return Int(int64(a.Value(i))) }))
		}
	case *array.Int64:
		for i := 0; i < n; i++ {
			h[i] = Combine(h[i], valueOrNull(a.IsNull(i), func() uint64 { return Int(a.Value(i)) }))
		}
	case *array.Float64:
		for i := 0; i < n; i++ {
			h[i] = Combine(h[i], valueOrNull(a.IsNull(i), func() uint64 { return Float(a.Value(i)) }))
		}
	case *array.Boolean:
		for i := 0; i < n; i++ {
			h[i] = Combine(h[i], valueOrNull(a.IsNull(i), func() uint64 { return Bool(a.Value(i)) }))
		}
	case *array.Date32:
		for i := 0; i < n; i++ {
			h[i] = Combine(h[i], valueOrNull(a.IsNull(i), func() uint64 { return Int(int64(a.Value(i))) }))
		}
	case *array.Timestamp:
		for i := 0; i < n; i++ {
			h[i] = Combine(h[i], valueOrNull(a.IsNull(i), func() uint64 { return Int(int64(a.Value(i))) }))
		}
	default:
		return fmt.Errorf("rowhash: unsupported arrow type %s", col.DataType())
	}
	return nil
}

func valueOrNull(null bool, v func() uint64) uint64 {
	if null {
		return nullHash
	}
	return v()
}

// ArrowRecord adds every row of rec (columns in contract order) to d.
func ArrowRecord(rec arrow.RecordBatch, d *Digest) error {
	h := make([]uint64, rec.NumRows())
	for i := range h {
		h[i] = start
	}
	for c := 0; c < int(rec.NumCols()); c++ {
		if err := ArrowColumn(rec.Column(c), h); err != nil {
			return err
		}
	}
	for _, x := range h {
		d.Add(Finish(x))
	}
	return nil
}

package relational

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

const (
	pgEpochDays   = 10957 // days from 1970-01-01 to 2000-01-01
	pgEpochMicros = pgEpochDays * 86400 * 1_000_000
)

// binaryCopy streams Arrow record batches as PostgreSQL's binary COPY format, column arrays
// straight to wire bytes: no per-value interface boxing and no type lookup per value, which is
// where a generic row encoder spends its time.
type binaryCopy struct {
	rdr     array.RecordReader
	buf     []byte
	off     int
	started bool
	done    bool
	rows    int64
	err     error
}

func newBinaryCopy(rdr array.RecordReader) *binaryCopy {
	return &binaryCopy{rdr: rdr, buf: make([]byte, 0, 1<<20)}
}

// Read implements io.Reader for pgconn.CopyFrom.
func (b *binaryCopy) Read(p []byte) (int, error) {
	for b.off >= len(b.buf) {
		if b.done {
			return 0, io.EOF
		}
		b.buf, b.off = b.buf[:0], 0
		if err := b.fill(); err != nil {
			b.err = err
			return 0, err
		}
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	return n, nil
}

func (b *binaryCopy) fill() error {
	if !b.started {
		b.started = true
		b.buf = append(b.buf, "PGCOPY\n\xff\r\n\x00"...)
		b.buf = binary.BigEndian.AppendUint32(b.buf, 0) // flags
		b.buf = binary.BigEndian.AppendUint32(b.buf, 0) // header extension length
	}
	if !b.rdr.Next() {
		if err := b.rdr.Err(); err != nil {
			return err
		}
		b.buf = binary.BigEndian.AppendUint16(b.buf, 0xffff) // trailer: -1
		b.done = true
		return nil
	}
	return b.encode(b.rdr.RecordBatch())
}

// encode appends one record batch, row by row, reading each column through a typed accessor.
func (b *binaryCopy) encode(rec arrow.RecordBatch) error {
	ncols := int(rec.NumCols())
	writers := make([]func(buf []byte, i int) []byte, ncols)
	for c := 0; c < ncols; c++ {
		col := rec.Column(c)
		switch a := col.(type) {
		case *array.String:
			writers[c] = func(buf []byte, i int) []byte {
				s := a.Value(i)
				buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
				return append(buf, s...)
			}
		case *array.Int32:
			writers[c] = func(buf []byte, i int) []byte {
				buf = binary.BigEndian.AppendUint32(buf, 4)
				return binary.BigEndian.AppendUint32(buf, uint32(a.Value(i)))
			}
		case *array.Int64:
			writers[c] = func(buf []byte, i int) []byte {
				buf = binary.BigEndian.AppendUint32(buf, 8)
				return binary.BigEndian.AppendUint64(buf, uint64(a.Value(i)))
			}
		case *array.Float64:
			writers[c] = func(buf []byte, i int) []byte {
				buf = binary.BigEndian.AppendUint32(buf, 8)
				return binary.BigEndian.AppendUint64(buf, math.Float64bits(a.Value(i)))
			}
		case *array.Boolean:
			writers[c] = func(buf []byte, i int) []byte {
				buf = binary.BigEndian.AppendUint32(buf, 1)
				if a.Value(i) {
					return append(buf, 1)
				}
				return append(buf, 0)
			}
		case *array.Date32:
			writers[c] = func(buf []byte, i int) []byte {
				buf = binary.BigEndian.AppendUint32(buf, 4)
				return binary.BigEndian.AppendUint32(buf, uint32(int32(a.Value(i))-pgEpochDays))
			}
		case *array.Timestamp:
			unit := a.DataType().(*arrow.TimestampType).Unit
			if unit != arrow.Microsecond {
				return fmt.Errorf("column %d: timestamp unit %s, want microseconds", c, unit)
			}
			writers[c] = func(buf []byte, i int) []byte {
				buf = binary.BigEndian.AppendUint32(buf, 8)
				return binary.BigEndian.AppendUint64(buf, uint64(int64(a.Value(i))-pgEpochMicros))
			}
		default:
			return fmt.Errorf("column %d: unsupported arrow type %s", c, col.DataType())
		}
	}
	cols := rec.Columns()
	n := int(rec.NumRows())
	for i := 0; i < n; i++ {
		b.buf = binary.BigEndian.AppendUint16(b.buf, uint16(ncols))
		for c, w := range writers {
			if cols[c].IsNull(i) {
				b.buf = binary.BigEndian.AppendUint32(b.buf, 0xffffffff) // -1: NULL
				continue
			}
			b.buf = w(b.buf, i)
		}
	}
	b.rows += int64(n)
	return nil
}

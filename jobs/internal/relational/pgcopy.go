package relational

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lakeport/lakeport/jobs/internal/tracing"
)

const (
	pgEpochDays   = 10957 // days from 1970-01-01 to 2000-01-01
	pgEpochMicros = pgEpochDays * 86400 * 1_000_000
)

// copyChunkRows is the rows encoded per chunk handed to the connection: small enough that the
// server always has the next chunk waiting while the client decodes the next Parquet batch
// (a whole 64K-row batch at a time left the server idle between batches), large enough that the
// per-chunk cost vanishes (~0.5 MB a chunk for the widest contract).
const copyChunkRows = 4096

// copyChunksAhead is how many encoded chunks the encoder may run ahead of the connection.
const copyChunksAhead = 4

// copyBinary streams rdr into the server with `sql` (a COPY ... FROM STDIN WITH (FORMAT binary))
// and returns the rows sent, checked against the rows the server took. Decoding and encoding run
// in their own goroutine, ahead of the connection's writes (binaryCopy).
func copyBinary(ctx context.Context, conn *pgconn.PgConn, rdr array.RecordReader, sql string) (rows int64, err error) {
	ctx = tracing.Pgx{}.TraceCopyStart(ctx, sql) // a raw pgconn COPY: pgx's tracer does not see it
	defer func() { tracing.Pgx{}.TraceCopyEnd(ctx, rows, err) }()
	src := newBinaryCopy(rdr)
	tag, err := conn.CopyFrom(ctx, src, sql)
	rows, serr := src.Close()
	if serr != nil {
		return 0, serr // the encoder's error is the cause of the connection's
	}
	if err != nil {
		return 0, err
	}
	if tag.RowsAffected() != rows {
		return 0, fmt.Errorf("server took %d rows of %d", tag.RowsAffected(), rows)
	}
	return rows, nil
}

// binaryCopy is an io.Reader of PostgreSQL's binary COPY format encoded straight from Arrow
// record batches: no per-value interface boxing, no type lookup per value, each chunk's buffer
// sized once from the Arrow offsets and reused (profiled: growing one buffer per 64K-row batch
// spent most of the encoder's time in memmove and memclr). A goroutine reads and encodes
// copyChunksAhead chunks ahead of Read, so that Parquet decoding overlaps the server's work.
type binaryCopy struct {
	rdr    array.RecordReader
	chunks chan []byte
	free   chan []byte
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once

	cur []byte
	off int

	// Written by the encoder, read after done is closed.
	rows int64
	err  error
}

func newBinaryCopy(rdr array.RecordReader) *binaryCopy {
	b := &binaryCopy{
		rdr:    rdr,
		chunks: make(chan []byte, copyChunksAhead),
		free:   make(chan []byte, copyChunksAhead+2),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go b.encodeAll()
	return b
}

// Read implements io.Reader for pgconn.CopyFrom.
func (b *binaryCopy) Read(p []byte) (int, error) {
	for b.off >= len(b.cur) {
		if b.cur != nil {
			select {
			case b.free <- b.cur[:0]:
			default:
			}
			b.cur = nil
		}
		c, ok := <-b.chunks
		if !ok {
			<-b.done
			if b.err != nil {
				return 0, b.err
			}
			return 0, io.EOF
		}
		b.cur, b.off = c, 0
	}
	n := copy(p, b.cur[b.off:])
	b.off += n
	return n, nil
}

// Close stops the encoder (the connection may have given up early) and returns the rows encoded
// and the encoder's error. The reader is not used after Close returns.
func (b *binaryCopy) Close() (int64, error) {
	b.once.Do(func() { close(b.stop) })
	<-b.done
	return b.rows, b.err
}

func (b *binaryCopy) buffer(size int) []byte {
	select {
	case buf := <-b.free:
		if cap(buf) >= size {
			return buf
		}
	default:
	}
	return make([]byte, 0, size+size/4)
}

func (b *binaryCopy) send(buf []byte) bool {
	select {
	case b.chunks <- buf:
		return true
	case <-b.stop:
		return false
	}
}

func (b *binaryCopy) encodeAll() {
	defer close(b.done)
	defer close(b.chunks)
	head := b.buffer(19)
	head = append(head, "PGCOPY\n\xff\r\n\x00"...)
	head = binary.BigEndian.AppendUint32(head, 0) // flags
	head = binary.BigEndian.AppendUint32(head, 0) // header extension length
	if !b.send(head) {
		return
	}
	for b.rdr.Next() {
		rec := b.rdr.RecordBatch()
		enc, err := newRowEncoder(rec)
		if err != nil {
			b.err = err
			return
		}
		n := int(rec.NumRows())
		for lo := 0; lo < n; lo += copyChunkRows {
			hi := min(n, lo+copyChunkRows)
			buf := enc.encode(b.buffer(enc.size(lo, hi)), lo, hi)
			b.rows += int64(hi - lo)
			if !b.send(buf) {
				return
			}
		}
	}
	if err := b.rdr.Err(); err != nil {
		b.err = err
		return
	}
	b.send(binary.BigEndian.AppendUint16(b.buffer(2), 0xffff)) // trailer: -1
}

// colEnc encodes one column's values.
type colEnc struct {
	kind  byte // 's' string, '4' 4-byte, '8' 8-byte, 'b' boolean
	nulls bool // the column has nulls: check each value
	arr   arrow.Array
	str   *array.String
	u32   func(i int) uint32
	u64   func(i int) uint64
	bl    *array.Boolean
}

type rowEncoder struct {
	cols  []colEnc
	fixed int // bytes of every row besides its strings: field count, lengths, fixed values
}

func newRowEncoder(rec arrow.RecordBatch) (*rowEncoder, error) {
	e := &rowEncoder{cols: make([]colEnc, rec.NumCols()), fixed: 2}
	for c := range e.cols {
		col := rec.Column(c)
		ce := colEnc{arr: col, nulls: col.NullN() > 0}
		switch a := col.(type) {
		case *array.String:
			ce.kind, ce.str = 's', a
		case *array.Int32:
			ce.kind, ce.u32 = '4', func(i int) uint32 { return uint32(a.Value(i)) }
		case *array.Date32:
			ce.kind, ce.u32 = '4', func(i int) uint32 { return uint32(int32(a.Value(i)) - pgEpochDays) }
		case *array.Int64:
			ce.kind, ce.u64 = '8', func(i int) uint64 { return uint64(a.Value(i)) }
		case *array.Float64:
			ce.kind, ce.u64 = '8', func(i int) uint64 { return math.Float64bits(a.Value(i)) }
		case *array.Timestamp:
			if unit := a.DataType().(*arrow.TimestampType).Unit; unit != arrow.Microsecond {
				return nil, fmt.Errorf("column %d: timestamp unit %s, want microseconds", c, unit)
			}
			ce.kind, ce.u64 = '8', func(i int) uint64 { return uint64(int64(a.Value(i)) - pgEpochMicros) }
		case *array.Boolean:
			ce.kind, ce.bl = 'b', a
		default:
			return nil, fmt.Errorf("column %d: unsupported arrow type %s", c, col.DataType())
		}
		e.fixed += 4
		switch ce.kind {
		case '4':
			e.fixed += 4
		case '8':
			e.fixed += 8
		case 'b':
			e.fixed++
		}
		e.cols[c] = ce
	}
	return e, nil
}

// size is an upper bound of the bytes of rows [lo, hi).
func (e *rowEncoder) size(lo, hi int) int {
	n := (hi - lo) * e.fixed
	for _, c := range e.cols {
		if c.kind == 's' {
			offs := c.str.ValueOffsets() // len+1 offsets
			n += int(offs[hi] - offs[lo])
		}
	}
	return n
}

// encode appends rows [lo, hi) to buf, which has room for them (size).
func (e *rowEncoder) encode(buf []byte, lo, hi int) []byte {
	ncols := uint16(len(e.cols))
	for i := lo; i < hi; i++ {
		buf = binary.BigEndian.AppendUint16(buf, ncols)
		for c := range e.cols {
			ce := &e.cols[c]
			if ce.nulls && ce.arr.IsNull(i) {
				buf = binary.BigEndian.AppendUint32(buf, 0xffffffff) // -1: NULL
				continue
			}
			switch ce.kind {
			case 's':
				s := ce.str.Value(i)
				buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
				buf = append(buf, s...)
			case '4':
				buf = binary.BigEndian.AppendUint32(buf, 4)
				buf = binary.BigEndian.AppendUint32(buf, ce.u32(i))
			case '8':
				buf = binary.BigEndian.AppendUint32(buf, 8)
				buf = binary.BigEndian.AppendUint64(buf, ce.u64(i))
			case 'b':
				buf = binary.BigEndian.AppendUint32(buf, 1)
				if ce.bl.Value(i) {
					buf = append(buf, 1)
				} else {
					buf = append(buf, 0)
				}
			}
		}
	}
	return buf
}

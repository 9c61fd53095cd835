package source

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/lakeport/lakeport/jobs/internal/contract"
)

// SchemaProblem is a difference between a file's schema and the contract.
type SchemaProblem struct {
	File    string
	Column  string
	Problem string
}

func (p SchemaProblem) String() string {
	return fmt.Sprintf("%s: column %s: %s", p.File, p.Column, p.Problem)
}

// CheckSchema compares every file's schema with the contract. The partition column may be
// absent from the files (Spark keeps it in the folder name); every other column must be present
// with the contract's type, and no other column may be.
func (in *Input) CheckSchema(ctx context.Context, c *contract.Contract) ([]SchemaProblem, error) {
	var out []SchemaProblem
	for _, f := range in.Files {
		sc, err := in.fileSchema(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", f.Name, err)
		}
		for _, col := range c.Columns {
			idx := sc.FieldIndices(col.Name)
			if len(idx) == 0 {
				if col.Name != c.PartitionBy {
					out = append(out, SchemaProblem{f.Name, col.Name, "missing"})
				}
				continue
			}
			got, want := sc.Field(idx[0]).Type, contract.ArrowType(col.Type)
			if !arrow.TypeEqual(got, want) && !sameTimestamp(got, want) {
				out = append(out, SchemaProblem{f.Name, col.Name, fmt.Sprintf("type %s, contract says %s (%s)", got, want, col.Type)})
			}
		}
		for _, fld := range sc.Fields() {
			if _, ok := c.Column(fld.Name); !ok {
				out = append(out, SchemaProblem{f.Name, fld.Name, "not in the contract"})
			}
		}
	}
	return out, nil
}

// sameTimestamp accepts microsecond timestamps whether or not the file names UTC: Spark writes
// TIMESTAMP as UTC-adjusted int64 micros.
func sameTimestamp(got, want arrow.DataType) bool {
	g, ok1 := got.(*arrow.TimestampType)
	w, ok2 := want.(*arrow.TimestampType)
	return ok1 && ok2 && g.Unit == w.Unit && (g.TimeZone == "" || g.TimeZone == "UTC" || g.TimeZone == "+00:00")
}

func (in *Input) fileSchema(ctx context.Context, f File) (*arrow.Schema, error) {
	r, err := in.openParquet(ctx, f)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	return fr.Schema()
}

// Records streams the input as record batches of the contract's Arrow schema, in file order.
// CheckSchema must have passed. The partition column is filled from the folder's date when the
// files leave it out.
func (in *Input) Records(ctx context.Context, c *contract.Contract, batchRows int64) *Reader {
	if batchRows <= 0 {
		batchRows = 64 * 1024
	}
	return &Reader{ctx: ctx, in: in, c: c, sc: c.ArrowSchema(), full: c.ArrowSchema(), batch: batchRows, refs: 1, fileIdx: -1, mem: memory.DefaultAllocator}
}

// KeysOnly makes the reader read only the key columns (Parquet column projection: the other
// columns' chunks are never read, nor downloaded from S3) of the files for which keysOnly is true.
// Their batches have KeySchema: the key columns in the contract's key order (KeysOnlyBatch tells
// which kind the current batch is). A sharded worker reads the files it does not own this way:
// it only checks the uniqueness of the keys hashed to it there. Call it before the first Next.
func (r *Reader) KeysOnly(keysOnly func(file string) bool) *Reader {
	r.keysOnly = keysOnly
	return r
}

// KeySchema is the schema of a key-only batch: the key columns in the contract's key order.
func KeySchema(c *contract.Contract) *arrow.Schema {
	full := c.ArrowSchema()
	idx := c.KeyIndexes()
	fields := make([]arrow.Field, len(idx))
	for i, j := range idx {
		fields[i] = full.Field(j)
	}
	return arrow.NewSchema(fields, nil)
}

// Reader is an array.RecordReader over the input files.
type Reader struct {
	ctx   context.Context
	in    *Input
	c     *contract.Contract
	sc    *arrow.Schema // the current file's output schema (full, or KeySchema)
	full  *arrow.Schema // the contract's schema
	batch int64
	mem   memory.Allocator
	refs  int64

	keysOnly func(file string) bool
	keyFile  bool // the current file is read key columns only

	fileIdx int
	pf      *file.Reader
	rr      pqarrow.RecordReader
	colMap  []int // contract column -> file column, -1 for the partition column from the path
	cur     arrow.RecordBatch
	err     error

	// FileRow is the row offset of the current batch within the current file.
	fileRow, nextFileRow int64
}

var _ array.RecordReader = (*Reader)(nil)

// Retain increases the reference count.
func (r *Reader) Retain() { atomic.AddInt64(&r.refs, 1) }

// Release decreases the reference count and closes the reader at zero.
func (r *Reader) Release() {
	if atomic.AddInt64(&r.refs, -1) == 0 {
		r.closeCurrent()
		if r.cur != nil {
			r.cur.Release()
			r.cur = nil
		}
	}
}

// Schema is the contract's Arrow schema (key-only batches have KeySchema).
func (r *Reader) Schema() *arrow.Schema { return r.full }

// KeysOnlyBatch reports whether the current batch holds the key columns only (KeysOnly).
func (r *Reader) KeysOnlyBatch() bool { return r.keyFile }

// RecordBatch is the current batch, valid until the next call to Next.
func (r *Reader) RecordBatch() arrow.RecordBatch { return r.cur }

// Record is RecordBatch under its deprecated name.
func (r *Reader) Record() arrow.RecordBatch { return r.cur }

// Err is the error that stopped the reader, if any.
func (r *Reader) Err() error { return r.err }

// Position names the file and the row offset in that file of the current batch.
func (r *Reader) Position() (string, int64) {
	if r.fileIdx < 0 || r.fileIdx >= len(r.in.Files) {
		return "", 0
	}
	return r.in.Files[r.fileIdx].Name, r.fileRow
}

func (r *Reader) closeCurrent() {
	if r.rr != nil {
		r.rr.Release()
		r.rr = nil
	}
	if r.pf != nil {
		_ = r.pf.Close()
		r.pf = nil
	}
}

func (r *Reader) openNext() error {
	r.closeCurrent()
	r.fileIdx++
	if r.fileIdx >= len(r.in.Files) {
		return nil
	}
	f := r.in.Files[r.fileIdx]
	pf, err := r.in.openParquet(r.ctx, f)
	if err != nil {
		return fmt.Errorf("open %s: %w", f.Name, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: r.batch}, r.mem)
	if err != nil {
		_ = pf.Close()
		return fmt.Errorf("read %s: %w", f.Name, err)
	}
	fsc, err := fr.Schema()
	if err != nil {
		_ = pf.Close()
		return fmt.Errorf("schema of %s: %w", f.Name, err)
	}
	want := make([]int, len(r.c.Columns)) // contract columns to read, in output order
	for i := range want {
		want[i] = i
	}
	r.keyFile, r.sc = false, r.full
	if r.keysOnly != nil && r.keysOnly(f.Name) {
		r.keyFile, r.sc, want = true, KeySchema(r.c), r.c.KeyIndexes()
	}
	r.colMap = make([]int, len(want))
	var cols []int
	for i, ci := range want {
		col := r.c.Columns[ci]
		idx := fsc.FieldIndices(col.Name)
		if len(idx) == 0 {
			if col.Name != r.c.PartitionBy {
				_ = pf.Close()
				return fmt.Errorf("%s: column %s missing", f.Name, col.Name)
			}
			r.colMap[i] = -1
			continue
		}
		r.colMap[i] = len(cols)
		cols = append(cols, idx[0])
	}
	rr, err := fr.GetRecordReader(r.ctx, cols, nil)
	if err != nil {
		_ = pf.Close()
		return fmt.Errorf("records of %s: %w", f.Name, err)
	}
	r.pf, r.rr = pf, rr
	r.fileRow, r.nextFileRow = 0, 0
	return nil
}

// Next advances to the next batch.
func (r *Reader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.err != nil {
		return false
	}
	for {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return false
		}
		if r.rr == nil {
			if err := r.openNext(); err != nil {
				r.err = err
				return false
			}
			if r.rr == nil {
				return false
			}
		}
		if r.rr.Next() {
			rec := r.rr.RecordBatch()
			if rec.NumRows() == 0 {
				continue
			}
			r.cur = r.shape(rec)
			r.fileRow = r.nextFileRow
			r.nextFileRow += rec.NumRows()
			return true
		}
		if err := r.rr.Err(); err != nil {
			r.err = fmt.Errorf("read %s: %w", r.in.Files[r.fileIdx].Name, err)
			return false
		}
		r.closeCurrent()
	}
}

// shape puts the file's columns in contract order under the contract's schema, filling the
// partition column from the folder date when needed.
func (r *Reader) shape(rec arrow.RecordBatch) arrow.RecordBatch {
	n := rec.NumRows()
	cols := make([]arrow.Array, len(r.colMap))
	for i, src := range r.colMap {
		if src >= 0 {
			a := rec.Column(src)
			if !arrow.TypeEqual(a.DataType(), r.sc.Field(i).Type) {
				// Same physical layout (timestamp zone differs): relabel.
				d := array.NewData(r.sc.Field(i).Type, a.Len(), a.Data().Buffers(), nil, a.NullN(), a.Data().Offset())
				a = array.MakeFromData(d)
				d.Release()
			} else {
				a.Retain()
			}
			cols[i] = a
			continue
		}
		b := array.NewDate32Builder(r.mem)
		b.Reserve(int(n))
		day := arrow.Date32FromTime(r.in.CobDate)
		for j := int64(0); j < n; j++ {
			b.UnsafeAppend(day)
		}
		cols[i] = b.NewArray()
		b.Release()
	}
	out := array.NewRecordBatch(r.sc, cols, n)
	for _, a := range cols {
		a.Release()
	}
	return out
}

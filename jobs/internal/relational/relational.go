// Package relational loads a dataset's rows for one date into the relational target in bulk and
// atomically: the rows go into a staging table first and replace the date's rows in the same
// transaction that records the publication, so a reader sees the old day or the new day, never a
// mix, and a crash leaves the old day in place.
//
// PostgreSQL: COPY (pgx CopyFrom, binary protocol) into a fresh table that is then swapped in as
// the date's LIST partition. Oracle: direct-path array inserts into an exchange table, then
// EXCHANGE PARTITION (see Oracle). SQLite (embedded default): DELETE + prepared INSERTs.
package relational

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeport/lakeport/jobs/internal/contract"
)

// Publication is what the publication log records for one dataset and date.
type Publication struct {
	Dataset    string
	CobDate    time.Time
	RunID      string
	SnapshotID int64
	// SnapshotSeq is the Iceberg sequence number of SnapshotID: loads of older snapshots than the
	// recorded one are refused.
	SnapshotSeq     int64
	InputSHA256     string
	ContentChecksum string
	Rows            int64
	PublishedAt     time.Time
}

// Result describes a load.
type Result struct {
	Rows     int64
	Duration time.Duration
	// Replaced is the number of rows the date had before.
	Replaced int64
	// SwapRetries counts the swap attempts that timed out waiting for the parent table's lock.
	SwapRetries int
	// Phases are the durations of the load's steps (copy, index, swap, ...), for logs and tuning.
	Phases map[string]time.Duration
}

// Loader loads one date of a dataset.
type Loader interface {
	// Load replaces the rows of pub.CobDate with the records of rdr and records pub, atomically.
	Load(ctx context.Context, c *contract.Contract, pub Publication, rdr array.RecordReader) (Result, error)
	// Count returns the number of rows of a date.
	Count(ctx context.Context, c *contract.Contract, cob time.Time) (int64, error)
	// Publication returns the recorded publication of a date, or nil.
	Publication(ctx context.Context, dataset string, cob time.Time) (*Publication, error)
	Close() error
}

// valueFunc reads row i of a column as the Go value a driver binds.
type valueFunc func(i int) any

// columnValues returns one accessor per column of rec; dates and timestamps become time.Time
// (UTC), or strings when asText (SQLite stores them as ISO-8601 text).
func columnValues(rec arrow.RecordBatch, asText bool) ([]valueFunc, error) {
	out := make([]valueFunc, rec.NumCols())
	for c := range out {
		col := rec.Column(c)
		null := col.IsNull
		switch a := col.(type) {
		case *array.String:
			out[c] = func(i int) any {
				if null(i) {
					return nil
				}
				return a.Value(i)
			}
		case *array.Int32:
			out[c] = func(i int) any {
				if null(i) {
					return nil
				}
				return a.Value(i)
			}
		case *array.Int64:
			out[c] = func(i int) any {
				if null(i) {
					return nil
				}
				return a.Value(i)
			}
		case *array.Float64:
			out[c] = func(i int) any {
				if null(i) {
					return nil
				}
				return a.Value(i)
			}
		case *array.Boolean:
			out[c] = func(i int) any {
				if null(i) {
					return nil
				}
				return a.Value(i)
			}
		case *array.Date32:
			out[c] = func(i int) any {
				if null(i) {
					return nil
				}
				t := a.Value(i).ToTime()
				if asText {
					return t.Format(time.DateOnly)
				}
				return t
			}
		case *array.Timestamp:
			unit := a.DataType().(*arrow.TimestampType).Unit
			out[c] = func(i int) any {
				if null(i) {
					return nil
				}
				t := a.Value(i).ToTime(unit).UTC()
				if asText {
					return t.Format("2006-01-02T15:04:05.000000Z")
				}
				return t
			}
		default:
			return nil, fmt.Errorf("column %d: unsupported arrow type %s", c, col.DataType())
		}
	}
	return out, nil
}

// rowSource walks a RecordReader row by row (pgx.CopyFromSource, and the row loops of the other
// loaders).
type rowSource struct {
	rdr    array.RecordReader
	asText bool
	funcs  []valueFunc
	n, i   int
	vals   []any
	rows   int64
	err    error
}

func newRowSource(rdr array.RecordReader, asText bool) *rowSource {
	return &rowSource{rdr: rdr, asText: asText, i: -1, vals: make([]any, rdr.Schema().NumFields())}
}

// Next advances to the next row.
func (s *rowSource) Next() bool {
	s.i++
	for s.funcs == nil || s.i >= s.n {
		if !s.rdr.Next() {
			s.err = s.rdr.Err()
			return false
		}
		rec := s.rdr.RecordBatch()
		funcs, err := columnValues(rec, s.asText)
		if err != nil {
			s.err = err
			return false
		}
		s.funcs, s.n, s.i = funcs, int(rec.NumRows()), 0
	}
	s.rows++
	return true
}

// Values returns the current row; the slice is reused.
func (s *rowSource) Values() ([]any, error) {
	for c, f := range s.funcs {
		s.vals[c] = f(s.i)
	}
	return s.vals, nil
}

// Err is the error that ended the iteration.
func (s *rowSource) Err() error { return s.err }

// RowSource walks a RecordReader row by row with driver-ready values (dates and timestamps as
// time.Time); the benchmark's row-by-row baseline uses it.
type RowSource interface {
	Next() bool
	Values() ([]any, error)
	Err() error
}

// NewRowSource returns a RowSource over rdr.
func NewRowSource(rdr array.RecordReader) RowSource { return newRowSource(rdr, false) }

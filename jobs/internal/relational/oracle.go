package relational

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	_ "github.com/sijms/go-ora/v2" // pure-Go "oracle" database/sql driver

	"github.com/lakeport/lakeport/jobs/internal/contract"
)

// OracleArrayRows is the number of rows bound per array INSERT round trip.
const OracleArrayRows = 10000

// Oracle loads into Oracle Database with github.com/sijms/go-ora (pure Go): the rows are
// array-bound (OracleArrayRows per round trip) into the dataset's global temporary staging table,
// then, in the same transaction, the date's rows are deleted from the target, the staging rows
// inserted with a direct-path INSERT /*+ APPEND */ SELECT, and the publication recorded. COMMIT
// makes the new day visible at once and empties the staging table (ON COMMIT DELETE ROWS).
//
// No Oracle server runs on the machines this was built on: the loader is compiled and its
// batching and SQL are unit-tested, but it has not run against a database here.
type Oracle struct {
	db *sql.DB
}

// OpenOracleDB opens an oracle://user:password@host:port/service URL with go-ora.
func OpenOracleDB(dsn string) (*sql.DB, error) {
	db, err := sql.Open("oracle", dsn)
	if err != nil {
		return nil, fmt.Errorf("open oracle: %w", err)
	}
	return db, nil
}

// OpenOracle opens the loader and checks the connection.
func OpenOracle(ctx context.Context, dsn string) (*Oracle, error) {
	db, err := OpenOracleDB(dsn)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect oracle: %w", err)
	}
	return &Oracle{db: db}, nil
}

// Close closes the pool.
func (o *Oracle) Close() error { return o.db.Close() }

// OracleStatements are the statements of a load, in order (exposed for tests and reviews).
type OracleStatements struct {
	Stage, Delete, Insert, Record, Log string
}

// OracleSQL returns the statements that load a dataset.
func OracleSQL(c *contract.Contract) OracleStatements {
	cols := strings.Join(c.ColumnNames(), ", ")
	binds := make([]string, len(c.Columns))
	for i := range binds {
		binds[i] = fmt.Sprintf(":%d", i+1)
	}
	return OracleStatements{
		Stage:  fmt.Sprintf("INSERT INTO %s_stage (%s) VALUES (%s)", c.Table, cols, strings.Join(binds, ", ")),
		Delete: fmt.Sprintf("DELETE FROM %s WHERE %s = :1", c.Table, c.PartitionBy),
		Insert: fmt.Sprintf("INSERT /*+ APPEND */ INTO %s (%s) SELECT %s FROM %s_stage", c.Table, cols, cols, c.Table),
		Record: `MERGE INTO publications p USING (SELECT :1 AS dataset, :2 AS cob_date FROM dual) s
ON (p.dataset = s.dataset AND p.cob_date = s.cob_date)
WHEN MATCHED THEN UPDATE SET run_id = :3, snapshot_id = :4, input_sha256 = :5, content_checksum = :6, row_count = :7, published_at = SYSTIMESTAMP
WHEN NOT MATCHED THEN INSERT (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, published_at)
VALUES (:1, :2, :3, :4, :5, :6, :7, SYSTIMESTAMP)`,
		Log: `INSERT INTO publication_log (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count)
VALUES (:1, :2, :3, :4, :5, :6, :7)`,
	}
}

// Load implements Loader.
func (o *Oracle) Load(ctx context.Context, c *contract.Contract, pub Publication, rdr array.RecordReader) (Result, error) {
	start := time.Now()
	res := Result{Phases: map[string]time.Duration{}}
	st := OracleSQL(c)
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	stage, err := tx.PrepareContext(ctx, st.Stage)
	if err != nil {
		return res, fmt.Errorf("prepare staging insert: %w", err)
	}
	defer stage.Close()
	res.Rows, err = ArrayBatches(rdr, OracleArrayRows, func(cols []any) error {
		_, err := stage.ExecContext(ctx, cols...)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("array insert into %s_stage: %w", c.Table, err)
	}
	res.Phases["stage"] = time.Since(start)
	t0 := time.Now()
	del, err := tx.ExecContext(ctx, st.Delete, pub.CobDate)
	if err != nil {
		return res, fmt.Errorf("delete %s: %w", c.Table, err)
	}
	res.Replaced, _ = del.RowsAffected()
	ins, err := tx.ExecContext(ctx, st.Insert)
	if err != nil {
		return res, fmt.Errorf("insert into %s: %w", c.Table, err)
	}
	if n, err := ins.RowsAffected(); err == nil && n != res.Rows {
		return res, fmt.Errorf("insert into %s moved %d rows of %d staged", c.Table, n, res.Rows)
	}
	args := []any{pub.Dataset, pub.CobDate, pub.RunID, pub.SnapshotID, pub.InputSHA256, pub.ContentChecksum, res.Rows}
	if _, err := tx.ExecContext(ctx, st.Record, args...); err != nil {
		return res, fmt.Errorf("record publication: %w", err)
	}
	if _, err := tx.ExecContext(ctx, st.Log, args...); err != nil {
		return res, fmt.Errorf("log publication: %w", err)
	}
	res.Phases["swap"] = time.Since(t0)
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// ArrayBatches turns a record stream into column arrays of at most size rows (one []any per
// column, nil for nulls, int32 widened to int64, dates and timestamps as time.Time) and calls exec
// with one argument per column, as array binding wants. It returns the number of rows.
func ArrayBatches(rdr array.RecordReader, size int, exec func(cols []any) error) (int64, error) {
	ncols := rdr.Schema().NumFields()
	bufs := make([][]any, ncols)
	for i := range bufs {
		bufs[i] = make([]any, 0, size)
	}
	var total int64
	flush := func() error {
		if len(bufs[0]) == 0 {
			return nil
		}
		args := make([]any, ncols)
		for i := range bufs {
			args[i] = bufs[i]
		}
		if err := exec(args); err != nil {
			return err
		}
		for i := range bufs {
			bufs[i] = make([]any, 0, size)
		}
		return nil
	}
	for rdr.Next() {
		rec := rdr.RecordBatch()
		funcs, err := columnValues(rec, false)
		if err != nil {
			return total, err
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			for c, f := range funcs {
				v := f(r)
				if x, ok := v.(int32); ok {
					v = int64(x)
				}
				bufs[c] = append(bufs[c], v)
			}
			total++
			if len(bufs[0]) == size {
				if err := flush(); err != nil {
					return total, err
				}
			}
		}
	}
	if err := rdr.Err(); err != nil {
		return total, err
	}
	return total, flush()
}

// Count implements Loader.
func (o *Oracle) Count(ctx context.Context, c *contract.Contract, cob time.Time) (int64, error) {
	var n int64
	err := o.db.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s = :1", c.Table, c.PartitionBy), cob).Scan(&n)
	return n, err
}

// Publication implements Loader.
func (o *Oracle) Publication(ctx context.Context, dataset string, cob time.Time) (*Publication, error) {
	var pub Publication
	var snap sql.NullInt64
	err := o.db.QueryRowContext(ctx, `SELECT dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, published_at
FROM publications WHERE dataset = :1 AND cob_date = :2`, dataset, cob).
		Scan(&pub.Dataset, &pub.CobDate, &pub.RunID, &snap, &pub.InputSHA256, &pub.ContentChecksum, &pub.Rows, &pub.PublishedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pub.SnapshotID = snap.Int64
	return &pub, nil
}

package relational

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/lakeport/lakeport/jobs/internal/contract"
)

// SQLite loads into a SQLite file, the embedded default's relational target. Dates are stored as
// YYYY-MM-DD text and timestamps as ISO-8601 UTC text, which sort and compare correctly.
type SQLite struct {
	db *sql.DB
}

// OpenSQLite opens (creating) the database file.
func OpenSQLite(path string) (*SQLite, error) {
	db, err := OpenSQLiteDB(path)
	if err != nil {
		return nil, err
	}
	return &SQLite{db: db}, nil
}

// OpenSQLiteDB opens a SQLite file with WAL and a busy timeout.
func OpenSQLiteDB(path string) (*sql.DB, error) {
	dsn := path
	if !strings.HasPrefix(dsn, "file:") {
		dsn = "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open(sqliteshim.ShimName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// DB is the underlying database.
func (s *SQLite) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

// Load implements Loader: one transaction deletes the date's rows, inserts the new ones through a
// prepared statement and records the publication.
func (s *SQLite) Load(ctx context.Context, c *contract.Contract, pub Publication, rdr array.RecordReader) (Result, error) {
	start := time.Now()
	var res Result
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer func() { _ = tx.Rollback() }()
	date := pub.CobDate.Format(time.DateOnly)
	del, err := tx.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE %s = ?`, quoteIdent(c.Table), quoteIdent(c.PartitionBy)), date)
	if err != nil {
		return res, fmt.Errorf("delete %s %s: %w", c.Table, date, err)
	}
	res.Replaced, _ = del.RowsAffected()
	cols := make([]string, len(c.Columns))
	marks := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		cols[i], marks[i] = quoteIdent(col.Name), "?"
	}
	stmt, err := tx.PrepareContext(ctx, fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s)`, quoteIdent(c.Table), strings.Join(cols, ", "), strings.Join(marks, ", ")))
	if err != nil {
		return res, err
	}
	defer stmt.Close()
	src := newRowSource(rdr, true)
	for src.Next() {
		vals, _ := src.Values()
		if _, err := stmt.ExecContext(ctx, vals...); err != nil {
			return res, fmt.Errorf("insert into %s: %w", c.Table, err)
		}
	}
	if err := src.Err(); err != nil {
		return res, err
	}
	res.Rows = src.rows
	now := time.Now().UTC().Format(time.RFC3339Nano)
	args := []any{pub.Dataset, date, pub.RunID, pub.SnapshotID, pub.InputSHA256, pub.ContentChecksum, res.Rows, now}
	if _, err := tx.ExecContext(ctx, `INSERT INTO publications (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, published_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (dataset, cob_date) DO UPDATE SET run_id = excluded.run_id, snapshot_id = excluded.snapshot_id,
  input_sha256 = excluded.input_sha256, content_checksum = excluded.content_checksum, row_count = excluded.row_count,
  published_at = excluded.published_at`, args...); err != nil {
		return res, fmt.Errorf("record publication: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO publication_log (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, published_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		return res, fmt.Errorf("log publication: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

// Count implements Loader.
func (s *SQLite) Count(ctx context.Context, c *contract.Contract, cob time.Time) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s = ?`, quoteIdent(c.Table), quoteIdent(c.PartitionBy)), cob.Format(time.DateOnly)).Scan(&n)
	return n, err
}

// Publication implements Loader.
func (s *SQLite) Publication(ctx context.Context, dataset string, cob time.Time) (*Publication, error) {
	var pub Publication
	var date, at string
	err := s.db.QueryRowContext(ctx, `SELECT dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, published_at
FROM publications WHERE dataset = ? AND cob_date = ?`, dataset, cob.Format(time.DateOnly)).
		Scan(&pub.Dataset, &date, &pub.RunID, &pub.SnapshotID, &pub.InputSHA256, &pub.ContentChecksum, &pub.Rows, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pub.CobDate, _ = time.Parse(time.DateOnly, date)
	pub.PublishedAt, _ = time.Parse(time.RFC3339Nano, at)
	return &pub, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

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

// Load implements Loader: Stage then Swap.
func (s *SQLite) Load(ctx context.Context, c *contract.Contract, pub Publication, rdr array.RecordReader) (Result, error) {
	st, err := s.Stage(ctx, c, pub, rdr)
	if err != nil {
		return Result{}, err
	}
	res, err := st.Swap(ctx, pub)
	if err != nil {
		if aerr := st.Abort(context.WithoutCancel(ctx)); aerr != nil {
			err = errors.Join(err, aerr)
		}
	}
	return res, err
}

type sqliteStaged struct {
	s      *SQLite
	c      *contract.Contract
	stage  string
	rows   int64
	phases map[string]time.Duration
	start  time.Time
}

// Stage implements Stager: the rows go into a table of the run's own (<t>_d<date>_s<hash of the
// run id>, as on PostgreSQL) through prepared INSERTs in one transaction, committed before the
// Iceberg commit; the date's rows are untouched until Swap.
func (s *SQLite) Stage(ctx context.Context, c *contract.Contract, pub Publication, rdr array.RecordReader) (StagedLoad, error) {
	start := time.Now()
	st := &sqliteStaged{s: s, c: c, stage: stagingName(c, pub.CobDate, pub.RunID), phases: map[string]time.Duration{}, start: start}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	for _, q := range []string{
		fmt.Sprintf(`DROP TABLE IF EXISTS %s`, quoteIdent(st.stage)),
		fmt.Sprintf(`CREATE TABLE %s AS SELECT * FROM %s WHERE 0`, quoteIdent(st.stage), quoteIdent(c.Table)),
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			if strings.Contains(err.Error(), "no such table") {
				return nil, fmt.Errorf("table %s does not exist: run `distribution migrate` first: %w", c.Table, err)
			}
			return nil, fmt.Errorf("prepare staging table %s: %w", st.stage, err)
		}
	}
	cols := make([]string, len(c.Columns))
	marks := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		cols[i], marks[i] = quoteIdent(col.Name), "?"
	}
	stmt, err := tx.PrepareContext(ctx, fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s)`, quoteIdent(st.stage), strings.Join(cols, ", "), strings.Join(marks, ", ")))
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	src := newRowSource(rdr, true)
	for src.Next() {
		vals, _ := src.Values()
		if _, err := stmt.ExecContext(ctx, vals...); err != nil {
			return nil, fmt.Errorf("insert into %s: %w", st.stage, err)
		}
	}
	if err := src.Err(); err != nil {
		return nil, err
	}
	st.rows = src.rows
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit staging table %s: %w", st.stage, err)
	}
	st.phases["stage"] = time.Since(start)
	return st, nil
}

// DropStaging implements Stager.
func (s *SQLite) DropStaging(ctx context.Context, c *contract.Contract, cob time.Time) ([]string, error) {
	prefix := partitionName(c, cob)
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '\'`,
		strings.ReplaceAll(prefix, "_", `\_`)+`\_s%`)
	if err != nil {
		return nil, fmt.Errorf("list staging tables of %s: %w", prefix, err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			_ = rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, err := s.db.ExecContext(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS %s`, quoteIdent(n))); err != nil {
			return nil, fmt.Errorf("drop staging table %s: %w", n, err)
		}
	}
	return names, nil
}

func (st *sqliteStaged) Rows() int64 { return st.rows }

// Abort implements StagedLoad.
func (st *sqliteStaged) Abort(ctx context.Context) error {
	if _, err := st.s.db.ExecContext(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS %s`, quoteIdent(st.stage))); err != nil {
		return fmt.Errorf("drop staging table %s: %w", st.stage, err)
	}
	return nil
}

// Swap implements StagedLoad: one transaction refuses a snapshot older than the recorded one,
// replaces the date's rows with the staged ones (DELETE, INSERT ... SELECT: no value crosses the
// driver again), drops the stage and records the publication and the state "published".
func (st *sqliteStaged) Swap(ctx context.Context, pub Publication) (Result, error) {
	s, c := st.s, st.c
	res := Result{Rows: st.rows, Phases: map[string]time.Duration{}}
	for k, v := range st.phases {
		res.Phases[k] = v
	}
	t0 := time.Now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer func() { _ = tx.Rollback() }()
	date := pub.CobDate.Format(time.DateOnly)
	var recSeq sql.NullInt64
	var recRun string
	err = tx.QueryRowContext(ctx, `SELECT snapshot_seq, run_id FROM publications WHERE dataset = ? AND cob_date = ?`, pub.Dataset, date).Scan(&recSeq, &recRun)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return res, fmt.Errorf("read recorded publication of %s %s: %w", pub.Dataset, date, err)
	}
	if err == nil && recSeq.Valid && recSeq.Int64 > pub.SnapshotSeq {
		return res, &StaleSnapshotError{Dataset: pub.Dataset, CobDate: pub.CobDate, Recorded: recSeq.Int64, Offered: pub.SnapshotSeq, RecordedRun: recRun}
	}
	del, err := tx.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE %s = ?`, quoteIdent(c.Table), quoteIdent(c.PartitionBy)), date)
	if err != nil {
		return res, fmt.Errorf("delete %s %s: %w", c.Table, date, err)
	}
	res.Replaced, _ = del.RowsAffected()
	cols := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		cols[i] = quoteIdent(col.Name)
	}
	ins, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s FROM %s`, quoteIdent(c.Table), strings.Join(cols, ", "), strings.Join(cols, ", "), quoteIdent(st.stage)))
	if err != nil {
		return res, fmt.Errorf("swap %s into %s: %w", st.stage, c.Table, err)
	}
	if n, _ := ins.RowsAffected(); n != st.rows {
		return res, fmt.Errorf("swap %s into %s: %d rows moved, %d staged", st.stage, c.Table, n, st.rows)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`DROP TABLE %s`, quoteIdent(st.stage))); err != nil {
		return res, fmt.Errorf("drop %s: %w", st.stage, err)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	args := []any{pub.Dataset, date, pub.RunID, pub.SnapshotID, pub.InputSHA256, pub.ContentChecksum, res.Rows, now, pub.SnapshotSeq}
	if _, err := tx.ExecContext(ctx, `INSERT INTO publications (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, published_at, snapshot_seq)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (dataset, cob_date) DO UPDATE SET run_id = excluded.run_id, snapshot_id = excluded.snapshot_id,
  input_sha256 = excluded.input_sha256, content_checksum = excluded.content_checksum, row_count = excluded.row_count,
  published_at = excluded.published_at, snapshot_seq = excluded.snapshot_seq`, args...); err != nil {
		return res, fmt.Errorf("record publication: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO publication_log (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, published_at, snapshot_seq)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		return res, fmt.Errorf("log publication: %w", err)
	}
	if err := setStateSQLite(ctx, tx, PublicationState{Dataset: pub.Dataset, CobDate: pub.CobDate, State: StatePublished, RunID: pub.RunID,
		InputSHA256: pub.InputSHA256, ContentChecksum: pub.ContentChecksum, Rows: res.Rows, SnapshotID: pub.SnapshotID, SnapshotSeq: pub.SnapshotSeq}); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, err
	}
	res.Phases["swap"] = time.Since(t0)
	res.Duration = time.Since(st.start)
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
	var seq sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT dataset, cob_date, run_id, snapshot_id, snapshot_seq, input_sha256, content_checksum, row_count, published_at
FROM publications WHERE dataset = ? AND cob_date = ?`, dataset, cob.Format(time.DateOnly)).
		Scan(&pub.Dataset, &date, &pub.RunID, &pub.SnapshotID, &seq, &pub.InputSHA256, &pub.ContentChecksum, &pub.Rows, &at)
	pub.SnapshotSeq = seq.Int64
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

// State implements StateStore.
func (s *SQLite) State(ctx context.Context, dataset string, cob time.Time) (*PublicationState, error) {
	var st PublicationState
	var date, state, at string
	var snap, seq sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT dataset, cob_date, state, run_id, input_sha256, content_checksum, row_count, snapshot_id, snapshot_seq, updated_at
FROM publication_states WHERE dataset = ? AND cob_date = ?`, dataset, cob.Format(time.DateOnly)).
		Scan(&st.Dataset, &date, &state, &st.RunID, &st.InputSHA256, &st.ContentChecksum, &st.Rows, &snap, &seq, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read publication state of %s %s: %w", dataset, cob.Format(time.DateOnly), err)
	}
	st.State, st.SnapshotID, st.SnapshotSeq = State(state), snap.Int64, seq.Int64
	st.CobDate, _ = time.Parse(time.DateOnly, date)
	st.UpdatedAt, _ = time.Parse(time.RFC3339Nano, at)
	return &st, nil
}

// SetState implements StateStore.
func (s *SQLite) SetState(ctx context.Context, st PublicationState) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := setStateSQLite(ctx, tx, st); err != nil {
		return err
	}
	return tx.Commit()
}

func setStateSQLite(ctx context.Context, tx *sql.Tx, st PublicationState) error {
	var snap, seq any
	if st.SnapshotID != 0 {
		snap, seq = st.SnapshotID, st.SnapshotSeq
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	args := []any{st.Dataset, st.CobDate.Format(time.DateOnly), string(st.State), st.RunID, st.InputSHA256, st.ContentChecksum, st.Rows, snap, seq, now}
	if _, err := tx.ExecContext(ctx, `INSERT INTO publication_states (dataset, cob_date, state, run_id, input_sha256, content_checksum, row_count, snapshot_id, snapshot_seq, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (dataset, cob_date) DO UPDATE SET state = excluded.state, run_id = excluded.run_id, input_sha256 = excluded.input_sha256,
  content_checksum = excluded.content_checksum, row_count = excluded.row_count, snapshot_id = excluded.snapshot_id,
  snapshot_seq = excluded.snapshot_seq, updated_at = excluded.updated_at`, args...); err != nil {
		return fmt.Errorf("record publication state %s of %s %s: %w", st.State, st.Dataset, st.CobDate.Format(time.DateOnly), err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO publication_state_log (dataset, cob_date, state, run_id, input_sha256, content_checksum, row_count, snapshot_id, snapshot_seq, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		return fmt.Errorf("log publication state %s of %s %s: %w", st.State, st.Dataset, st.CobDate.Format(time.DateOnly), err)
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

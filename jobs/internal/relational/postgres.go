package relational

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/tracing"
)

// PostgresSchema holds the dataset tables and the publication log (see the migrations).
const PostgresSchema = "risk"

// Postgres loads into PostgreSQL with COPY and a partition swap.
type Postgres struct {
	conn *pgx.Conn
	swap SwapOptions
}

// OpenPostgres connects with a pgx URL or keyword/value DSN.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	cfg.Tracer = tracing.Pgx{} // a client span per statement and COPY
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	return &Postgres{conn: conn, swap: SwapOptions{}.withDefaults()}, nil
}

// Close ends the connection.
func (p *Postgres) Close() error { return p.conn.Close(context.Background()) }

// Conn is the underlying connection (for tests and benchmarks).
func (p *Postgres) Conn() *pgx.Conn { return p.conn }

func partitionName(c *contract.Contract, cob time.Time) string {
	return c.Table + "_d" + cob.Format("20060102")
}

// SwapOptions bound the partition swap's wait for the parent table's lock.
type SwapOptions struct {
	// LockTimeout is the lock_timeout of one swap attempt (default 2 s): while the swap waits
	// for ACCESS EXCLUSIVE on the parent, new readers of every date queue behind it, so the wait
	// is short and retried rather than long.
	LockTimeout time.Duration
	// Attempts bounds the swap attempts (default 30); MaxWait caps the backoff between them
	// (default 5 s). The staged rows stay staged between attempts: nothing is loaded again.
	Attempts int
	MaxWait  time.Duration
}

func (o SwapOptions) withDefaults() SwapOptions {
	if o.LockTimeout <= 0 {
		o.LockTimeout = 2 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 30
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 5 * time.Second
	}
	return o
}

// SetSwapOptions changes the swap's lock timeout and retries.
func (p *Postgres) SetSwapOptions(o SwapOptions) { p.swap = o.withDefaults() }

// Load implements Loader: Stage, then Swap.
func (p *Postgres) Load(ctx context.Context, c *contract.Contract, pub Publication, rdr array.RecordReader) (Result, error) {
	st, err := p.Stage(ctx, c, pub, rdr)
	if err != nil {
		return Result{}, err
	}
	res, err := st.Swap(ctx, pub)
	if err != nil {
		_ = st.Abort(context.WithoutCancel(ctx))
	}
	return res, err
}

// stagingName is the run's own staging table of a date: two runs never share one.
func stagingName(c *contract.Contract, cob time.Time, runID string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(runID))
	return fmt.Sprintf("%s_s%08x", partitionName(c, cob), h.Sum32())
}

type pgStaged struct {
	p       *Postgres
	c       *contract.Contract
	cob     time.Time
	stage   string
	rows    int64
	phases  map[string]time.Duration
	start   time.Time
	dropped bool
}

// Stage implements Stager, in one transaction committed before the Iceberg commit:
//
//	CREATE TABLE risk.<t>_d<date>_s<run hash> (LIKE risk.<t>) + CHECK (cob_date = date)
//	COPY ... FROM STDIN (binary, FREEZE)
//	ADD PRIMARY KEY
//	ANALYZE                                 -- statistics before readers can see it
func (p *Postgres) Stage(ctx context.Context, c *contract.Contract, pub Publication, rdr array.RecordReader) (StagedLoad, error) {
	start := time.Now()
	st := &pgStaged{p: p, c: c, cob: pub.CobDate, stage: stagingName(c, pub.CobDate, pub.RunID), phases: map[string]time.Duration{}, start: start}
	phase := time.Now()
	mark := func(name string) {
		st.phases[name] = time.Since(phase)
		phase = time.Now()
	}
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	parent := pgx.Identifier{PostgresSchema, c.Table}.Sanitize()
	stageID := pgx.Identifier{PostgresSchema, st.stage}.Sanitize()
	date := pub.CobDate.Format(time.DateOnly)
	cobCol := pgx.Identifier{c.PartitionBy}.Sanitize()
	stmts := []string{
		// The key is built once, after the COPY: give the sort memory instead of spilling to disk.
		`SET LOCAL maintenance_work_mem = '1GB'`,
		fmt.Sprintf(`DROP TABLE IF EXISTS %s`, stageID),
		fmt.Sprintf(`CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS)`, stageID, parent),
		fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s = DATE '%s')`, stageID, pgx.Identifier{st.stage + "_bound"}.Sanitize(), cobCol, date),
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") { // undefined_table, invalid_schema_name
				return nil, fmt.Errorf("table %s.%s does not exist: run `distribution migrate` first: %w", PostgresSchema, c.Table, err)
			}
			return nil, fmt.Errorf("prepare staging table %s: %w", st.stage, err)
		}
	}
	cols := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		cols[i] = pgx.Identifier{col.Name}.Sanitize()
	}
	// Binary COPY encoded straight from the Arrow columns; FREEZE because the table was created
	// in this transaction: the rows are written frozen and never need a later vacuum freeze.
	src := newBinaryCopy(rdr)
	copySQL := fmt.Sprintf(`COPY %s (%s) FROM STDIN WITH (FORMAT binary, FREEZE)`, stageID, strings.Join(cols, ", "))
	cctx := tracing.Pgx{}.TraceCopyStart(ctx, copySQL) // raw pgconn COPY: pgx's tracer does not see it
	tag, err := tx.Conn().PgConn().CopyFrom(cctx, src, copySQL)
	tracing.Pgx{}.TraceCopyEnd(cctx, tag.RowsAffected(), err)
	if err != nil {
		if src.err != nil {
			err = src.err
		}
		return nil, fmt.Errorf("copy into %s: %w", st.stage, err)
	}
	n := tag.RowsAffected()
	if n != src.rows {
		return nil, fmt.Errorf("copy into %s: server took %d rows of %d", st.stage, n, src.rows)
	}
	st.rows = n
	mark("copy")
	keys := make([]string, len(c.Key))
	for i, k := range c.Key {
		keys[i] = pgx.Identifier{k}.Sanitize()
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s ADD PRIMARY KEY (%s)`, stageID, strings.Join(keys, ", "))); err != nil {
		return nil, fmt.Errorf("key of %s: %w", st.stage, err)
	}
	mark("index")
	if _, err := tx.Exec(ctx, fmt.Sprintf(`ANALYZE %s`, stageID)); err != nil {
		return nil, fmt.Errorf("analyze %s: %w", st.stage, err)
	}
	mark("analyze")
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit staging table %s: %w", st.stage, err)
	}
	return st, nil
}

func (s *pgStaged) Rows() int64 { return s.rows }

// Abort implements StagedLoad.
func (s *pgStaged) Abort(ctx context.Context) error {
	if s.dropped {
		return nil
	}
	_, err := s.p.conn.Exec(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS %s`, pgx.Identifier{PostgresSchema, s.stage}.Sanitize()))
	if err != nil {
		return fmt.Errorf("drop staging table %s: %w", s.stage, err)
	}
	s.dropped = true
	return nil
}

// Swap implements StagedLoad:
//
//	BEGIN
//	  SELECT ... FROM risk.publications FOR UPDATE      -- refuse an older snapshot
//	  SAVEPOINT swap; SET LOCAL lock_timeout = '2s'     -- retried on lock_not_available
//	    DETACH + DROP the old partition, RENAME the staging table, ATTACH it
//	  RELEASE SAVEPOINT swap
//	  UPSERT risk.publications, INSERT risk.publication_log, publication state "published"
//	COMMIT
//
// The replaced row count is the one the publication log recorded, not a count(*) of the old
// partition (which would read it all under the swap's lock).
func (s *pgStaged) Swap(ctx context.Context, pub Publication) (Result, error) {
	p, c := s.p, s.c
	res := Result{Rows: s.rows, Phases: map[string]time.Duration{}}
	for k, v := range s.phases {
		res.Phases[k] = v
	}
	phase := time.Now()
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	date := pub.CobDate.Format(time.DateOnly)
	var recSeq *int64
	var recRun string
	var recRows int64
	err = tx.QueryRow(ctx, `SELECT snapshot_seq, run_id, row_count FROM risk.publications WHERE dataset = $1 AND cob_date = $2 FOR UPDATE`, pub.Dataset, date).
		Scan(&recSeq, &recRun, &recRows)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return res, fmt.Errorf("read recorded publication of %s %s: %w", pub.Dataset, date, err)
	default:
		if recSeq != nil && *recSeq > pub.SnapshotSeq {
			return res, &StaleSnapshotError{Dataset: pub.Dataset, CobDate: pub.CobDate, Recorded: *recSeq, Offered: pub.SnapshotSeq, RecordedRun: recRun}
		}
		res.Replaced = recRows
	}
	part := partitionName(c, pub.CobDate)
	parent := pgx.Identifier{PostgresSchema, c.Table}.Sanitize()
	partID := pgx.Identifier{PostgresSchema, part}.Sanitize()
	stageID := pgx.Identifier{PostgresSchema, s.stage}.Sanitize()
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, PostgresSchema+"."+part).Scan(&exists); err != nil {
		return res, err
	}
	stmts := []string{}
	if exists {
		stmts = append(stmts, fmt.Sprintf(`ALTER TABLE %s DETACH PARTITION %s`, parent, partID), fmt.Sprintf(`DROP TABLE %s`, partID))
	}
	stmts = append(stmts,
		fmt.Sprintf(`ALTER TABLE %s RENAME TO %s`, stageID, pgx.Identifier{part}.Sanitize()),
		// The names of the run's constraint and key follow the table, so that a later run (even
		// with the same run id) can stage under the same name again.
		fmt.Sprintf(`ALTER TABLE %s RENAME CONSTRAINT %s TO %s`, partID, pgx.Identifier{s.stage + "_bound"}.Sanitize(), pgx.Identifier{part + "_bound"}.Sanitize()),
		fmt.Sprintf(`ALTER INDEX %s RENAME TO %s`, pgx.Identifier{PostgresSchema, s.stage + "_pkey"}.Sanitize(), pgx.Identifier{part + "_pkey"}.Sanitize()),
		fmt.Sprintf(`ALTER TABLE %s ATTACH PARTITION %s FOR VALUES IN ('%s')`, parent, partID, date),
	)
	opts := p.swap.withDefaults()
	for attempt := 1; ; attempt++ {
		err := swapOnce(ctx, tx, opts.LockTimeout, stmts)
		if err == nil {
			break
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55P03" || attempt == opts.Attempts { // lock_not_available
			return res, fmt.Errorf("swap in partition %s (attempt %d): %w", part, attempt, err)
		}
		res.SwapRetries++
		wait := min(50*time.Millisecond<<min(attempt, 10), opts.MaxWait)
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("swap in partition %s: %w", part, ctx.Err())
		case <-time.After(wait):
		}
	}
	s.dropped = true // renamed: it is the partition now
	if err := recordPostgres(ctx, tx, pub, s.rows); err != nil {
		return res, err
	}
	if err := setStatePostgres(ctx, tx, PublicationState{Dataset: pub.Dataset, CobDate: pub.CobDate, State: StatePublished, RunID: pub.RunID,
		InputSHA256: pub.InputSHA256, ContentChecksum: pub.ContentChecksum, Rows: s.rows, SnapshotID: pub.SnapshotID, SnapshotSeq: pub.SnapshotSeq}); err != nil {
		return res, err
	}
	res.Phases["swap"] = time.Since(phase)
	phase = time.Now()
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}
	res.Phases["commit"] = time.Since(phase)
	res.Duration = time.Since(s.start)
	return res, nil
}

// swapOnce runs the swap statements inside a savepoint with a short lock_timeout; on failure the
// savepoint is rolled back (with the SET LOCAL) and the transaction stays usable.
func swapOnce(ctx context.Context, tx pgx.Tx, lockTimeout time.Duration, stmts []string) error {
	if _, err := tx.Exec(ctx, `SAVEPOINT swap`); err != nil {
		return err
	}
	run := func() error {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = '%dms'`, lockTimeout.Milliseconds())); err != nil {
			return err
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
	if err := run(); err != nil {
		if _, rerr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT swap`); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	// Back to no lock timeout for the bookkeeping that follows (row locks of our own tables).
	if _, err := tx.Exec(ctx, `RELEASE SAVEPOINT swap`); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `SET LOCAL lock_timeout = 0`)
	return err
}

// DropStaging implements Stager.
func (p *Postgres) DropStaging(ctx context.Context, c *contract.Contract, cob time.Time) ([]string, error) {
	prefix := partitionName(c, cob)
	rows, err := p.conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 AND (tablename LIKE $2 OR tablename = $3)`,
		PostgresSchema, strings.ReplaceAll(prefix, "_", `\_`)+`\_s%`, prefix+"_new")
	if err != nil {
		return nil, fmt.Errorf("list staging tables of %s: %w", prefix, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list staging tables of %s: %w", prefix, err)
	}
	for _, n := range names {
		if _, err := p.conn.Exec(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS %s`, pgx.Identifier{PostgresSchema, n}.Sanitize())); err != nil {
			return nil, fmt.Errorf("drop staging table %s: %w", n, err)
		}
	}
	return names, nil
}

// migrateHint names the fix when a table of the migrations is missing.
func migrateHint(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") { // undefined_table, invalid_schema_name
		return fmt.Errorf("%w: the schema is not up to date: run `distribution migrate` first", err)
	}
	return err
}

// State implements StateStore.
func (p *Postgres) State(ctx context.Context, dataset string, cob time.Time) (*PublicationState, error) {
	var st PublicationState
	var state string
	var snap, seq *int64
	err := p.conn.QueryRow(ctx, `SELECT dataset, cob_date, state, run_id, input_sha256, content_checksum, row_count, snapshot_id, snapshot_seq, updated_at
FROM risk.publication_states WHERE dataset = $1 AND cob_date = $2`, dataset, cob.Format(time.DateOnly)).
		Scan(&st.Dataset, &st.CobDate, &state, &st.RunID, &st.InputSHA256, &st.ContentChecksum, &st.Rows, &snap, &seq, &st.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read publication state of %s %s: %w", dataset, cob.Format(time.DateOnly), migrateHint(err))
	}
	st.State = State(state)
	if snap != nil {
		st.SnapshotID = *snap
	}
	if seq != nil {
		st.SnapshotSeq = *seq
	}
	return &st, nil
}

// SetState implements StateStore.
func (p *Postgres) SetState(ctx context.Context, st PublicationState) error {
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := setStatePostgres(ctx, tx, st); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func setStatePostgres(ctx context.Context, tx pgx.Tx, st PublicationState) error {
	var snap, seq *int64
	if st.SnapshotID != 0 {
		snap, seq = &st.SnapshotID, &st.SnapshotSeq
	}
	args := []any{st.Dataset, st.CobDate.Format(time.DateOnly), string(st.State), st.RunID, st.InputSHA256, st.ContentChecksum, st.Rows, snap, seq}
	if _, err := tx.Exec(ctx, `
INSERT INTO risk.publication_states (dataset, cob_date, state, run_id, input_sha256, content_checksum, row_count, snapshot_id, snapshot_seq, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
ON CONFLICT (dataset, cob_date) DO UPDATE SET state = EXCLUDED.state, run_id = EXCLUDED.run_id, input_sha256 = EXCLUDED.input_sha256,
  content_checksum = EXCLUDED.content_checksum, row_count = EXCLUDED.row_count, snapshot_id = EXCLUDED.snapshot_id,
  snapshot_seq = EXCLUDED.snapshot_seq, updated_at = EXCLUDED.updated_at`, args...); err != nil {
		return fmt.Errorf("record publication state %s of %s %s: %w", st.State, st.Dataset, st.CobDate.Format(time.DateOnly), migrateHint(err))
	}
	if _, err := tx.Exec(ctx, `
INSERT INTO risk.publication_state_log (dataset, cob_date, state, run_id, input_sha256, content_checksum, row_count, snapshot_id, snapshot_seq)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, args...); err != nil {
		return fmt.Errorf("log publication state %s of %s %s: %w", st.State, st.Dataset, st.CobDate.Format(time.DateOnly), err)
	}
	return nil
}

func recordPostgres(ctx context.Context, tx pgx.Tx, pub Publication, n int64) error {
	args := []any{pub.Dataset, pub.CobDate.Format(time.DateOnly), pub.RunID, pub.SnapshotID, pub.InputSHA256, pub.ContentChecksum, n, pub.SnapshotSeq}
	if _, err := tx.Exec(ctx, `
INSERT INTO risk.publications (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, snapshot_seq, published_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
ON CONFLICT (dataset, cob_date) DO UPDATE SET run_id = EXCLUDED.run_id, snapshot_id = EXCLUDED.snapshot_id,
  input_sha256 = EXCLUDED.input_sha256, content_checksum = EXCLUDED.content_checksum, row_count = EXCLUDED.row_count,
  snapshot_seq = EXCLUDED.snapshot_seq, published_at = EXCLUDED.published_at`, args...); err != nil {
		return fmt.Errorf("record publication: %w", err)
	}
	if _, err := tx.Exec(ctx, `
INSERT INTO risk.publication_log (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, snapshot_seq)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, args...); err != nil {
		return fmt.Errorf("log publication: %w", err)
	}
	return nil
}

// Count implements Loader.
func (p *Postgres) Count(ctx context.Context, c *contract.Contract, cob time.Time) (int64, error) {
	var n int64
	q := fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s = $1`, pgx.Identifier{PostgresSchema, c.Table}.Sanitize(), pgx.Identifier{c.PartitionBy}.Sanitize())
	err := p.conn.QueryRow(ctx, q, cob.Format(time.DateOnly)).Scan(&n)
	return n, err
}

// Publication implements Loader.
func (p *Postgres) Publication(ctx context.Context, dataset string, cob time.Time) (*Publication, error) {
	var pub Publication
	var snap, seq *int64
	err := p.conn.QueryRow(ctx, `SELECT dataset, cob_date, run_id, snapshot_id, snapshot_seq, input_sha256, content_checksum, row_count, published_at
FROM risk.publications WHERE dataset = $1 AND cob_date = $2`, dataset, cob.Format(time.DateOnly)).
		Scan(&pub.Dataset, &pub.CobDate, &pub.RunID, &snap, &seq, &pub.InputSHA256, &pub.ContentChecksum, &pub.Rows, &pub.PublishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read publication: %w", err)
	}
	if snap != nil {
		pub.SnapshotID = *snap
	}
	if seq != nil {
		pub.SnapshotSeq = *seq
	}
	return &pub, nil
}

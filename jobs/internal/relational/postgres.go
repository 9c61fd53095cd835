package relational

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lakeport/lakeport/jobs/internal/contract"
)

// PostgresSchema holds the dataset tables and the publication log (see the migrations).
const PostgresSchema = "risk"

// Postgres loads into PostgreSQL with COPY and a partition swap.
type Postgres struct {
	conn *pgx.Conn
}

// OpenPostgres connects with a pgx URL or keyword/value DSN.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	return &Postgres{conn: conn}, nil
}

// Close ends the connection.
func (p *Postgres) Close() error { return p.conn.Close(context.Background()) }

// Conn is the underlying connection (for tests and benchmarks).
func (p *Postgres) Conn() *pgx.Conn { return p.conn }

func partitionName(c *contract.Contract, cob time.Time) string {
	return c.Table + "_d" + cob.Format("20060102")
}

// Load implements Loader:
//
//	BEGIN
//	  CREATE TABLE risk.<t>_d<date>_<run> (LIKE risk.<t>) + CHECK (cob_date = date)
//	  COPY ... FROM STDIN (binary)
//	  ADD PRIMARY KEY                         -- built before any lock on the parent
//	  DETACH + DROP the old partition         -- if the date was loaded before
//	  RENAME the new table, ATTACH it         -- no scan: the CHECK proves the bound
//	  UPSERT risk.publications, INSERT risk.publication_log
//	COMMIT
func (p *Postgres) Load(ctx context.Context, c *contract.Contract, pub Publication, rdr array.RecordReader) (Result, error) {
	start := time.Now()
	res := Result{Phases: map[string]time.Duration{}}
	phase := time.Now()
	mark := func(name string) {
		res.Phases[name] = time.Since(phase)
		phase = time.Now()
	}
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	part := partitionName(c, pub.CobDate)
	stage := part + "_new"
	parent := pgx.Identifier{PostgresSchema, c.Table}.Sanitize()
	stageID := pgx.Identifier{PostgresSchema, stage}.Sanitize()
	partID := pgx.Identifier{PostgresSchema, part}.Sanitize()
	date := pub.CobDate.Format(time.DateOnly)
	cobCol := pgx.Identifier{c.PartitionBy}.Sanitize()

	stmts := []string{
		`SET LOCAL lock_timeout = '60s'`,
		// The key is built once, after the COPY: give the sort memory instead of spilling to disk.
		`SET LOCAL maintenance_work_mem = '1GB'`,
		fmt.Sprintf(`DROP TABLE IF EXISTS %s`, stageID),
		fmt.Sprintf(`CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS)`, stageID, parent),
		fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s = DATE '%s')`, stageID, pgx.Identifier{stage + "_bound"}.Sanitize(), cobCol, date),
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") { // undefined_table, invalid_schema_name
				return res, fmt.Errorf("table %s.%s does not exist: run `distribution migrate` first: %w", PostgresSchema, c.Table, err)
			}
			return res, fmt.Errorf("prepare staging table %s: %w", stage, err)
		}
	}
	cols := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		cols[i] = pgx.Identifier{col.Name}.Sanitize()
	}
	// Binary COPY encoded straight from the Arrow columns; FREEZE because the table was created
	// in this transaction: the rows are written frozen and never need a later vacuum freeze.
	src := newBinaryCopy(rdr)
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, src,
		fmt.Sprintf(`COPY %s (%s) FROM STDIN WITH (FORMAT binary, FREEZE)`, stageID, strings.Join(cols, ", ")))
	if err != nil {
		if src.err != nil {
			err = src.err
		}
		return res, fmt.Errorf("copy into %s: %w", stage, err)
	}
	n := tag.RowsAffected()
	if n != src.rows {
		return res, fmt.Errorf("copy into %s: server took %d rows of %d", stage, n, src.rows)
	}
	res.Rows = n
	mark("copy")
	keys := make([]string, len(c.Key))
	for i, k := range c.Key {
		keys[i] = pgx.Identifier{k}.Sanitize()
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s ADD PRIMARY KEY (%s)`, stageID, strings.Join(keys, ", "))); err != nil {
		return res, fmt.Errorf("key of %s: %w", stage, err)
	}
	mark("index")
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, PostgresSchema+"."+part).Scan(&exists); err != nil {
		return res, err
	}
	if exists {
		if err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s`, partID)).Scan(&res.Replaced); err != nil {
			return res, err
		}
		for _, s := range []string{
			fmt.Sprintf(`ALTER TABLE %s DETACH PARTITION %s`, parent, partID),
			fmt.Sprintf(`DROP TABLE %s`, partID),
		} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return res, fmt.Errorf("remove old partition %s: %w", part, err)
			}
		}
	}
	for _, s := range []string{
		fmt.Sprintf(`ALTER TABLE %s RENAME TO %s`, stageID, pgx.Identifier{part}.Sanitize()),
		fmt.Sprintf(`ALTER TABLE %s ATTACH PARTITION %s FOR VALUES IN ('%s')`, parent, partID, date),
	} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return res, fmt.Errorf("swap in partition %s: %w", part, err)
		}
	}
	if err := recordPostgres(ctx, tx, pub, n); err != nil {
		return res, err
	}
	mark("swap")
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}
	mark("commit")
	res.Duration = time.Since(start)
	return res, nil
}

func recordPostgres(ctx context.Context, tx pgx.Tx, pub Publication, n int64) error {
	args := []any{pub.Dataset, pub.CobDate.Format(time.DateOnly), pub.RunID, pub.SnapshotID, pub.InputSHA256, pub.ContentChecksum, n}
	if _, err := tx.Exec(ctx, `
INSERT INTO risk.publications (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, published_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now())
ON CONFLICT (dataset, cob_date) DO UPDATE SET run_id = EXCLUDED.run_id, snapshot_id = EXCLUDED.snapshot_id,
  input_sha256 = EXCLUDED.input_sha256, content_checksum = EXCLUDED.content_checksum, row_count = EXCLUDED.row_count,
  published_at = EXCLUDED.published_at`, args...); err != nil {
		return fmt.Errorf("record publication: %w", err)
	}
	if _, err := tx.Exec(ctx, `
INSERT INTO risk.publication_log (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, args...); err != nil {
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
	var snap *int64
	err := p.conn.QueryRow(ctx, `SELECT dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, published_at
FROM risk.publications WHERE dataset = $1 AND cob_date = $2`, dataset, cob.Format(time.DateOnly)).
		Scan(&pub.Dataset, &pub.CobDate, &pub.RunID, &snap, &pub.InputSHA256, &pub.ContentChecksum, &pub.Rows, &pub.PublishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read publication: %w", err)
	}
	if snap != nil {
		pub.SnapshotID = *snap
	}
	return &pub, nil
}

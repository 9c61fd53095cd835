package relational

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"

	"github.com/lakeport/lakeport/jobs/internal/contract"
)

// ShardStager loads one date with K workers: the coordinator creates the run's staging table,
// every worker COPYs its share into it, and the coordinator builds the key and statistics and
// hands back the staged load for the usual short swap.
type ShardStager interface {
	// CreateShardStage drops the staging tables other runs left for the date (returned) and
	// creates the run's, unless it exists: a coordinator whose pod the Job restarted resumes its
	// run, and the workers' copies in it are kept (ShardStage says what it found).
	CreateShardStage(ctx context.Context, c *contract.Contract, pub Publication) (ShardStage, []string, error)
	// ResumeShardStage hands back the run's staging table whose key and statistics a previous
	// coordinator process built (FinishShardStage committed), ready to swap.
	ResumeShardStage(ctx context.Context, c *contract.Contract, pub Publication) (StagedLoad, error)
	// CopyShard COPYs shard index's rows into the run's staging table, once: a retried worker
	// whose COPY committed copies nothing again (its marker table commits with the COPY).
	CopyShard(ctx context.Context, c *contract.Contract, pub Publication, index int, rdr array.RecordReader, wait time.Duration) (int64, error)
	// FinishShardStage checks that the staging table holds rows rows, builds its key (a key
	// repeated across shards fails here too) and statistics, and returns it ready to swap.
	FinishShardStage(ctx context.Context, c *contract.Contract, pub Publication, shards int, rows int64) (StagedLoad, error)
}

var _ ShardStager = (*Postgres)(nil)

// shardMarker is the table whose existence says that shard index's COPY committed.
func shardMarker(stage string, index int) string { return fmt.Sprintf("%s_k%d", stage, index) }

// ShardStage is what CreateShardStage found of the run's staging table.
type ShardStage struct {
	// Resumed: the table existed (a restarted coordinator): the workers' copies are kept.
	Resumed bool
	// Finished: its key and statistics are built (FinishShardStage committed; the markers are
	// gone): ResumeShardStage hands it back, nothing is copied into it again.
	Finished bool
}

// CreateShardStage implements ShardStager.
func (p *Postgres) CreateShardStage(ctx context.Context, c *contract.Contract, pub Publication) (ShardStage, []string, error) {
	stage := stagingName(c, pub.CobDate, pub.RunID)
	left, err := p.dropStagingExcept(ctx, c, pub.CobDate, func(t string) bool { return t == stage || strings.HasPrefix(t, stage+"_k") })
	if err != nil {
		return ShardStage{}, nil, err
	}
	parent := pgx.Identifier{PostgresSchema, c.Table}.Sanitize()
	stageID := pgx.Identifier{PostgresSchema, stage}.Sanitize()
	cobCol := pgx.Identifier{c.PartitionBy}.Sanitize()
	var st ShardStage
	if err := p.conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL,
		EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p')`, PostgresSchema+"."+stage).Scan(&st.Resumed, &st.Finished); err != nil {
		return ShardStage{}, left, fmt.Errorf("look for staging table %s: %w", stage, err)
	}
	if st.Resumed {
		return st, left, nil
	}
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		return st, left, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, q := range []string{
		fmt.Sprintf(`CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS)`, stageID, parent),
		fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s = DATE '%s')`, stageID, pgx.Identifier{stage + "_bound"}.Sanitize(), cobCol, pub.CobDate.Format(time.DateOnly)),
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return st, left, migrateHint(fmt.Errorf("create staging table %s: %w", stage, err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return st, left, fmt.Errorf("commit staging table %s: %w", stage, err)
	}
	return st, left, nil
}

// ResumeShardStage implements ShardStager.
func (p *Postgres) ResumeShardStage(ctx context.Context, c *contract.Contract, pub Publication) (StagedLoad, error) {
	stage := stagingName(c, pub.CobDate, pub.RunID)
	st := &pgStaged{p: p, c: c, cob: pub.CobDate, stage: stage, phases: map[string]time.Duration{}, start: time.Now()}
	var keyed bool
	if err := p.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p')`,
		PostgresSchema+"."+stage).Scan(&keyed); err != nil {
		return nil, fmt.Errorf("look for staging table %s: %w", stage, err)
	}
	if !keyed {
		return nil, fmt.Errorf("staging table %s.%s of run %s is gone or has no key: this run cannot resume, publish again with a new run id", PostgresSchema, stage, pub.RunID)
	}
	if err := p.conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{PostgresSchema, stage}.Sanitize()).Scan(&st.rows); err != nil {
		return nil, fmt.Errorf("count %s: %w", stage, err)
	}
	return st, nil
}

// CopyShard implements ShardStager: it waits (up to wait) for the coordinator's staging table,
// then in one transaction COPYs the rows (binary) and creates the shard's marker table.
func (p *Postgres) CopyShard(ctx context.Context, c *contract.Contract, pub Publication, index int, rdr array.RecordReader, wait time.Duration) (int64, error) {
	stage := stagingName(c, pub.CobDate, pub.RunID)
	deadline := time.Now().Add(wait)
	for {
		var exists bool
		if err := p.conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, PostgresSchema+"."+stage).Scan(&exists); err != nil {
			return 0, fmt.Errorf("look for staging table %s: %w", stage, err)
		}
		if exists {
			break
		}
		if !time.Now().Before(deadline) {
			return 0, fmt.Errorf("staging table %s.%s of run %s does not exist after %v: is the coordinator (shard 0) running?", PostgresSchema, stage, pub.RunID, wait)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	marker := shardMarker(stage, index)
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var done bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, PostgresSchema+"."+marker).Scan(&done); err != nil {
		return 0, fmt.Errorf("look for %s: %w", marker, err)
	}
	if done {
		return 0, &ShardCopiedError{Shard: index, Stage: stage}
	}
	cols := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		cols[i] = pgx.Identifier{col.Name}.Sanitize()
	}
	n, err := copyBinary(ctx, tx.Conn().PgConn(), rdr,
		fmt.Sprintf(`COPY %s (%s) FROM STDIN WITH (FORMAT binary)`, pgx.Identifier{PostgresSchema, stage}.Sanitize(), strings.Join(cols, ", ")))
	if err != nil {
		return 0, fmt.Errorf("copy shard %d into %s: %w", index, stage, err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s ()`, pgx.Identifier{PostgresSchema, marker}.Sanitize())); err != nil {
		return 0, fmt.Errorf("mark shard %d copied: %w", index, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit shard %d into %s: %w", index, stage, err)
	}
	return n, nil
}

// ShardCopiedError says that the shard's rows are already in the staging table (a retried worker).
type ShardCopiedError struct {
	Shard int
	Stage string
}

func (e *ShardCopiedError) Error() string {
	return fmt.Sprintf("shard %d was already copied into %s", e.Shard, e.Stage)
}

// FinishShardStage implements ShardStager.
func (p *Postgres) FinishShardStage(ctx context.Context, c *contract.Contract, pub Publication, shards int, rows int64) (StagedLoad, error) {
	start := time.Now()
	stage := stagingName(c, pub.CobDate, pub.RunID)
	st := &pgStaged{p: p, c: c, cob: pub.CobDate, stage: stage, phases: map[string]time.Duration{}, start: start}
	stageID := pgx.Identifier{PostgresSchema, stage}.Sanitize()
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var missing []int
	for i := 0; i < shards; i++ {
		var done bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, PostgresSchema+"."+shardMarker(stage, i)).Scan(&done); err != nil {
			return nil, err
		}
		if !done {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("staging table %s: shards %v have not copied their rows", stage, missing)
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+stageID).Scan(&st.rows); err != nil {
		return nil, fmt.Errorf("count %s: %w", stage, err)
	}
	if st.rows != rows {
		return nil, fmt.Errorf("staging table %s holds %d rows, the shards reported %d", stage, st.rows, rows)
	}
	keys := make([]string, len(c.Key))
	for i, k := range c.Key {
		keys[i] = pgx.Identifier{k}.Sanitize()
	}
	for _, q := range []string{
		`SET LOCAL maintenance_work_mem = '1GB'`,
		fmt.Sprintf(`ALTER TABLE %s ADD PRIMARY KEY (%s)`, stageID, strings.Join(keys, ", ")),
		fmt.Sprintf(`ANALYZE %s`, stageID),
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("key and statistics of %s: %w", stage, err)
		}
	}
	for i := 0; i < shards; i++ {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`DROP TABLE %s`, pgx.Identifier{PostgresSchema, shardMarker(stage, i)}.Sanitize())); err != nil {
			return nil, fmt.Errorf("drop the marker of shard %d: %w", i, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit %s: %w", stage, err)
	}
	st.phases["index"] = time.Since(start)
	return st, nil
}

// IsShardCopied reports whether err is a *ShardCopiedError.
func IsShardCopied(err error) bool {
	var e *ShardCopiedError
	return errors.As(err, &e)
}

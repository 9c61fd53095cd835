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

// OracleArrayRows is the number of rows bound per direct-path array INSERT round trip.
const OracleArrayRows = 50000

// Oracle steps recorded in relational_loads, in order. A load that stops records its error and
// keeps the step it reached, so that the table says what the database holds:
//   - staging, staged: the target is untouched (the day's rows are the previous publication's);
//   - exchanging: the exchange was issued; if the error is set, the partition may hold the new
//     rows while publications still names the previous run: a re-run converges;
//   - published: the partition holds the run's rows and publications records it.
const (
	OracleStepStaging    = "staging"
	OracleStepStaged     = "staged"
	OracleStepExchanging = "exchanging"
	OracleStepPublished  = "published"
)

// Oracle loads a day into Oracle Database (12.2 or later) with github.com/sijms/go-ora (pure Go),
// by partition exchange, the way Oracle loads a partition fast without readers seeing a half day:
//
//  1. record step "staging" (committed: DDL below commits whatever is open);
//  2. drop a stage left by a crashed run, make sure the date's partition exists
//     (ALTER TABLE ... ADD PARTITION, ORA-14312 when it already does), then
//     CREATE TABLE stage FOR EXCHANGE WITH TABLE target: same columns, types and partition
//     compatibility (Oracle SQL Language Reference 12.2+, CREATE TABLE, "FOR EXCHANGE WITH";
//     ORA-14432 lists what it refuses);
//  3. direct-path load of the stage: array-bound INSERT /*+ APPEND_VALUES */ (OracleArrayRows
//     rows per round trip, go-ora array binding), each batch committed (a direct-path insert must
//     be committed before the table is touched again, ORA-12838); the stage is private, so these
//     commits publish nothing;
//  4. the primary key of the stage, which builds the unique index that matches the target's LOCAL
//     primary-key index (a duplicate key fails here, before anything is visible), and
//     DBMS_STATS.GATHER_TABLE_STATS on the stage, so the exchanged partition arrives with its
//     statistics;
//  5. record "staged", then "exchanging", then
//     ALTER TABLE target EXCHANGE PARTITION FOR (DATE 'd') WITH TABLE stage INCLUDING INDEXES
//     WITHOUT VALIDATION (SQL Language Reference, ALTER TABLE, exchange_partition_subpart:
//     partition_extended_name allows PARTITION FOR; WITHOUT VALIDATION is safe because every row
//     of the stage was loaded for this date): a data-dictionary swap, readers see the old day or
//     the new day, never a mix;
//  6. in one transaction: the publication (publications, publication_log), step "published" and
//     the publication state "published" (publication_states, publication_state_log: the same
//     state machine as PostgreSQL and SQLite, pending and iceberg-committed being recorded by the
//     publisher through StateStore); before the exchange, a snapshot older than the recorded one
//     is refused (*StaleSnapshotError);
//  7. drop the stage, which now holds the previous day's rows (their count is Replaced).
//
// Dates are bound as 'YYYY-MM-DD' strings through TO_DATE(:n, 'YYYY-MM-DD'): go-ora binds a
// time.Time as TIMESTAMP WITH TIME ZONE (parameter_encode.go, tyTime), which Oracle converts to the
// DATE column in the session time zone, off by a day east of UTC and without partition pruning.
// Timestamps (TIMESTAMP WITH TIME ZONE columns) stay time.Time in UTC. Positional placeholders
// are bound once per occurrence in SQL (go-ora and Oracle alike), so every statement names each
// placeholder once and passes exactly that many arguments.
//
// go-ora also has a BulkCopy type (the Direct Path API over TTC, bulk_copy.go in v2.8.24); it is
// not used: it is undocumented, prints the server's prepare response to stdout (fmt.Println in
// readPrepareResponse), buffers the whole stream in memory until EndStream, ignores column
// decode errors, and has no test against a server in go-ora's own suite. APPEND_VALUES with
// array binds is the documented direct-path path for INSERT ... VALUES.
//
// No Oracle server runs where this was built: the statement sequence, binds and recorded states
// are tested through a database/sql shim (package oracleshim) that binds as go-ora does; the
// real-server test runs when ORACLE_DSN is set (see jobs/README.md).
type Oracle struct {
	db        *sql.DB
	batchRows int
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
	return NewOracle(db, 0), nil
}

// NewOracle returns a loader over an open pool (go-ora's, or a test driver's); batchRows <= 0
// means OracleArrayRows.
func NewOracle(db *sql.DB, batchRows int) *Oracle {
	if batchRows <= 0 {
		batchRows = OracleArrayRows
	}
	return &Oracle{db: db, batchRows: batchRows}
}

// Close closes the pool.
func (o *Oracle) Close() error { return o.db.Close() }

// oracleDate is how a date is bound: a string that TO_DATE reads, no time zone involved.
func oracleDate(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// OracleStatements are the statements of a load of one date, in order of use (exposed for tests
// and for a DBA's review).
type OracleStatements struct {
	// Stage is the name of the exchange table.
	Stage string
	// DropStage drops a stage left by a crashed run (ORA-00942 when there is none).
	DropStage string
	// AddPartition creates the date's partition (ORA-14312 when it exists).
	AddPartition string
	// CreateStage creates the exchange table.
	CreateStage string
	// Insert is the direct-path array insert into the stage, one placeholder per column.
	Insert string
	// StageKey builds the stage's primary key (the index INCLUDING INDEXES exchanges).
	StageKey string
	// Stats gathers the stage's statistics (one bind: the table name).
	Stats string
	// Exchange swaps the stage with the date's partition.
	Exchange string
	// CountStage counts the stage's rows (after the exchange: the previous day's).
	CountStage string
	// Step records a step in relational_loads (8 binds).
	Step string
	// StepError records a failure, keeping the step (4 binds).
	StepError string
	// Record upserts the publication (8 binds); Log appends it to publication_log (8 binds).
	Record, Log string
	// Recorded reads the recorded publication's snapshot sequence number and run (2 binds).
	Recorded string
	// SetState upserts the publication state (9 binds); LogState appends the transition to
	// publication_state_log (9 binds); GetState reads it (2 binds).
	SetState, LogState, GetState string
}

// OracleSQL returns the statements that load c for the date cob.
func OracleSQL(c *contract.Contract, cob time.Time) OracleStatements {
	cols := c.ColumnNames()
	stage := fmt.Sprintf("%s_x%s", c.Table, cob.UTC().Format("20060102"))
	values := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		switch col.Type {
		case contract.Date:
			values[i] = fmt.Sprintf("TO_DATE(:%d, 'YYYY-MM-DD')", i+1)
		default:
			values[i] = fmt.Sprintf(":%d", i+1)
		}
	}
	day := "DATE '" + oracleDate(cob) + "'"
	return OracleStatements{
		Stage:        stage,
		DropStage:    "DROP TABLE " + stage + " PURGE",
		AddPartition: fmt.Sprintf("ALTER TABLE %s ADD PARTITION VALUES (%s)", c.Table, day),
		CreateStage:  fmt.Sprintf("CREATE TABLE %s FOR EXCHANGE WITH TABLE %s", stage, c.Table),
		Insert: fmt.Sprintf("INSERT /*+ APPEND_VALUES */ INTO %s (%s) VALUES (%s)",
			stage, strings.Join(cols, ", "), strings.Join(values, ", ")),
		StageKey: fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s_pk PRIMARY KEY (%s)", stage, stage, strings.Join(c.Key, ", ")),
		Stats:    "BEGIN DBMS_STATS.GATHER_TABLE_STATS(ownname => USER, tabname => :1); END;",
		Exchange: fmt.Sprintf("ALTER TABLE %s EXCHANGE PARTITION FOR (%s) WITH TABLE %s INCLUDING INDEXES WITHOUT VALIDATION",
			c.Table, day, stage),
		CountStage: "SELECT COUNT(*) FROM " + stage,
		Step: `MERGE INTO relational_loads l
USING (SELECT :1 AS dataset, TO_DATE(:2, 'YYYY-MM-DD') AS cob_date, :3 AS run_id, :4 AS step, :5 AS stage_table,
              :6 AS rows_loaded, :7 AS rows_replaced, :8 AS last_error FROM dual) s
ON (l.dataset = s.dataset AND l.cob_date = s.cob_date)
WHEN MATCHED THEN UPDATE SET l.run_id = s.run_id, l.step = s.step, l.stage_table = s.stage_table,
  l.rows_loaded = s.rows_loaded, l.rows_replaced = s.rows_replaced, l.last_error = s.last_error, l.updated_at = SYSTIMESTAMP
WHEN NOT MATCHED THEN INSERT (dataset, cob_date, run_id, step, stage_table, rows_loaded, rows_replaced, last_error, updated_at)
  VALUES (s.dataset, s.cob_date, s.run_id, s.step, s.stage_table, s.rows_loaded, s.rows_replaced, s.last_error, SYSTIMESTAMP)`,
		StepError: `UPDATE relational_loads SET last_error = :1, updated_at = SYSTIMESTAMP
WHERE dataset = :2 AND cob_date = TO_DATE(:3, 'YYYY-MM-DD') AND run_id = :4`,
		Record: `MERGE INTO publications p
USING (SELECT :1 AS dataset, TO_DATE(:2, 'YYYY-MM-DD') AS cob_date, :3 AS run_id, :4 AS snapshot_id,
              :5 AS input_sha256, :6 AS content_checksum, :7 AS row_count, :8 AS snapshot_seq FROM dual) s
ON (p.dataset = s.dataset AND p.cob_date = s.cob_date)
WHEN MATCHED THEN UPDATE SET p.run_id = s.run_id, p.snapshot_id = s.snapshot_id, p.input_sha256 = s.input_sha256,
  p.content_checksum = s.content_checksum, p.row_count = s.row_count, p.snapshot_seq = s.snapshot_seq, p.published_at = SYSTIMESTAMP
WHEN NOT MATCHED THEN INSERT (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, snapshot_seq, published_at)
  VALUES (s.dataset, s.cob_date, s.run_id, s.snapshot_id, s.input_sha256, s.content_checksum, s.row_count, s.snapshot_seq, SYSTIMESTAMP)`,
		Log: `INSERT INTO publication_log (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, snapshot_seq)
VALUES (:1, TO_DATE(:2, 'YYYY-MM-DD'), :3, :4, :5, :6, :7, :8)`,
		Recorded: `SELECT NVL(snapshot_seq, 0), run_id FROM publications WHERE dataset = :1 AND cob_date = TO_DATE(:2, 'YYYY-MM-DD')`,
		SetState: oracleSetState,
		LogState: oracleLogState,
		GetState: oracleGetState,
	}
}

// The publication_states statements (migration 0003), shared by Load and SetState: one
// placeholder per bind, dates through TO_DATE.
const (
	oracleSetState = `MERGE INTO publication_states p
USING (SELECT :1 AS dataset, TO_DATE(:2, 'YYYY-MM-DD') AS cob_date, :3 AS state, :4 AS run_id, :5 AS input_sha256,
              :6 AS content_checksum, :7 AS row_count, :8 AS snapshot_id, :9 AS snapshot_seq FROM dual) s
ON (p.dataset = s.dataset AND p.cob_date = s.cob_date)
WHEN MATCHED THEN UPDATE SET p.state = s.state, p.run_id = s.run_id, p.input_sha256 = s.input_sha256,
  p.content_checksum = s.content_checksum, p.row_count = s.row_count, p.snapshot_id = s.snapshot_id,
  p.snapshot_seq = s.snapshot_seq, p.updated_at = SYSTIMESTAMP
WHEN NOT MATCHED THEN INSERT (dataset, cob_date, state, run_id, input_sha256, content_checksum, row_count, snapshot_id, snapshot_seq, updated_at)
  VALUES (s.dataset, s.cob_date, s.state, s.run_id, s.input_sha256, s.content_checksum, s.row_count, s.snapshot_id, s.snapshot_seq, SYSTIMESTAMP)`
	oracleLogState = `INSERT INTO publication_state_log (dataset, cob_date, state, run_id, input_sha256, content_checksum, row_count, snapshot_id, snapshot_seq)
VALUES (:1, TO_DATE(:2, 'YYYY-MM-DD'), :3, :4, :5, :6, :7, :8, :9)`
	oracleGetState = `SELECT dataset, TO_CHAR(cob_date, 'YYYY-MM-DD'), state, run_id, input_sha256, content_checksum, row_count,
  snapshot_id, snapshot_seq, updated_at
FROM publication_states WHERE dataset = :1 AND cob_date = TO_DATE(:2, 'YYYY-MM-DD')`
)

// stateArgs are the 9 binds of SetState and LogState (the same list: a transition is recorded
// the same way in both).
func stateArgs(st PublicationState) []any {
	var snap, seq any
	if st.SnapshotID != 0 {
		snap, seq = st.SnapshotID, st.SnapshotSeq
	}
	return []any{st.Dataset, oracleDate(st.CobDate), string(st.State), st.RunID, st.InputSHA256, st.ContentChecksum, st.Rows, snap, seq}
}

// State implements StateStore.
func (o *Oracle) State(ctx context.Context, dataset string, cob time.Time) (*PublicationState, error) {
	var st PublicationState
	var day, state string
	var snap, seq sql.NullInt64
	err := o.db.QueryRowContext(ctx, oracleGetState, dataset, oracleDate(cob)).
		Scan(&st.Dataset, &day, &state, &st.RunID, &st.InputSHA256, &st.ContentChecksum, &st.Rows, &snap, &seq, &st.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		if oraCode(err, "ORA-00942") {
			return nil, fmt.Errorf("read publication state of %s %s: publication_states does not exist: run `distribution migrate` first: %w", dataset, oracleDate(cob), err)
		}
		return nil, fmt.Errorf("read publication state of %s %s: %w", dataset, oracleDate(cob), err)
	}
	if st.CobDate, err = time.Parse(time.DateOnly, day); err != nil {
		return nil, fmt.Errorf("publication state %s: cob_date %q: %w", dataset, day, err)
	}
	st.State, st.SnapshotID, st.SnapshotSeq = State(state), snap.Int64, seq.Int64
	return &st, nil
}

// SetState implements StateStore: the current row and the log, in one transaction.
func (o *Oracle) SetState(ctx context.Context, st PublicationState) error {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := setStateOracle(ctx, tx, st); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit publication state %s of %s %s: %w", st.State, st.Dataset, oracleDate(st.CobDate), err)
	}
	return nil
}

func setStateOracle(ctx context.Context, tx *sql.Tx, st PublicationState) error {
	args := stateArgs(st)
	if _, err := tx.ExecContext(ctx, oracleSetState, args...); err != nil {
		return fmt.Errorf("record publication state %s of %s %s: %w", st.State, st.Dataset, oracleDate(st.CobDate), err)
	}
	if _, err := tx.ExecContext(ctx, oracleLogState, args...); err != nil {
		return fmt.Errorf("log publication state %s of %s %s: %w", st.State, st.Dataset, oracleDate(st.CobDate), err)
	}
	return nil
}

// oraCode reports whether err carries the Oracle error code (e.g. "ORA-00942").
func oraCode(err error, code string) bool { return err != nil && strings.Contains(err.Error(), code) }

// Load implements Loader: it replaces the rows of pub.CobDate by partition exchange (see Oracle).
func (o *Oracle) Load(ctx context.Context, c *contract.Contract, pub Publication, rdr array.RecordReader) (res Result, err error) {
	start := time.Now()
	res.Phases = map[string]time.Duration{}
	st := OracleSQL(c, pub.CobDate)
	conn, err := o.db.Conn(ctx)
	if err != nil {
		return res, fmt.Errorf("connect oracle: %w", err)
	}
	defer conn.Close()
	step := func(name string) error {
		_, err := conn.ExecContext(ctx, st.Step, pub.Dataset, oracleDate(pub.CobDate), pub.RunID, name, st.Stage, res.Rows, res.Replaced, nil)
		if err != nil {
			return fmt.Errorf("record step %s in relational_loads: %w", name, err)
		}
		return nil
	}
	if err := step(OracleStepStaging); err != nil {
		return res, err
	}
	stageExists := false
	defer func() {
		bg := context.WithoutCancel(ctx)
		if err != nil {
			// The step stays where the load stopped; the error says why.
			if _, e := conn.ExecContext(bg, st.StepError, truncate(err.Error(), 4000), pub.Dataset, oracleDate(pub.CobDate), pub.RunID); e != nil {
				err = errors.Join(err, fmt.Errorf("record the failure in relational_loads: %w", e))
			}
		}
		if stageExists {
			if _, e := conn.ExecContext(bg, st.DropStage); e != nil && err == nil {
				err = fmt.Errorf("drop %s: %w", st.Stage, e)
			}
		}
	}()
	if _, err := conn.ExecContext(ctx, st.DropStage); err != nil && !oraCode(err, "ORA-00942") {
		return res, fmt.Errorf("drop a leftover %s: %w", st.Stage, err)
	}
	if _, err := conn.ExecContext(ctx, st.AddPartition); err != nil && !oraCode(err, "ORA-14312") {
		return res, fmt.Errorf("add the partition of %s to %s: %w", oracleDate(pub.CobDate), c.Table, err)
	}
	if _, err := conn.ExecContext(ctx, st.CreateStage); err != nil {
		return res, fmt.Errorf("create %s: %w", st.Stage, err)
	}
	stageExists = true

	t0 := time.Now()
	res.Rows, err = ArrayBatches(rdr, o.batchRows, func(cols []any) error {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		r, err := tx.ExecContext(ctx, st.Insert, cols...)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err == nil && n != int64(len(cols[0].([]any))) {
			return fmt.Errorf("array insert stored %d rows of %d", n, len(cols[0].([]any)))
		}
		return tx.Commit()
	})
	if err != nil {
		return res, fmt.Errorf("direct-path insert into %s: %w", st.Stage, err)
	}
	res.Phases["load"] = time.Since(t0)

	t0 = time.Now()
	if _, err := conn.ExecContext(ctx, st.StageKey); err != nil {
		return res, fmt.Errorf("primary key of %s (duplicate key?): %w", st.Stage, err)
	}
	if _, err := conn.ExecContext(ctx, st.Stats, strings.ToUpper(st.Stage)); err != nil {
		return res, fmt.Errorf("statistics of %s: %w", st.Stage, err)
	}
	res.Phases["index"] = time.Since(t0)
	if err := step(OracleStepStaged); err != nil {
		return res, err
	}

	// A newer snapshot already recorded (another run committed after this one): refuse before
	// anything is exchanged. The caller holds the publication lock, so nothing records between
	// this read and the exchange.
	var recSeq int64
	var recRun string
	switch err := conn.QueryRowContext(ctx, st.Recorded, pub.Dataset, oracleDate(pub.CobDate)).Scan(&recSeq, &recRun); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return res, fmt.Errorf("read the recorded publication: %w", err)
	case pub.SnapshotSeq > 0 && recSeq > pub.SnapshotSeq:
		return res, &StaleSnapshotError{Dataset: pub.Dataset, CobDate: pub.CobDate, Recorded: recSeq, Offered: pub.SnapshotSeq, RecordedRun: recRun}
	}

	t0 = time.Now()
	if err := step(OracleStepExchanging); err != nil {
		return res, err
	}
	if _, err := conn.ExecContext(ctx, st.Exchange); err != nil {
		return res, fmt.Errorf("exchange the partition of %s of %s: %w", oracleDate(pub.CobDate), c.Table, err)
	}
	if err := conn.QueryRowContext(ctx, st.CountStage).Scan(&res.Replaced); err != nil {
		return res, fmt.Errorf("count the previous rows in %s: %w", st.Stage, err)
	}
	res.Phases["swap"] = time.Since(t0)

	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	args := []any{pub.Dataset, oracleDate(pub.CobDate), pub.RunID, pub.SnapshotID, pub.InputSHA256, pub.ContentChecksum, res.Rows, pub.SnapshotSeq}
	if _, err := tx.ExecContext(ctx, st.Record, args...); err != nil {
		return res, fmt.Errorf("record publication: %w", err)
	}
	if _, err := tx.ExecContext(ctx, st.Log, args...); err != nil {
		return res, fmt.Errorf("log publication: %w", err)
	}
	if _, err := tx.ExecContext(ctx, st.Step, pub.Dataset, oracleDate(pub.CobDate), pub.RunID, OracleStepPublished, st.Stage, res.Rows, res.Replaced, nil); err != nil {
		return res, fmt.Errorf("record step %s in relational_loads: %w", OracleStepPublished, err)
	}
	// The publication state "published", in the transaction that records the publication.
	if err := setStateOracle(ctx, tx, PublicationState{Dataset: pub.Dataset, CobDate: pub.CobDate, State: StatePublished, RunID: pub.RunID,
		InputSHA256: pub.InputSHA256, ContentChecksum: pub.ContentChecksum, Rows: res.Rows, SnapshotID: pub.SnapshotID, SnapshotSeq: pub.SnapshotSeq}); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit the publication: %w", err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ArrayBatches turns a record stream into column arrays of at most size rows (one []any per
// column, nil for nulls, int32 widened to int64, dates as 'YYYY-MM-DD' strings for
// TO_DATE(:n, 'YYYY-MM-DD'), timestamps as time.Time in UTC) and calls exec with one argument
// per column, as array binding wants. It returns the number of rows.
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
		dates := make([]bool, len(funcs))
		for c := range funcs {
			_, dates[c] = rec.Column(c).(*array.Date32)
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			for c, f := range funcs {
				v := f(r)
				switch x := v.(type) {
				case int32:
					v = int64(x)
				case time.Time:
					if dates[c] {
						v = oracleDate(x)
					}
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
	err := o.db.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s = TO_DATE(:1, 'YYYY-MM-DD')", c.Table, c.PartitionBy), oracleDate(cob)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s of %s: %w", c.Table, oracleDate(cob), err)
	}
	return n, nil
}

// Publication implements Loader.
func (o *Oracle) Publication(ctx context.Context, dataset string, cob time.Time) (*Publication, error) {
	var pub Publication
	var snap sql.NullInt64
	var day string
	err := o.db.QueryRowContext(ctx, `SELECT dataset, TO_CHAR(cob_date, 'YYYY-MM-DD'), run_id, snapshot_id, input_sha256, content_checksum, row_count, published_at
FROM publications WHERE dataset = :1 AND cob_date = TO_DATE(:2, 'YYYY-MM-DD')`, dataset, oracleDate(cob)).
		Scan(&pub.Dataset, &day, &pub.RunID, &snap, &pub.InputSHA256, &pub.ContentChecksum, &pub.Rows, &pub.PublishedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read publication %s %s: %w", dataset, oracleDate(cob), err)
	}
	if pub.CobDate, err = time.Parse(time.DateOnly, day); err != nil {
		return nil, fmt.Errorf("publication %s: cob_date %q: %w", dataset, day, err)
	}
	pub.SnapshotID = snap.Int64
	return &pub, nil
}

// OracleLoadState is the recorded state of the last Oracle load of a dataset and date.
type OracleLoadState struct {
	RunID, Step, Stage, Error string
	Rows, Replaced            int64
}

// LoadState returns the recorded state of the last load of a dataset and date, or nil.
func (o *Oracle) LoadState(ctx context.Context, dataset string, cob time.Time) (*OracleLoadState, error) {
	var s OracleLoadState
	var errText sql.NullString
	err := o.db.QueryRowContext(ctx, `SELECT run_id, step, stage_table, rows_loaded, rows_replaced, last_error
FROM relational_loads WHERE dataset = :1 AND cob_date = TO_DATE(:2, 'YYYY-MM-DD')`, dataset, oracleDate(cob)).
		Scan(&s.RunID, &s.Step, &s.Stage, &s.Rows, &s.Replaced, &errText)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read relational_loads %s %s: %w", dataset, oracleDate(cob), err)
	}
	s.Error = errText.String
	return &s, nil
}

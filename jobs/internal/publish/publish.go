// Package publish runs one publication of one dataset for one close-of-business date:
//
//  1. locate and checksum the input (source);
//  2. validate it against the contract (validate) — a violation stops here: nothing is published;
//  3. overwrite the date's partition of the Iceberg table in one commit (lake);
//  4. load the date into the relational target atomically (relational);
//  5. when Trino is configured, verify the row count and run maintenance (Verifier).
//
// Every step is idempotent for a date, so a failed or crashed run is fixed by running it again:
// the Iceberg overwrite replaces what the crashed run committed and the relational swap replaces
// what was loaded.
package publish

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/lake"
	"github.com/lakeport/lakeport/jobs/internal/metrics"
	"github.com/lakeport/lakeport/jobs/internal/relational"
	"github.com/lakeport/lakeport/jobs/internal/source"
	"github.com/lakeport/lakeport/jobs/internal/tracing"
	"github.com/lakeport/lakeport/jobs/internal/validate"
)

// ViolationError is returned when the input breaks its contract; nothing was published.
type ViolationError struct{ Report *validate.Report }

func (e *ViolationError) Error() string {
	return fmt.Sprintf("contract %s v%d violated for %s: %d rules broken by %d rows; nothing published",
		e.Report.Dataset, e.Report.ContractVersion, e.Report.CobDate, len(e.Report.Violations), e.Report.ViolatedRows())
}

// InputNotReadyError is returned when the input is missing or incomplete; nothing was published.
type InputNotReadyError struct{ Err error }

func (e *InputNotReadyError) Error() string { return "input not ready: " + e.Err.Error() }
func (e *InputNotReadyError) Unwrap() error { return e.Err }

// VerificationError is returned when the published data does not read back as expected.
type VerificationError struct{ Err error }

func (e *VerificationError) Error() string { return "verification failed: " + e.Err.Error() }
func (e *VerificationError) Unwrap() error { return e.Err }

// Verifier checks a publication through a query engine and maintains the table.
type Verifier interface {
	// Verify checks that the table holds rows rows for cob; it returns the engine's query id.
	Verify(ctx context.Context, c *contract.Contract, cob time.Time, rows int64) (queryID string, err error)
	// Maintain runs table maintenance (optimize, expire snapshots...).
	Maintain(ctx context.Context, c *contract.Contract, cob time.Time) error
}

// commitAttempts bounds the Iceberg writes of one publication when other writers win the commit.
const commitAttempts = 4

// Publisher holds the adapters of a run.
type Publisher struct {
	Lake     *lake.Lake
	DB       relational.Loader // nil: no relational target
	Verifier Verifier          // nil: no Trino
	Input    source.Options
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	// BatchRows is the Arrow batch size while streaming.
	BatchRows int64
	// RunID names the run (default: random).
	RunID string
	// AfterIcebergCommit, when set, runs between the Iceberg commit and the relational load: the
	// tests inject a crash there.
	AfterIcebergCommit func(ctx context.Context, c lake.Commit) error
}

// Result describes a publication.
type Result struct {
	Dataset      string
	CobDate      time.Time
	RunID        string
	InputSHA256  string
	InputFiles   int
	InputBytes   int64
	Report       *validate.Report
	Commit       lake.Commit
	Load         *relational.Result
	TrinoQueryID string
	Duration     time.Duration
	PreviousRows *int64
	PreviousDate time.Time
}

// NewRunID returns a random run id.
func NewRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func (p *Publisher) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Validate runs steps 1 and 2 only.
func (p *Publisher) Validate(ctx context.Context, c *contract.Contract, cob time.Time) (*validate.Report, error) {
	in, err := source.Open(ctx, p.Input, c.Name, cob)
	if err != nil {
		return nil, inputErr(err)
	}
	defer in.Close()
	var prev *int64
	if p.Lake != nil {
		tbl, err := p.Lake.Table(ctx, c)
		if err != nil {
			return nil, err
		}
		if prev, _, err = p.Lake.PreviousRows(ctx, tbl, c, cob); err != nil {
			return nil, err
		}
	}
	return validate.Validate(ctx, c, in, validate.Options{PreviousRows: prev, BatchRows: p.BatchRows})
}

func inputErr(err error) error {
	if errors.Is(err, source.ErrIncomplete) || errors.Is(err, source.ErrNoInput) {
		return &InputNotReadyError{Err: err}
	}
	return err
}

// Publish runs the whole publication.
func (p *Publisher) Publish(ctx context.Context, c *contract.Contract, cob time.Time) (res *Result, err error) {
	start := time.Now()
	runID := p.RunID
	if runID == "" {
		runID = NewRunID()
	}
	log := p.log().With("dataset", c.Name, "cob_date", cob.Format(source.DateLayout), "run_id", runID)
	res = &Result{Dataset: c.Name, CobDate: cob, RunID: runID}
	m := p.Metrics
	ctx, root := tracing.Start(ctx, "publish "+c.Name,
		tracing.Dataset.String(c.Name), tracing.CobDate.String(cob.Format(source.DateLayout)), tracing.RunID.String(runID))
	defer func() {
		if res.Commit.SnapshotID != 0 {
			root.SetAttributes(tracing.SnapshotID.Int64(res.Commit.SnapshotID))
		}
		if res.TrinoQueryID != "" {
			root.SetAttributes(tracing.TrinoQueryID.String(res.TrinoQueryID))
		}
		tracing.End(root, err)
	}()
	defer func() {
		res.Duration = time.Since(start)
		if m != nil {
			m.Runs.WithLabelValues(c.Name, outcome(err)).Inc()
			m.Duration.WithLabelValues(c.Name, "total").Set(res.Duration.Seconds())
			if err == nil {
				m.LastSuccess.WithLabelValues(c.Name).SetToCurrentTime()
				m.CobDate.WithLabelValues(c.Name).Set(float64(cob.Unix()))
			}
		}
	}()

	// 1. input
	t0 := time.Now()
	sctx, span := tracing.Start(ctx, "input")
	in, err := source.Open(sctx, p.Input, c.Name, cob)
	tracing.End(span, err)
	if err != nil {
		return res, inputErr(err)
	}
	defer in.Close()
	res.InputSHA256, res.InputFiles, res.InputBytes = in.Checksum(), len(in.Files), in.Bytes()
	log.Info("input located", "uri", in.URI, "files", len(in.Files), "bytes", in.Bytes(), "rows", in.Rows(), "input_sha256", res.InputSHA256, "duration", time.Since(t0))
	if m != nil {
		m.Rows.WithLabelValues(c.Name, "input").Set(float64(in.Rows()))
		m.Bytes.WithLabelValues(c.Name, "input").Set(float64(in.Bytes()))
		m.Duration.WithLabelValues(c.Name, "input").Set(time.Since(t0).Seconds())
	}

	// 2. contract
	t0 = time.Now()
	tbl, err := p.Lake.Table(ctx, c)
	if err != nil {
		return res, err
	}
	res.PreviousRows, res.PreviousDate, err = p.Lake.PreviousRows(ctx, tbl, c, cob)
	if err != nil {
		return res, err
	}
	sctx, span = tracing.Start(ctx, "validate")
	rep, err := validate.Validate(sctx, c, in, validate.Options{PreviousRows: res.PreviousRows, BatchRows: p.BatchRows})
	if err == nil {
		span.SetAttributes(tracing.Rows.Int64(rep.Rows), attribute.Int("lakeport.violations", len(rep.Violations)))
	}
	tracing.End(span, err)
	if err != nil {
		return res, fmt.Errorf("validate: %w", err)
	}
	res.Report = rep
	if m != nil {
		m.Duration.WithLabelValues(c.Name, "validate").Set(time.Since(t0).Seconds())
		for _, v := range rep.Violations {
			m.Violations.WithLabelValues(c.Name, v.Rule).Add(float64(v.Count))
		}
	}
	if !rep.Passed() {
		log.Error("contract violated: nothing published", "violations", len(rep.Violations), "violated_rows", rep.ViolatedRows())
		return res, &ViolationError{Report: rep}
	}
	log.Info("contract passed", "rows", rep.Rows, "content_checksum", rep.Checksum, "duration", time.Since(t0))

	// 3. Iceberg
	summary := map[string]string{
		lake.SummaryRunID:           runID,
		lake.SummaryCobDate:         cob.Format(source.DateLayout),
		lake.SummaryInputChecksum:   res.InputSHA256,
		lake.SummaryInputFiles:      fmt.Sprint(len(in.Files)),
		lake.SummaryInputChecksums:  in.FileChecksums(16 << 10),
		lake.SummaryContentChecksum: rep.Checksum,
		lake.SummaryContract:        fmt.Sprintf("%s/v%d", c.Name, c.Version),
		lake.SummaryRows:            fmt.Sprint(rep.Rows),
	}
	sctx, span = tracing.Start(ctx, "iceberg.overwrite", attribute.String("iceberg.table", p.Lake.Namespace()+"."+c.Table))
	var commit lake.Commit
	for attempt := 1; ; attempt++ {
		rdr := in.Records(sctx, c, p.BatchRows)
		_, commit, err = p.Lake.Overwrite(sctx, tbl, c, cob, rdr, summary)
		rdr.Release()
		if err == nil || attempt == commitAttempts || !lake.IsCommitConflict(err) {
			break
		}
		// Another writer (a backfill of another date) committed first: write again on top of it.
		log.Warn("iceberg commit conflict, writing again", "attempt", attempt, "error", err.Error())
		if tbl, err = p.Lake.Reload(sctx, c); err != nil {
			break
		}
	}
	if err == nil {
		span.SetAttributes(tracing.SnapshotID.Int64(commit.SnapshotID), tracing.Rows.Int64(commit.AddedRows))
	}
	tracing.End(span, err)
	if err != nil {
		return res, err
	}
	res.Commit = commit
	log.Info("iceberg partition replaced", "snapshot_id", commit.SnapshotID, "added_files", commit.AddedFiles, "added_rows", commit.AddedRows,
		"deleted_rows", commit.DeletedRows, "bytes", commit.AddedBytes, "metadata", commit.MetadataLocation, "duration", commit.Duration)
	if m != nil {
		m.Rows.WithLabelValues(c.Name, "iceberg").Set(float64(commit.AddedRows))
		m.Bytes.WithLabelValues(c.Name, "iceberg").Set(float64(commit.AddedBytes))
		m.Duration.WithLabelValues(c.Name, "iceberg").Set(commit.Duration.Seconds())
		m.SnapshotID.WithLabelValues(c.Name).Set(float64(commit.SnapshotID))
	}
	if commit.AddedRows != rep.Rows {
		return res, fmt.Errorf("iceberg commit added %d rows, input has %d", commit.AddedRows, rep.Rows)
	}
	if p.AfterIcebergCommit != nil {
		if err := p.AfterIcebergCommit(ctx, commit); err != nil {
			return res, err
		}
	}

	// 4. relational
	if p.DB != nil {
		sctx, span := tracing.Start(ctx, "relational.load", tracing.SnapshotID.Int64(commit.SnapshotID))
		rdr := in.Records(sctx, c, p.BatchRows)
		load, err := p.DB.Load(sctx, c, relational.Publication{
			Dataset: c.Name, CobDate: cob, RunID: runID, SnapshotID: commit.SnapshotID,
			InputSHA256: res.InputSHA256, ContentChecksum: rep.Checksum, Rows: rep.Rows,
		}, rdr)
		rdr.Release()
		if err == nil {
			span.SetAttributes(tracing.Rows.Int64(load.Rows))
		}
		tracing.End(span, err)
		if err != nil {
			return res, fmt.Errorf("relational load: %w", err)
		}
		res.Load = &load
		log.Info("relational load committed", "rows", load.Rows, "replaced_rows", load.Replaced, "duration", load.Duration)
		if m != nil {
			m.Rows.WithLabelValues(c.Name, "database").Set(float64(load.Rows))
			m.Duration.WithLabelValues(c.Name, "database").Set(load.Duration.Seconds())
		}
		if load.Rows != rep.Rows {
			return res, fmt.Errorf("relational load wrote %d rows, input has %d", load.Rows, rep.Rows)
		}
	}

	// 5. Trino
	if p.Verifier != nil {
		t0 = time.Now()
		sctx, span := tracing.Start(ctx, "trino.verify", tracing.SnapshotID.Int64(commit.SnapshotID))
		qid, err := p.Verifier.Verify(sctx, c, cob, rep.Rows)
		res.TrinoQueryID = qid
		span.SetAttributes(tracing.TrinoQueryID.String(qid))
		tracing.End(span, err)
		if err != nil {
			return res, &VerificationError{Err: err}
		}
		log.Info("trino verified", "trino_query_id", qid, "rows", rep.Rows, "duration", time.Since(t0))
		t0 = time.Now()
		sctx, span = tracing.Start(ctx, "trino.maintain")
		merr := p.Verifier.Maintain(sctx, c, cob)
		tracing.End(span, merr)
		if merr != nil {
			// Maintenance failing does not undo a correct publication: warn, do not fail.
			log.Warn("trino maintenance failed", "error", merr.Error())
		} else {
			log.Info("trino maintenance done", "duration", time.Since(t0))
		}
		if m != nil {
			m.Duration.WithLabelValues(c.Name, "trino").Set(time.Since(t0).Seconds())
		}
	}
	log.Info("published", "rows", rep.Rows, "snapshot_id", commit.SnapshotID, "duration", time.Since(start))
	return res, nil
}

func outcome(err error) string {
	var v *ViolationError
	var in *InputNotReadyError
	var ver *VerificationError
	switch {
	case err == nil:
		return "success"
	case errors.As(err, &v):
		return "contract_violation"
	case errors.As(err, &in):
		return "input_not_ready"
	case errors.As(err, &ver):
		return "verification_failed"
	}
	return "error"
}

// Package publish runs one publication of one dataset for one close-of-business date:
//
//  0. take the lock of (dataset, cob_date) for the whole publication (publock): a second publisher
//     of the same date fails at once with a *ConflictError;
//  1. locate and checksum the input (source);
//  2. validate it against the contract (validate) — a violation stops here: nothing is published;
//  3. record the publication "pending" (run id, input checksum) in the database;
//  4. stage the relational load (COPY, key, statistics) — before the Iceberg commit;
//  5. write the Iceberg data files once and commit them as the date's partition (lake), retrying
//     only the metadata commit; record "iceberg-committed" with the snapshot id;
//  6. swap the staged rows in and record "published", in one transaction;
//  7. when Trino is configured, verify the committed snapshot (FOR VERSION AS OF) and maintain.
//
// A re-run resumes from what is recorded: when the date's last Iceberg publication has the same
// input checksum, the Iceberg write is skipped and only the database is brought to it; when both
// stores already hold it, nothing is written.
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
	"github.com/lakeport/lakeport/jobs/internal/publock"
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

// ConflictError says that another publication of the same dataset and date holds the lock or won
// the race: this run committed nothing (or, for a refused stale load, nothing more) and must not
// be retried blindly — the other run's data is what both stores hold.
type ConflictError struct{ Err error }

func (e *ConflictError) Error() string { return "publication conflict: " + e.Err.Error() }
func (e *ConflictError) Unwrap() error { return e.Err }

// Points at which Publisher.Hook is called, in order.
const (
	PointPending          = "pending"           // after "pending" is recorded
	PointStaged           = "staged"            // after the relational staging table is loaded
	PointIcebergCommit    = "iceberg-commit"    // after the Iceberg commit, before it is recorded
	PointIcebergCommitted = "iceberg-committed" // after "iceberg-committed" is recorded
	PointPublished        = "published"         // after the swap recorded "published"
)

// Verifier checks a publication through a query engine. Table maintenance is not a publication's
// business: `distribution maintain` owns it (package maintain), under the dataset's lock.
type Verifier interface {
	// Verify checks that snapshot snapshotID of the table holds rows rows for cob; it returns the
	// engine's query id.
	Verify(ctx context.Context, c *contract.Contract, cob time.Time, snapshotID, rows int64) (queryID string, err error)
}

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
	// Locker serialises the publications of one dataset and date (nil: no lock, for tests of
	// what happens without one).
	Locker publock.Locker
	// Commit tunes the Iceberg metadata commit's retries.
	Commit lake.CommitOptions
	// TagRetention is the regulatory retention of the tag (lake.TagName) that every publication
	// puts on its snapshot: snapshot expiry keeps the snapshot that long (0: for ever).
	TagRetention time.Duration
	// MaintenanceWait bounds how long a publication waits for a running maintenance of its
	// dataset before it gives up with a *ConflictError (0: it does not wait).
	MaintenanceWait time.Duration
	// Hook, when set, is called at each Point*; an error stops the publication there (tests inject
	// failures, and the command kills itself there when LAKEPORT_CRASH_AT names the point).
	Hook func(ctx context.Context, point string) error
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
	// Resumed: the Iceberg snapshot of an earlier run with the same input was reused.
	Resumed bool
	// AlreadyPublished: both stores already held this input; nothing was written.
	AlreadyPublished bool
	// Tag is the Iceberg tag of the publication's snapshot.
	Tag string
}

// acquire takes the publication's lock; while maintenance of the dataset runs it tries again
// every few seconds for up to MaintenanceWait (maintenance ends; a rival publication of the same
// date is final at once).
// lockPublication takes the publication's lock (a lock another run holds is a ConflictError) and
// returns a context that is cancelled with publock.ErrLost if the lock is lost, and the function
// that releases both.
func (p *Publisher) lockPublication(ctx context.Context, log *slog.Logger, key publock.Key, runID string) (context.Context, func(), error) {
	lk, err := p.acquire(ctx, log, key, runID)
	if err != nil {
		if publock.IsBusy(err) {
			return ctx, nil, &ConflictError{Err: err}
		}
		return ctx, nil, err
	}
	held, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-lk.Lost():
			cancel(publock.ErrLost)
		case <-held.Done():
		}
	}()
	return held, func() {
		cancel(nil)
		if rerr := lk.Release(context.WithoutCancel(ctx)); rerr != nil {
			log.Warn("releasing the publication lock failed", "error", rerr.Error())
		}
	}, nil
}

func (p *Publisher) acquire(ctx context.Context, log *slog.Logger, key publock.Key, runID string) (publock.Lock, error) {
	deadline := time.Now().Add(p.MaintenanceWait)
	for {
		lk, err := p.Locker.TryAcquire(ctx, key, runID)
		if err == nil || !publock.IsMaintenanceBusy(err) || !time.Now().Before(deadline) {
			return lk, err
		}
		log.Info("waiting for the maintenance of the dataset to finish", "holder", err.Error(), "until", deadline.Format(time.RFC3339))
		select {
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), err)
		case <-time.After(min(2*time.Second, time.Until(deadline)+time.Millisecond)):
		}
	}
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
	log = log.With(tracing.LogAttrs(ctx)...) // every line of the run leads to its trace
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
			// Diverged: Iceberg holds this run's snapshot and the run failed before the database
			// was published (a conflict leaves both stores with the winner's run; a re-run converges).
			out := outcome(err)
			m.Finish(metrics.Run{Dataset: c.Name, CobDate: cob, Outcome: out, Duration: res.Duration, SnapshotID: res.Commit.SnapshotID,
				Diverged: err != nil && out != "conflict" && res.Commit.SnapshotID != 0 && p.DB != nil && res.Load == nil})
		}
	}()

	// 0. the publication's lock
	if p.Locker != nil {
		var release func()
		var lerr error
		if ctx, release, lerr = p.lockPublication(ctx, log, publock.Key{Dataset: c.Name, CobDate: cob}, runID); lerr != nil {
			return res, lerr
		}
		defer release()
	}

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

	// 3. what the stores hold for this date
	store, _ := p.DB.(relational.StateStore)
	var rec *relational.PublicationState
	if store != nil {
		if rec, err = store.State(ctx, c.Name, cob); err != nil {
			return res, err
		}
	}
	ice := lake.LastPublished(tbl, cob)
	sameInput := ice != nil && ice.InputSHA256() == res.InputSHA256 && ice.ContentChecksum() == rep.Checksum
	if sameInput {
		res.Commit = lake.Commit{SnapshotID: ice.SnapshotID, SequenceNumber: ice.SequenceNumber, AddedRows: ice.Rows()}
		if p.DB == nil || (rec != nil && rec.State == relational.StatePublished && rec.SnapshotID == ice.SnapshotID) ||
			(store == nil && p.publishedIn(ctx, c, cob, ice.SnapshotID)) {
			res.AlreadyPublished = true
			res.Tag = lake.TagName(cob, ice.RunID())
			if err := p.Lake.Tag(ctx, c, ice.SnapshotID, res.Tag, p.TagRetention); err != nil {
				return res, err
			}
			log.Info("already published: both stores hold this input", "snapshot_id", ice.SnapshotID, "published_by", ice.RunID())
			return res, p.verify(ctx, log, c, cob, res, rep.Rows)
		}
		res.Resumed = true
		log.Info("iceberg already holds this input: resuming the publication from it", "snapshot_id", ice.SnapshotID,
			"published_by", ice.RunID(), "recorded_state", stateOf(rec))
	}
	pub := relational.Publication{Dataset: c.Name, CobDate: cob, RunID: runID, InputSHA256: res.InputSHA256, ContentChecksum: rep.Checksum, Rows: rep.Rows}
	if sameInput {
		pub.RunID = ice.RunID() // the rows are that run's: both stores name it
	}
	state := func(s relational.State, cm lake.Commit) error {
		if store == nil {
			return nil
		}
		return store.SetState(ctx, relational.PublicationState{Dataset: c.Name, CobDate: cob, State: s, RunID: pub.RunID,
			InputSHA256: pub.InputSHA256, ContentChecksum: pub.ContentChecksum, Rows: pub.Rows, SnapshotID: cm.SnapshotID, SnapshotSeq: cm.SequenceNumber})
	}
	if !sameInput {
		if err := state(relational.StatePending, lake.Commit{}); err != nil {
			return res, err
		}
		if err := p.at(ctx, PointPending); err != nil {
			return res, err
		}
	}

	// 4. relational staging: the bulk of the load, before anything is visible
	var staged relational.StagedLoad
	if stager, ok := p.DB.(relational.Stager); ok {
		if left, err := stager.DropStaging(ctx, c, cob); err != nil {
			return res, err
		} else if len(left) > 0 {
			log.Warn("dropped staging tables left by dead runs", "tables", left)
		}
		sctx, span := tracing.Start(ctx, "relational.stage")
		rdr := in.Records(sctx, c, p.BatchRows)
		staged, err = stager.Stage(sctx, c, pub, rdr)
		rdr.Release()
		tracing.End(span, err)
		if err != nil {
			return res, fmt.Errorf("relational staging: %w", err)
		}
		defer func() {
			if err != nil {
				if aerr := staged.Abort(context.WithoutCancel(ctx)); aerr != nil {
					log.Warn("dropping the staging table failed", "error", aerr.Error())
				}
			}
		}()
		if staged.Rows() != rep.Rows {
			return res, fmt.Errorf("relational staging holds %d rows, input has %d", staged.Rows(), rep.Rows)
		}
		if err := p.at(ctx, PointStaged); err != nil {
			return res, err
		}
	}

	// 5. Iceberg: data files written once, only the metadata commit retried
	if !sameInput {
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
		sctx, span := tracing.Start(ctx, "iceberg.write", attribute.String("iceberg.table", p.Lake.Namespace()+"."+c.Table))
		rdr := in.Records(sctx, c, p.BatchRows)
		st, err := p.Lake.WriteFiles(sctx, tbl, rdr)
		rdr.Release()
		tracing.End(span, err)
		if err != nil {
			return res, err
		}
		if st.Rows != rep.Rows {
			return res, fmt.Errorf("iceberg data files hold %d rows, input has %d", st.Rows, rep.Rows)
		}
		sctx, span = tracing.Start(ctx, "iceberg.commit", attribute.String("iceberg.table", p.Lake.Namespace()+"."+c.Table))
		_, commit, err := p.Lake.Commit(sctx, c, cob, st, summary, p.Commit)
		if err == nil {
			span.SetAttributes(tracing.SnapshotID.Int64(commit.SnapshotID), tracing.Rows.Int64(commit.AddedRows))
		}
		tracing.End(span, err)
		var ce *lake.ConflictError
		if errors.As(err, &ce) {
			return res, &ConflictError{Err: err}
		}
		if err != nil {
			return res, err
		}
		commit.Duration += st.Duration
		res.Commit = commit
		log.Info("iceberg partition replaced", "snapshot_id", commit.SnapshotID, "sequence_number", commit.SequenceNumber, "added_files", commit.AddedFiles,
			"added_rows", commit.AddedRows, "deleted_rows", commit.DeletedRows, "bytes", commit.AddedBytes, "metadata", commit.MetadataLocation, "duration", commit.Duration)
		if m != nil {
			m.Rows.WithLabelValues(c.Name, "iceberg").Set(float64(commit.AddedRows))
			m.Bytes.WithLabelValues(c.Name, "iceberg").Set(float64(commit.AddedBytes))
			m.Duration.WithLabelValues(c.Name, "iceberg").Set(commit.Duration.Seconds())
		}
		if err := p.at(ctx, PointIcebergCommit); err != nil {
			return res, err
		}
	}
	// The run's tag: the snapshot stays reproducible for the regulatory period whatever expiry does.
	tag := lake.TagName(cob, pub.RunID)
	if err := p.Lake.Tag(ctx, c, res.Commit.SnapshotID, tag, p.TagRetention); err != nil {
		return res, err
	}
	res.Tag = tag
	if rec == nil || rec.State != relational.StateIcebergCommitted || rec.SnapshotID != res.Commit.SnapshotID {
		if err := state(relational.StateIcebergCommitted, res.Commit); err != nil {
			return res, err
		}
	}
	if err := p.at(ctx, PointIcebergCommitted); err != nil {
		return res, err
	}

	// 6. relational swap (or, for loaders without staging, the whole load)
	if p.DB != nil {
		pub.SnapshotID, pub.SnapshotSeq = res.Commit.SnapshotID, res.Commit.SequenceNumber
		sctx, span := tracing.Start(ctx, "relational.load", tracing.SnapshotID.Int64(res.Commit.SnapshotID))
		var load relational.Result
		if staged != nil {
			load, err = staged.Swap(sctx, pub)
		} else {
			rdr := in.Records(sctx, c, p.BatchRows)
			load, err = p.DB.Load(sctx, c, pub, rdr)
			rdr.Release()
		}
		if err == nil {
			span.SetAttributes(tracing.Rows.Int64(load.Rows))
		}
		tracing.End(span, err)
		var stale *relational.StaleSnapshotError
		if errors.As(err, &stale) {
			return res, &ConflictError{Err: err}
		}
		if err != nil {
			return res, fmt.Errorf("relational load: %w", err)
		}
		res.Load = &load
		log.Info("relational load committed", "rows", load.Rows, "replaced_rows", load.Replaced, "swap_retries", load.SwapRetries, "phases", fmt.Sprint(load.Phases), "duration", load.Duration)
		if m != nil {
			m.Rows.WithLabelValues(c.Name, "database").Set(float64(load.Rows))
			m.Duration.WithLabelValues(c.Name, "database").Set(load.Duration.Seconds())
		}
		if load.Rows != rep.Rows {
			return res, fmt.Errorf("relational load wrote %d rows, input has %d", load.Rows, rep.Rows)
		}
		if err := p.at(ctx, PointPublished); err != nil {
			return res, err
		}
	}
	if err := p.verify(ctx, log, c, cob, res, rep.Rows); err != nil {
		return res, err
	}
	log.Info("published", "rows", rep.Rows, "snapshot_id", res.Commit.SnapshotID, "resumed", res.Resumed, "duration", time.Since(start))
	return res, nil
}

func stateOf(rec *relational.PublicationState) string {
	if rec == nil {
		return "none"
	}
	return string(rec.State) + " by run " + rec.RunID
}

// publishedIn asks a loader without recorded states whether its publication of cob is snapshot.
func (p *Publisher) publishedIn(ctx context.Context, c *contract.Contract, cob time.Time, snapshot int64) bool {
	pub, err := p.DB.Publication(ctx, c.Name, cob)
	return err == nil && pub != nil && pub.SnapshotID == snapshot
}

func (p *Publisher) at(ctx context.Context, point string) error {
	if p.Hook == nil {
		return nil
	}
	return p.Hook(ctx, point)
}

// verify runs step 7.
func (p *Publisher) verify(ctx context.Context, log *slog.Logger, c *contract.Contract, cob time.Time, res *Result, rows int64) error {
	if p.Verifier == nil {
		return nil
	}
	m := p.Metrics
	t0 := time.Now()
	sctx, span := tracing.Start(ctx, "trino.verify", tracing.SnapshotID.Int64(res.Commit.SnapshotID))
	qid, err := p.Verifier.Verify(sctx, c, cob, res.Commit.SnapshotID, rows)
	res.TrinoQueryID = qid
	span.SetAttributes(tracing.TrinoQueryID.String(qid))
	tracing.End(span, err)
	if err != nil {
		return &VerificationError{Err: err}
	}
	log.Info("trino verified", "trino_query_id", qid, "snapshot_id", res.Commit.SnapshotID, "rows", rows, "duration", time.Since(t0))
	if m != nil {
		m.Duration.WithLabelValues(c.Name, "trino").Set(time.Since(t0).Seconds())
	}
	return nil
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
	case errors.As(err, new(*ConflictError)):
		return "conflict"
	}
	return "error"
}

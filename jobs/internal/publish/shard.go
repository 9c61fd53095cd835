package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/lake"
	"github.com/lakeport/lakeport/jobs/internal/publock"
	"github.com/lakeport/lakeport/jobs/internal/relational"
	"github.com/lakeport/lakeport/jobs/internal/rowhash"
	"github.com/lakeport/lakeport/jobs/internal/source"
	"github.com/lakeport/lakeport/jobs/internal/validate"
)

// ShardSpec names one worker of a sharded publication (an Indexed Job: Index is
// JOB_COMPLETION_INDEX, Count the Job's completions, RunID shared by all its pods).
type ShardSpec struct {
	Index, Count int
	// RunID is the publication's run id, the same for every worker.
	RunID string
	// Wait bounds how long a worker waits for the coordinator's staging table and the
	// coordinator for the other workers' results (default 1h).
	Wait time.Duration
	// Poll is the interval of those waits (default 2 s).
	Poll time.Duration
}

func (s ShardSpec) withDefaults() ShardSpec {
	if s.Wait <= 0 {
		s.Wait = time.Hour
	}
	if s.Poll <= 0 {
		s.Poll = 2 * time.Second
	}
	return s
}

// ShardResult is what a worker leaves for the coordinator (JSON, beside the table's data).
type ShardResult struct {
	Index int    `json:"index"`
	Count int    `json:"count"`
	RunID string `json:"runId"`
	// Listing names the input files the worker saw (source.Input.Listing): every worker must
	// have seen the same.
	Listing string `json:"listing"`
	// Checksums are the SHA-256 of the files the worker owns (it read them whole; the others'
	// it read key columns only): the coordinator puts the input's checksum together from them.
	Checksums   map[string]string    `json:"checksums"`
	Rows        int64                `json:"rows"`
	Digest      rowhash.Digest       `json:"digest"`
	KeysTracked int64                `json:"keysTracked"`
	Violations  []validate.Violation `json:"violations,omitempty"`
	// Files are the Iceberg data files the worker wrote (committed by nobody yet).
	Files     []string `json:"files,omitempty"`
	FileRows  int64    `json:"fileRows"`
	Copied    int64    `json:"copied"`
	Error     string   `json:"error,omitempty"`
	StartedAt string   `json:"startedAt"`
}

// PublishShard runs worker spec.Index of spec.Count of one publication. Every worker validates
// its share of the input files (and the keys hashed to it on every file: validate.Shard), writes
// its files' Iceberg data files without committing them, COPYs its rows into the run's one
// staging table and leaves its result for the coordinator. Worker 0 is the coordinator: it holds
// the publication lock from the start, creates the staging table, waits for every result,
// refuses the publication on any violation or missing worker (nothing visible is written: the
// data files are orphans for `distribution maintain`, the staging table goes with the next run),
// and otherwise publishes the date in ONE Iceberg commit of all the workers' files, then the
// key build and the short swap, exactly as Publish does. Count <= 1 is Publish.
func (p *Publisher) PublishShard(ctx context.Context, c *contract.Contract, cob time.Time, spec ShardSpec) (*Result, error) {
	if spec.Count <= 1 {
		return p.Publish(ctx, c, cob)
	}
	spec = spec.withDefaults()
	if spec.Index < 0 || spec.Index >= spec.Count || spec.RunID == "" {
		return nil, fmt.Errorf("shard %d of %d (run %q): want 0 <= index < count and a run id shared by the workers", spec.Index, spec.Count, spec.RunID)
	}
	start := time.Now()
	log := p.log().With("dataset", c.Name, "cob_date", cob.Format(source.DateLayout), "run_id", spec.RunID, "shard", spec.Index, "shards", spec.Count)
	res := &Result{Dataset: c.Name, CobDate: cob, RunID: spec.RunID}
	defer func() { res.Duration = time.Since(start) }()
	var stager relational.ShardStager
	if p.DB != nil {
		var ok bool
		if stager, ok = p.DB.(relational.ShardStager); !ok {
			return res, fmt.Errorf("a sharded publication loads the database with parallel COPYs: only the postgres driver can (database driver %T)", p.DB)
		}
	}
	coordinator := spec.Index == 0
	pub := relational.Publication{Dataset: c.Name, CobDate: cob, RunID: spec.RunID}

	// 0. the coordinator holds the publication's lock for the whole run and prepares the
	// staging table the workers COPY into.
	if coordinator && p.Locker != nil {
		var release func()
		var err error
		if ctx, release, err = p.lockPublication(ctx, log, publock.Key{Dataset: c.Name, CobDate: cob}, spec.RunID); err != nil {
			return res, err
		}
		defer release()
	}
	tbl, err := p.Lake.Table(ctx, c)
	if err != nil {
		return res, err
	}
	var base *int64
	if snap := tbl.CurrentSnapshot(); snap != nil {
		id := snap.SnapshotID
		base = &id
	}
	// A coordinator that the Job restarted (same run id) resumes its run: after its Iceberg
	// commit it only brings the database to it; before, it keeps the staging table and the
	// workers' copies and results.
	if coordinator {
		if ice := lake.LastPublished(tbl, cob); ice != nil && ice.RunID() == spec.RunID {
			return res, p.resumeCommittedShards(ctx, log, c, cob, spec, tbl, ice, stager, res)
		}
	}
	var stage relational.ShardStage
	if coordinator && stager != nil {
		var left []string
		if stage, left, err = stager.CreateShardStage(ctx, c, pub); err != nil {
			return res, err
		}
		if len(left) > 0 {
			log.Warn("dropped staging tables left by dead runs", "tables", left)
		}
		if stage.Resumed {
			log.Warn("resuming the run: its staging table exists (a restarted coordinator)", "key_built", stage.Finished)
		}
	}

	// 1-2. this worker's share: validation, data files, COPY. Only its own files are downloaded
	// and checksummed; of the others it reads the key columns (ranged GETs on S3).
	opts := p.Input
	opts.Foreign = func(j int) bool { return !source.ShardOwns(j, spec.Index, spec.Count) }
	in, err := source.Open(ctx, opts, c.Name, cob)
	if err != nil {
		return res, inputErr(err)
	}
	defer in.Close()
	res.InputFiles, res.InputBytes = len(in.Files), in.Bytes()
	own, owns, err := in.Shard(spec.Index, spec.Count)
	if err != nil {
		return res, err
	}
	mine := ShardResult{Index: spec.Index, Count: spec.Count, RunID: spec.RunID, Listing: in.Listing(), Checksums: in.Checksums(), StartedAt: start.UTC().Format(time.RFC3339)}
	rep, err := validate.Validate(ctx, c, in, validate.Options{BatchRows: p.BatchRows, Shard: validate.Shard{Index: spec.Index, Count: spec.Count, Owns: owns}})
	if err != nil {
		return res, fmt.Errorf("validate: %w", err)
	}
	mine.Rows, mine.Digest, mine.KeysTracked, mine.Violations = rep.Rows, rep.Digest, rep.KeysTracked, rep.Violations
	if rep.Passed() {
		switch {
		case stager != nil && stage.Finished:
			mine.Copied = rep.Rows // a restarted coordinator whose staging table is keyed: every row is in
		case stager != nil:
			rdr := own.Records(ctx, c, p.BatchRows)
			n, err := stager.CopyShard(ctx, c, pub, spec.Index, rdr, spec.Wait)
			rdr.Release()
			switch {
			case relational.IsShardCopied(err):
				n = rep.Rows // a retried worker: its rows are in already
			case err != nil:
				return res, fmt.Errorf("relational staging of shard %d: %w", spec.Index, err)
			}
			mine.Copied = n
		}
		rdr := own.Records(ctx, c, p.BatchRows)
		st, err := p.Lake.WriteFiles(ctx, tbl, rdr)
		rdr.Release()
		if err != nil {
			return res, err
		}
		for _, f := range st.Files {
			mine.Files = append(mine.Files, f.FilePath())
		}
		mine.FileRows = st.Rows
	}
	data, err := json.Marshal(mine)
	if err != nil {
		return res, err
	}
	if err := p.Lake.PutShardResult(ctx, tbl, cob, spec.RunID, spec.Index, data); err != nil {
		return res, err
	}
	log.Info("shard done", "rows", mine.Rows, "files", len(mine.Files), "copied", mine.Copied, "keys_tracked", mine.KeysTracked,
		"violations", len(mine.Violations), "duration", time.Since(start))
	if !coordinator {
		if !rep.Passed() {
			res.Report = rep
			return res, &ViolationError{Report: rep}
		}
		return res, nil
	}

	// 3. the coordinator: every worker's result, then one publication.
	defer func() {
		// Whatever the outcome: the results only serve this run.
		if rerr := p.Lake.RemoveShardResults(context.WithoutCancel(ctx), tbl, cob, spec.RunID, spec.Count); rerr != nil {
			log.Warn("removing the shard results failed", "error", rerr.Error())
		}
	}()
	results, err := p.waitForShards(ctx, log, tbl, cob, spec)
	if err != nil {
		return res, err
	}
	merged := &validate.Report{Dataset: c.Name, ContractVersion: c.Version, CobDate: cob.Format(source.DateLayout)}
	var digest rowhash.Digest
	var paths []string
	var copied, fileRows int64
	sums := map[string]string{}
	for _, r := range results {
		if r.Listing != mine.Listing {
			return res, fmt.Errorf("shard %d saw other input files (listing %s, shard 0 %s): the input changed during the publication", r.Index, r.Listing, mine.Listing)
		}
		for name, sum := range r.Checksums {
			sums[name] = sum
		}
		merged.Rows += r.Rows
		digest.Merge(r.Digest)
		merged.Violations = append(merged.Violations, r.Violations...)
		paths = append(paths, r.Files...)
		copied += r.Copied
		fileRows += r.FileRows
	}
	if err := in.SetChecksums(sums); err != nil {
		return res, err
	}
	res.InputSHA256 = in.Checksum()
	tblNow, err := p.Lake.Reload(ctx, c)
	if err != nil {
		return res, err
	}
	prev, _, err := p.Lake.PreviousRows(ctx, tblNow, c, cob)
	if err != nil {
		return res, err
	}
	merged.PreviousRows = prev
	merged.Violations = append(merged.Violations, validate.CheckRowCount(c, merged.Rows, prev)...)
	merged.Checksum, merged.Digest = digest.String(), digest
	res.Report = merged
	if !merged.Passed() {
		log.Error("contract violated: nothing published", "violations", len(merged.Violations))
		return res, &ViolationError{Report: merged}
	}
	if stager != nil && copied != merged.Rows {
		return res, fmt.Errorf("the shards copied %d rows into the staging table, validated %d", copied, merged.Rows)
	}
	if fileRows != merged.Rows {
		return res, fmt.Errorf("the shards' data files hold %d rows, validated %d", fileRows, merged.Rows)
	}
	return res, p.commitShards(ctx, log, c, cob, spec, in, merged, paths, base, stager, stage, res)
}

// resumeCommittedShards finishes a run whose coordinator died after its Iceberg commit (the Job
// restarted it with the same run id): the tag, the recorded state and the database swap from the
// staging table that process keyed, then the verification. Nothing is read or written again.
func (p *Publisher) resumeCommittedShards(ctx context.Context, log *slog.Logger, c *contract.Contract, cob time.Time, spec ShardSpec,
	tbl *table.Table, ice *lake.Published, stager relational.ShardStager, res *Result) error {
	defer func() {
		if rerr := p.Lake.RemoveShardResults(context.WithoutCancel(ctx), tbl, cob, spec.RunID, spec.Count); rerr != nil {
			log.Warn("removing the shard results failed", "error", rerr.Error())
		}
	}()
	rows := ice.Rows()
	res.Resumed = true
	res.InputSHA256 = ice.InputSHA256()
	res.Commit = lake.Commit{SnapshotID: ice.SnapshotID, SequenceNumber: ice.SequenceNumber, AddedRows: rows}
	res.Report = &validate.Report{Dataset: c.Name, ContractVersion: c.Version, CobDate: cob.Format(source.DateLayout), Rows: rows, Checksum: ice.ContentChecksum()}
	log.Warn("resuming the run after its Iceberg commit (a restarted coordinator)", "snapshot_id", ice.SnapshotID)
	res.Tag = lake.TagName(cob, spec.RunID)
	if err := p.Lake.Tag(ctx, c, ice.SnapshotID, res.Tag, p.TagRetention); err != nil {
		return err
	}
	pub := relational.Publication{Dataset: c.Name, CobDate: cob, RunID: spec.RunID, InputSHA256: ice.InputSHA256(), ContentChecksum: ice.ContentChecksum(),
		Rows: rows, SnapshotID: ice.SnapshotID, SnapshotSeq: ice.SequenceNumber}
	store, _ := p.DB.(relational.StateStore)
	if store != nil {
		rec, err := store.State(ctx, c.Name, cob)
		if err != nil {
			return err
		}
		if rec != nil && rec.State == relational.StatePublished && rec.SnapshotID == ice.SnapshotID {
			res.AlreadyPublished = true
			return p.verify(ctx, log, c, cob, res, rows)
		}
		if err := store.SetState(ctx, relational.PublicationState{Dataset: c.Name, CobDate: cob, State: relational.StateIcebergCommitted, RunID: pub.RunID,
			InputSHA256: pub.InputSHA256, ContentChecksum: pub.ContentChecksum, Rows: rows, SnapshotID: pub.SnapshotID, SnapshotSeq: pub.SnapshotSeq}); err != nil {
			return err
		}
	}
	if stager != nil {
		staged, err := stager.ResumeShardStage(ctx, c, pub)
		if err != nil {
			return err
		}
		if staged.Rows() != rows {
			_ = staged.Abort(context.WithoutCancel(ctx))
			return fmt.Errorf("the staging table holds %d rows, the Iceberg snapshot %d: publish again with a new run id", staged.Rows(), rows)
		}
		load, err := staged.Swap(ctx, pub)
		var stale *relational.StaleSnapshotError
		if errors.As(err, &stale) {
			return &ConflictError{Err: err}
		}
		if err != nil {
			return fmt.Errorf("relational load: %w", err)
		}
		res.Load = &load
		if err := p.at(ctx, PointPublished); err != nil {
			return err
		}
	}
	if err := p.verify(ctx, log, c, cob, res, rows); err != nil {
		return err
	}
	log.Info("published", "rows", rows, "snapshot_id", ice.SnapshotID, "shards", spec.Count, "resumed", true)
	return nil
}

// waitForShards polls the workers' results until all are there, or fails naming the missing ones.
func (p *Publisher) waitForShards(ctx context.Context, log *slog.Logger, tbl *table.Table, cob time.Time, spec ShardSpec) ([]ShardResult, error) {
	deadline := time.Now().Add(spec.Wait)
	results := make([]ShardResult, spec.Count)
	have := make([]bool, spec.Count)
	for {
		var missing []int
		for i := 0; i < spec.Count; i++ {
			if have[i] {
				continue
			}
			data, ok, err := p.Lake.ShardResult(ctx, tbl, cob, spec.RunID, i)
			if err != nil {
				return nil, err
			}
			if !ok {
				missing = append(missing, i)
				continue
			}
			if err := json.Unmarshal(data, &results[i]); err != nil {
				return nil, fmt.Errorf("result of shard %d: %w", i, err)
			}
			if r := results[i]; r.Index != i || r.Count != spec.Count || r.RunID != spec.RunID {
				return nil, fmt.Errorf("result of shard %d is shard %d of %d of run %s", i, r.Index, r.Count, r.RunID)
			}
			have[i] = true
		}
		if len(missing) == 0 {
			return results, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("shards %v of %d did not report within %v: nothing published", missing, spec.Count, spec.Wait)
		}
		log.Debug("waiting for shards", "missing", missing)
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(spec.Poll):
		}
	}
}

// commitShards is the coordinator's publication of the merged shards: pending, key build, one
// Iceberg commit of every worker's files, tag, iceberg-committed, swap, verification.
func (p *Publisher) commitShards(ctx context.Context, log *slog.Logger, c *contract.Contract, cob time.Time, spec ShardSpec, in *source.Input,
	rep *validate.Report, paths []string, base *int64, stager relational.ShardStager, stage relational.ShardStage, res *Result) (err error) {
	store, _ := p.DB.(relational.StateStore)
	pub := relational.Publication{Dataset: c.Name, CobDate: cob, RunID: spec.RunID, InputSHA256: in.Checksum(), ContentChecksum: rep.Checksum, Rows: rep.Rows}
	state := func(s relational.State, cm lake.Commit) error {
		if store == nil {
			return nil
		}
		return store.SetState(ctx, relational.PublicationState{Dataset: c.Name, CobDate: cob, State: s, RunID: pub.RunID,
			InputSHA256: pub.InputSHA256, ContentChecksum: pub.ContentChecksum, Rows: pub.Rows, SnapshotID: cm.SnapshotID, SnapshotSeq: cm.SequenceNumber})
	}
	if err := state(relational.StatePending, lake.Commit{}); err != nil {
		return err
	}
	if err := p.at(ctx, PointPending); err != nil {
		return err
	}
	var staged relational.StagedLoad
	if stager != nil {
		if stage.Finished {
			staged, err = stager.ResumeShardStage(ctx, c, pub)
			if err == nil && staged.Rows() != rep.Rows {
				err = fmt.Errorf("staging table holds %d rows, the shards validated %d", staged.Rows(), rep.Rows)
			}
		} else {
			staged, err = stager.FinishShardStage(ctx, c, pub, spec.Count, rep.Rows)
		}
		if err != nil {
			return fmt.Errorf("relational staging: %w", err)
		}
		defer func() {
			if err != nil {
				if aerr := staged.Abort(context.WithoutCancel(ctx)); aerr != nil {
					log.Warn("dropping the staging table failed", "error", aerr.Error())
				}
			}
		}()
		if err := p.at(ctx, PointStaged); err != nil {
			return err
		}
	}
	tbl, err := p.Lake.Reload(ctx, c)
	if err != nil {
		return err
	}
	st, err := p.Lake.StagedFromPaths(ctx, tbl, paths, base)
	if err != nil {
		return err
	}
	if st.Rows != rep.Rows {
		return fmt.Errorf("iceberg data files hold %d rows, input has %d", st.Rows, rep.Rows)
	}
	summary := map[string]string{
		lake.SummaryRunID:           spec.RunID,
		lake.SummaryCobDate:         cob.Format(source.DateLayout),
		lake.SummaryInputChecksum:   in.Checksum(),
		lake.SummaryInputFiles:      fmt.Sprint(len(in.Files)),
		lake.SummaryInputChecksums:  in.FileChecksums(16 << 10),
		lake.SummaryContentChecksum: rep.Checksum,
		lake.SummaryContract:        fmt.Sprintf("%s/v%d", c.Name, c.Version),
		lake.SummaryRows:            fmt.Sprint(rep.Rows),
		"lakeport.shards":           fmt.Sprint(spec.Count),
	}
	_, commit, err := p.Lake.Commit(ctx, c, cob, st, summary, p.Commit)
	var ce *lake.ConflictError
	if errors.As(err, &ce) {
		return &ConflictError{Err: err}
	}
	if err != nil {
		return err
	}
	res.Commit = commit
	log.Info("iceberg partition replaced by the shards' files", "snapshot_id", commit.SnapshotID, "added_files", commit.AddedFiles, "added_rows", commit.AddedRows)
	if err := p.at(ctx, PointIcebergCommit); err != nil {
		return err
	}
	res.Tag = lake.TagName(cob, spec.RunID)
	if err := p.Lake.Tag(ctx, c, commit.SnapshotID, res.Tag, p.TagRetention); err != nil {
		return err
	}
	if err := state(relational.StateIcebergCommitted, commit); err != nil {
		return err
	}
	if err := p.at(ctx, PointIcebergCommitted); err != nil {
		return err
	}
	if staged != nil {
		pub.SnapshotID, pub.SnapshotSeq = commit.SnapshotID, commit.SequenceNumber
		load, err := staged.Swap(ctx, pub)
		var stale *relational.StaleSnapshotError
		if errors.As(err, &stale) {
			return &ConflictError{Err: err}
		}
		if err != nil {
			return fmt.Errorf("relational load: %w", err)
		}
		res.Load = &load
		if err := p.at(ctx, PointPublished); err != nil {
			return err
		}
	}
	if err := p.verify(ctx, log, c, cob, res, rep.Rows); err != nil {
		return err
	}
	log.Info("published", "rows", rep.Rows, "snapshot_id", commit.SnapshotID, "shards", spec.Count)
	return nil
}

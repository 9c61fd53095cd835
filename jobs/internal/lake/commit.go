package lake

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeport/lakeport/jobs/internal/contract"
)

// Staged is a publication's data files, written once and not yet part of any snapshot.
type Staged struct {
	Files []iceberg.DataFile
	Rows  int64
	Bytes int64
	// BaseSnapshotID is the table's current snapshot when the files were written (nil: empty
	// table): a commit of this date by anyone else after it is a conflict.
	BaseSnapshotID *int64
	Duration       time.Duration
}

// WriteFiles writes the records of rdr as the table's Parquet data files (iceberg-go's
// table.WriteRecords: the table's schema, partition spec, target file size and codec) and commits
// nothing. Files of a publication that never commits are orphans for remove_orphan_files.
func (l *Lake) WriteFiles(ctx context.Context, tbl *table.Table, rdr array.RecordReader) (*Staged, error) {
	start := time.Now()
	ctx = l.ctx(ctx)
	st := &Staged{}
	if snap := tbl.CurrentSnapshot(); snap != nil {
		id := snap.SnapshotID
		st.BaseSnapshotID = &id
	}
	records := iter.Seq2[arrow.RecordBatch, error](func(yield func(arrow.RecordBatch, error) bool) {
		for rdr.Next() {
			rec := rdr.RecordBatch()
			rec.Retain() // WriteRecords releases what it consumes; the reader releases its own
			if !yield(rec, nil) {
				return
			}
		}
		if err := rdr.Err(); err != nil {
			yield(nil, err)
		}
	})
	for df, err := range table.WriteRecords(ctx, tbl, rdr.Schema(), records, writeOptions()...) {
		if err != nil {
			return nil, fmt.Errorf("write data files of %s: %w", strings.Join(tbl.Identifier(), "."), err)
		}
		st.Files = append(st.Files, df)
		st.Rows += df.Count()
		st.Bytes += df.FileSizeBytes()
	}
	st.Duration = time.Since(start)
	return st, nil
}

// WriteBufferBatches is how many record batches the Iceberg writer may hold ahead of its Parquet
// encoder. iceberg-go v0.7.0 buffers 64 by default (table/write_records.go,
// WithRecordBatchBufferSize): the input decodes faster than zstd Parquet encodes, so the buffer
// fills, and 64 batches of 64K rows are 4M rows, a whole day at the benchmark's size, in memory
// (make bench-jobs measured 1177 MiB per worker for 4M rows). Measured on 1M rows: with 1 buffered
// batch and 1 fanout worker the heap peaked at 309 MB during the write, with 4 and 2 at 342 MB,
// and the write took no longer.
const WriteBufferBatches = 1

// WriteWorkers is the number of iceberg-go fanout workers routing batches to partition writers
// (v0.7.0 default 5, config.EnvConfig.MaxWorkers): a publication writes one partition, so more
// workers only hold more batches.
const WriteWorkers = 1

func writeOptions() []table.WriteRecordOption {
	return []table.WriteRecordOption{table.WithRecordBatchBufferSize(WriteBufferBatches), table.WithMaxWriteWorkers(WriteWorkers)}
}

// ConflictError says that another publication committed the same date after this one wrote its
// files: the other one won, this one must not overwrite it. It is final: retrying would replace
// the winner's run with the loser's.
type ConflictError struct {
	Table   string
	CobDate time.Time
	// SnapshotID and RunID name the winner's commit.
	SnapshotID int64
	RunID      string
	Err        error
}

func (e *ConflictError) Error() string {
	s := fmt.Sprintf("%s %s was published by another run meanwhile (snapshot %d", e.Table, e.CobDate.Format(time.DateOnly), e.SnapshotID)
	if e.RunID != "" {
		s += ", run " + e.RunID
	}
	s += "): this run lost and committed nothing"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ConflictError) Unwrap() error { return e.Err }

// CommitOptions tune the metadata commit's retries.
type CommitOptions struct {
	// Attempts bounds the commits tried when other writers (other dates) win the race (default 8).
	Attempts int
	// MinWait and MaxWait bound the exponential backoff with jitter between attempts (default
	// 100 ms and 5 s).
	MinWait, MaxWait time.Duration
	// BeforeCommit, when set, runs after the staged snapshot was checked and before the catalog
	// commit of every attempt (tests race it).
	BeforeCommit func(ctx context.Context, attempt int) error
}

func (o CommitOptions) withDefaults() CommitOptions {
	if o.Attempts <= 0 {
		o.Attempts = 8
	}
	if o.MinWait <= 0 {
		o.MinWait = 100 * time.Millisecond
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 5 * time.Second
	}
	return o
}

func (o CommitOptions) backoff(attempt int) time.Duration {
	d := o.MinWait << min(attempt-1, 16)
	if d > o.MaxWait || d <= 0 {
		d = o.MaxWait
	}
	return d/2 + rand.N(d/2+1) // jitter: racing writers do not retry in step
}

// Commit makes the staged files the whole content of the cob partition in one snapshot whose
// summary carries summary. Only the metadata commit is retried: when another writer (a backfill
// of another date, a compaction) committed first, the table is reloaded, the partition's current
// files are listed again and the same data files are committed on top, after a backoff. A commit
// of the same date by another publication since the files were written is a *ConflictError.
// Before each catalog commit the staged snapshot's counts are checked against the files.
func (l *Lake) Commit(ctx context.Context, c *contract.Contract, cob time.Time, st *Staged, summary map[string]string, opts CommitOptions) (*table.Table, Commit, error) {
	start := time.Now()
	opts = opts.withDefaults()
	ctx = l.ctx(ctx)
	name := l.cfg.Namespace + "." + c.Table
	props := iceberg.Properties{}
	for k, v := range summary {
		props[k] = v
	}
	runID := summary[SummaryRunID]
	var lastErr error
	for attempt := 1; attempt <= opts.Attempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return nil, Commit{}, errors.Join(ctx.Err(), lastErr)
			case <-time.After(opts.backoff(attempt - 1)):
			}
		}
		tbl, err := l.Reload(ctx, c)
		if err != nil {
			return nil, Commit{}, fmt.Errorf("reload %s: %w", name, err)
		}
		// Did anyone else publish this date since the files were written? (An unknown-state
		// failure of our own previous attempt may also have committed: that is success.)
		if snap, err := l.concurrentWrite(ctx, tbl, c, cob, st.BaseSnapshotID); err != nil {
			return nil, Commit{}, err
		} else if snap != nil {
			if runID != "" && snap.Summary != nil && snap.Summary.Properties[SummaryRunID] == runID {
				return tbl, commitOf(tbl, snap, start), nil
			}
			ce := &ConflictError{Table: name, CobDate: cob, SnapshotID: snap.SnapshotID, Err: lastErr}
			if snap.Summary != nil {
				ce.RunID = snap.Summary.Properties[SummaryRunID]
			}
			return nil, Commit{}, ce
		}
		old, err := l.partitionFiles(ctx, tbl, c, cob)
		if err != nil {
			return nil, Commit{}, err
		}
		tx := withoutCatalogRetries(tbl, l).NewTransaction()
		if err := tx.ReplaceDataFilesWithDataFiles(ctx, old, st.Files, props); err != nil {
			return nil, Commit{}, fmt.Errorf("stage replacement of %s partition %s: %w", name, cob.Format(time.DateOnly), err)
		}
		if err := checkStaged(tx, st, old); err != nil {
			return nil, Commit{}, fmt.Errorf("%s partition %s: %w", name, cob.Format(time.DateOnly), err)
		}
		if opts.BeforeCommit != nil {
			if err := opts.BeforeCommit(ctx, attempt); err != nil {
				return nil, Commit{}, err
			}
		}
		out, err := tx.Commit(ctx)
		if err == nil {
			return out, commitOf(out, out.CurrentSnapshot(), start), nil
		}
		lastErr = err
		if errors.Is(err, table.ErrConflictingDataFiles) || errors.Is(err, table.ErrConflictingDeleteFiles) || errors.Is(err, table.ErrDataFilesMissing) {
			// iceberg-go's own validation saw a write into the filter region: the next attempt's
			// concurrentWrite tells whether it was this date (final) or a compaction.
			continue
		}
		if LostRace(err) {
			continue
		}
		// Unknown state: the catalog may have taken the commit. The next attempt's reload tells:
		// our run id in a snapshot after the base means it did.
		if attempt < opts.Attempts {
			continue
		}
		return nil, Commit{}, fmt.Errorf("commit %s: %w", name, err)
	}
	return nil, Commit{}, fmt.Errorf("commit %s: gave up after %d attempts: %w", name, opts.Attempts, lastErr)
}

// LostRace reports whether a failed catalog commit lost a race with another writer and committed
// nothing. iceberg-go v0.7.0: the REST catalog maps 409 to table.ErrCommitFailed; the SQL catalog
// wraps its compare-and-swap miss in ErrCommitFailed (catalog/sql/sql.go, "metadata-location moved
// underneath us") but reports a requirement checked against the reloaded metadata as a plain
// error (catalog/internal/utils.go UpdateAndStageTable -> table/requirements.go, "requirement
// failed: branch main has changed").
func LostRace(err error) bool {
	if errors.Is(err, table.ErrCommitFailed) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "requirement failed:") && strings.Contains(msg, "has changed")
}

// withoutCatalogRetries returns tbl with commit.retry.num-retries = 0 in its in-memory metadata:
// iceberg-go's own replay after a lost race validates an overwrite without a row filter against
// every concurrent append (any date) and reports ErrConflictingDataFiles; Commit retries instead,
// knowing the partition. The table's stored properties are not changed (other writers, Trino,
// keep their retries).
func withoutCatalogRetries(tbl *table.Table, l *Lake) *table.Table {
	b, err := table.MetadataBuilderFromBase(tbl.Metadata(), tbl.MetadataLocation())
	if err != nil {
		return tbl
	}
	if err := b.SetProperties(iceberg.Properties{table.CommitNumRetriesKey: "0"}); err != nil {
		return tbl
	}
	meta, err := b.Build()
	if err != nil {
		return tbl
	}
	return table.New(tbl.Identifier(), meta, tbl.MetadataLocation(), tbl.FS, l.cat)
}

// checkStaged compares the staged snapshot's summary with the files before anything is committed.
func checkStaged(tx *table.Transaction, st *Staged, old []iceberg.DataFile) error {
	staged, err := tx.StagedTable()
	if err != nil {
		return fmt.Errorf("staged snapshot: %w", err)
	}
	snap := staged.CurrentSnapshot()
	if snap == nil || snap.Summary == nil {
		return errors.New("staged snapshot has no summary")
	}
	p := snap.Summary.Properties
	var oldRows int64
	for _, f := range old {
		oldRows += f.Count()
	}
	var errs []error
	for _, chk := range []struct {
		key  string
		want int64
	}{
		{"added-records", st.Rows},
		{"added-data-files", int64(len(st.Files))},
		{"deleted-records", oldRows},
		{"deleted-data-files", int64(len(old))},
	} {
		if got := p.GetInt64(chk.key, 0); got != chk.want {
			errs = append(errs, fmt.Errorf("staged snapshot summary %s = %d, want %d", chk.key, got, chk.want))
		}
	}
	return errors.Join(errs...)
}

func commitOf(tbl *table.Table, snap *table.Snapshot, start time.Time) Commit {
	cm := Commit{SnapshotID: snap.SnapshotID, ParentSnapshotID: snap.ParentSnapshotID, SequenceNumber: snap.SequenceNumber,
		MetadataLocation: tbl.MetadataLocation(), Duration: time.Since(start)}
	if snap.Summary != nil {
		p := snap.Summary.Properties
		cm.AddedFiles = p.GetInt64("added-data-files", 0)
		cm.AddedRows = p.GetInt64("added-records", 0)
		cm.AddedBytes = p.GetInt64("added-files-size", 0)
		cm.DeletedFiles = p.GetInt64("deleted-data-files", 0)
		cm.DeletedRows = p.GetInt64("deleted-records", 0)
	}
	return cm
}

// partitionFiles lists the data files of the cob partition in the current snapshot.
func (l *Lake) partitionFiles(ctx context.Context, tbl *table.Table, c *contract.Contract, cob time.Time) ([]iceberg.DataFile, error) {
	if tbl.CurrentSnapshot() == nil {
		return nil, nil
	}
	tasks, err := tbl.Scan(table.WithRowFilter(iceberg.EqualTo(iceberg.Reference(c.PartitionBy), dateOf(cob)))).PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan %s partition %s: %w", strings.Join(tbl.Identifier(), "."), cob.Format(time.DateOnly), err)
	}
	out := make([]iceberg.DataFile, 0, len(tasks))
	for _, t := range tasks {
		if len(t.DeleteFiles) > 0 {
			return nil, fmt.Errorf("partition %s of %s has row-level delete files (written by an engine's DELETE/MERGE): compact them (optimize) before publishing over it",
				cob.Format(time.DateOnly), strings.Join(tbl.Identifier(), "."))
		}
		out = append(out, t.File)
	}
	return out, nil
}

// concurrentWrite returns the newest snapshot after base (on the main ancestry) that added or
// removed data files of the cob partition, other than a compaction (operation replace, which
// keeps the rows), or nil.
func (l *Lake) concurrentWrite(ctx context.Context, tbl *table.Table, c *contract.Contract, cob time.Time, base *int64) (*table.Snapshot, error) {
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	spec := tbl.Spec()
	fieldID := spec.Field(0).FieldID
	want := int32(dateOf(cob))
	for snap := tbl.CurrentSnapshot(); snap != nil; {
		if base != nil && snap.SnapshotID == *base {
			return nil, nil
		}
		if snap.Summary == nil || snap.Summary.Operation != table.OpReplace {
			mfs, err := snap.Manifests(fs)
			if err != nil {
				return nil, fmt.Errorf("manifests of snapshot %d: %w", snap.SnapshotID, err)
			}
			for _, mf := range mfs {
				if mf.SnapshotID() != snap.SnapshotID {
					continue // written by an earlier snapshot: no entry of this one
				}
				for e, err := range mf.Entries(fs, false) {
					if err != nil {
						return nil, fmt.Errorf("manifest %s: %w", mf.FilePath(), err)
					}
					if e.Status() == iceberg.EntryStatusEXISTING || e.SnapshotID() != snap.SnapshotID {
						continue
					}
					if d, ok := partitionDate(e.DataFile().Partition()[fieldID]); ok && d == want {
						return snap, nil
					}
				}
			}
		}
		if snap.ParentSnapshotID == nil {
			break
		}
		snap = tbl.SnapshotByID(*snap.ParentSnapshotID)
	}
	if base != nil {
		// The base is no longer an ancestor (expired, or the branch was rolled back): nothing
		// proves that this date was not rewritten meanwhile.
		return nil, fmt.Errorf("snapshot %d, on which this publication was planned, is no longer in the history of %s: run again",
			*base, strings.Join(tbl.Identifier(), "."))
	}
	return nil, nil
}

// Overwrite replaces the cob partition with the records of rdr: WriteFiles then Commit with the
// default options.
func (l *Lake) Overwrite(ctx context.Context, tbl *table.Table, c *contract.Contract, cob time.Time, rdr array.RecordReader, summary map[string]string) (*table.Table, Commit, error) {
	st, err := l.WriteFiles(ctx, tbl, rdr)
	if err != nil {
		return nil, Commit{}, err
	}
	return l.Commit(ctx, c, cob, st, summary, CommitOptions{})
}

// Published is the last publication of a date that the table's history shows.
type Published struct {
	SnapshotID     int64
	SequenceNumber int64
	CommittedAt    time.Time
	// Summary is the snapshot summary (run id, input and content checksums, rows).
	Summary map[string]string
}

// RunID, InputSHA256 and ContentChecksum read the summary.
func (p *Published) RunID() string           { return p.Summary[SummaryRunID] }
func (p *Published) InputSHA256() string     { return p.Summary[SummaryInputChecksum] }
func (p *Published) ContentChecksum() string { return p.Summary[SummaryContentChecksum] }

// Rows is the lakeport.rows of the summary (-1 when absent).
func (p *Published) Rows() int64 {
	n, err := strconv.ParseInt(p.Summary[SummaryRows], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// LastPublished walks the current snapshot's ancestry back to the newest snapshot a publication of
// cob committed (its summary's lakeport.cob-date), or nil. Compactions in between keep the rows it
// published.
//
// When expiry has cut the ancestry above that snapshot, the newest of the date's publication tags
// (TagName) names it: every publication is tagged, and a tag outlives snapshot expiry.
func LastPublished(tbl *table.Table, cob time.Time) *Published {
	date := cob.Format(time.DateOnly)
	published := func(snap *table.Snapshot) *Published {
		p := &Published{SnapshotID: snap.SnapshotID, SequenceNumber: snap.SequenceNumber,
			CommittedAt: time.UnixMilli(snap.TimestampMs).UTC(), Summary: map[string]string{}}
		for k, v := range snap.Summary.Properties {
			p.Summary[k] = v
		}
		return p
	}
	for snap := tbl.CurrentSnapshot(); snap != nil; {
		if snap.Summary != nil && snap.Summary.Properties[SummaryCobDate] == date {
			return published(snap)
		}
		if snap.ParentSnapshotID == nil {
			break
		}
		snap = tbl.SnapshotByID(*snap.ParentSnapshotID)
	}
	if tags := Tags(tbl, cob); len(tags) > 0 {
		if snap := tbl.SnapshotByID(tags[len(tags)-1].SnapshotID); snap != nil && snap.Summary != nil {
			return published(snap)
		}
	}
	return nil
}

package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// shardResult is where worker index of a sharded publication leaves its result: beside the
// table's data, through the table's own FileIO (S3 or local, as configured for the warehouse).
func shardResult(tbl *table.Table, cob time.Time, runID string, index int) string {
	return fmt.Sprintf("%s/_lakeport/shards/%s/%s/%d.json", strings.TrimSuffix(tbl.Location(), "/"), cob.Format(time.DateOnly), runID, index)
}

// PutShardResult writes worker index's result.
func (l *Lake) PutShardResult(ctx context.Context, tbl *table.Table, cob time.Time, runID string, index int, data []byte) error {
	fsys, err := tbl.FS(l.ctx(ctx))
	if err != nil {
		return err
	}
	w, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return fmt.Errorf("the file IO of %s cannot write", tbl.Location())
	}
	p := shardResult(tbl, cob, runID, index)
	if err := w.WriteFile(p, data); err != nil {
		return fmt.Errorf("write shard result %s: %w", p, err)
	}
	return nil
}

// ShardResult reads worker index's result; ok is false while it does not exist.
func (l *Lake) ShardResult(ctx context.Context, tbl *table.Table, cob time.Time, runID string, index int) (data []byte, ok bool, err error) {
	fsys, err := tbl.FS(l.ctx(ctx))
	if err != nil {
		return nil, false, err
	}
	p := shardResult(tbl, cob, runID, index)
	f, err := fsys.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open shard result %s: %w", p, err)
	}
	defer f.Close()
	if data, err = io.ReadAll(f); err != nil {
		return nil, false, fmt.Errorf("read shard result %s: %w", p, err)
	}
	return data, true, nil
}

// RemoveShardResults removes the results of a run's workers (after its commit, or its failure).
func (l *Lake) RemoveShardResults(ctx context.Context, tbl *table.Table, cob time.Time, runID string, count int) error {
	fsys, err := tbl.FS(l.ctx(ctx))
	if err != nil {
		return err
	}
	var errs []error
	for i := 0; i < count; i++ {
		if err := fsys.Remove(shardResult(tbl, cob, runID, i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// StagedFromPaths describes data files that other processes wrote (the workers of a sharded
// publication) as one Staged, reading each file's Parquet footer for its record count, size,
// column statistics and partition value (iceberg-go v0.7.0 table.FileToDataFile). base is the
// table's current snapshot when the publication started: a commit of the date after it is a
// conflict for Commit.
func (l *Lake) StagedFromPaths(ctx context.Context, tbl *table.Table, paths []string, base *int64) (*Staged, error) {
	start := time.Now()
	ctx = l.ctx(ctx)
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	st := &Staged{BaseSnapshotID: base}
	for _, p := range paths {
		df, err := table.FileToDataFile(ctx, fsys, p, tbl.Schema(), tbl.Spec(), 0, tbl.Properties())
		if err != nil {
			return nil, fmt.Errorf("data file %s: %w", p, err)
		}
		st.Files = append(st.Files, df)
		st.Rows += df.Count()
		st.Bytes += df.FileSizeBytes()
	}
	st.Duration = time.Since(start)
	return st, nil
}

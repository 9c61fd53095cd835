package lake

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/generate"
	"github.com/lakeport/lakeport/jobs/internal/source"
)

// commitFixture is a SQLite catalog with a local warehouse, the input of two dates and a second
// Lake on the same catalog (another writer).
type commitFixture struct {
	ctx      context.Context
	c        *contract.Contract
	in, wh   string
	l, other *Lake
	d1, d2   time.Time
}

func newCommitFixture(t *testing.T) *commitFixture {
	t.Helper()
	f := &commitFixture{ctx: context.Background(), d1: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}
	f.d2 = f.d1.AddDate(0, 0, 1)
	dir := t.TempDir()
	var err error
	if f.c, err = contract.Load("drc"); err != nil {
		t.Fatal(err)
	}
	f.in, f.wh = filepath.Join(dir, "in"), filepath.Join(dir, "wh")
	for i, d := range []time.Time{f.d1, f.d2} {
		if _, err := generate.WriteDate(f.ctx, f.in, generate.Options{Contract: f.c, CobDate: d, Rows: 2000, Files: 2, Seed: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Catalog: CatalogConfig{URI: filepath.Join(dir, "catalog.db")}, Warehouse: f.wh}
	if f.l, err = Open(f.ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if f.other, err = Open(f.ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.l.Close(); _ = f.other.Close() })
	if _, err := f.l.Table(f.ctx, f.c); err != nil {
		t.Fatal(err)
	}
	return f
}

// write writes the files of date d through l, committing nothing.
func (f *commitFixture) write(t *testing.T, l *Lake, d time.Time) *Staged {
	t.Helper()
	tbl, err := l.Reload(f.ctx, f.c)
	if err != nil {
		t.Fatal(err)
	}
	src, err := source.Open(f.ctx, source.Options{URI: f.in}, f.c.Name, d)
	if err != nil {
		t.Fatal(err)
	}
	rdr := src.Records(f.ctx, f.c, 500)
	defer rdr.Release()
	st, err := l.WriteFiles(f.ctx, tbl, rdr)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// publishOther commits date d as another writer's run.
func (f *commitFixture) publishOther(t *testing.T, d time.Time, run string) Commit {
	t.Helper()
	st := f.write(t, f.other, d)
	_, cm, err := f.other.Commit(f.ctx, f.c, d, st, map[string]string{SummaryRunID: run, SummaryCobDate: d.Format(time.DateOnly)}, CommitOptions{})
	if err != nil {
		t.Fatalf("the other writer's commit: %v", err)
	}
	return cm
}

func (f *commitFixture) dataFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(f.wh, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestLostCommitRaceRewritesNoData: another date is committed between this publication's file
// write and its commit (the race a parallel backfill runs). The commit is retried on top of the
// winner with the same data files: nothing is written twice (before: the job re-read the input and
// rewrote every data file, up to four times, with no backoff).
func TestLostCommitRaceRewritesNoData(t *testing.T) {
	f := newCommitFixture(t)
	st := f.write(t, f.l, f.d1)
	var otherFiles []string
	attempts := 0
	opts := CommitOptions{MinWait: 5 * time.Millisecond, BeforeCommit: func(_ context.Context, attempt int) error {
		attempts = attempt
		if attempt == 1 {
			before := f.dataFiles(t)
			f.publishOther(t, f.d2, "backfill-of-d2")
			otherFiles = f.dataFiles(t)[len(before):]
		}
		return nil
	}}
	// The interloper's commit happens after this attempt's table was loaded: this attempt loses.
	tbl, cm, err := f.l.Commit(f.ctx, f.c, f.d1, st, map[string]string{SummaryRunID: "mine", SummaryCobDate: "2026-03-02"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Errorf("%d commit attempts, want 2 (one lost, one won)", attempts)
	}
	if cm.AddedRows != 2000 || cm.AddedFiles != int64(len(st.Files)) {
		t.Errorf("commit %+v", cm)
	}
	if n := len(f.dataFiles(t)); n != len(st.Files)+len(otherFiles) {
		t.Errorf("%d data files in the warehouse, want %d written once + %d of the other date", n, len(st.Files), len(otherFiles))
	}
	got, err := f.l.partitionFiles(f.ctx, tbl, f.c, f.d1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, df := range st.Files {
		want[df.FilePath()] = true
	}
	for _, df := range got {
		if !want[df.FilePath()] {
			t.Errorf("committed file %s is not one of the staged files", df.FilePath())
		}
	}
	stats, err := f.l.Partitions(f.ctx, tbl, f.c, nil)
	if err != nil || len(stats) != 2 || stats[0].Rows != 2000 || stats[1].Rows != 2000 {
		t.Fatalf("partitions %+v %v", stats, err)
	}
	if p := LastPublished(tbl, f.d1); p == nil || p.RunID() != "mine" || p.SnapshotID != cm.SnapshotID {
		t.Errorf("last publication of d1: %+v", p)
	}
}

// TestSameDateCommittedMeanwhileIsFinal: another run commits the same date between this run's
// file write and its commit. This run must lose (a *ConflictError naming the winner) and leave
// the winner's snapshot current (before: the conflict was retried, overwriting the winner).
func TestSameDateCommittedMeanwhileIsFinal(t *testing.T) {
	f := newCommitFixture(t)
	st := f.write(t, f.l, f.d1)
	var winner Commit
	opts := CommitOptions{MinWait: 5 * time.Millisecond, BeforeCommit: func(_ context.Context, attempt int) error {
		if attempt == 1 {
			winner = f.publishOther(t, f.d1, "winner")
		}
		return nil
	}}
	_, _, err := f.l.Commit(f.ctx, f.c, f.d1, st, map[string]string{SummaryRunID: "loser", SummaryCobDate: "2026-03-02"}, opts)
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.RunID != "winner" || ce.SnapshotID != winner.SnapshotID {
		t.Fatalf("err = %v, want a conflict naming run winner (snapshot %d)", err, winner.SnapshotID)
	}
	tbl, err := f.l.Reload(f.ctx, f.c)
	if err != nil {
		t.Fatal(err)
	}
	if cur := tbl.CurrentSnapshot(); cur.SnapshotID != winner.SnapshotID {
		t.Fatalf("current snapshot %d, want the winner's %d", cur.SnapshotID, winner.SnapshotID)
	}
}

// TestLostRace classifies the errors iceberg-go v0.7.0 returns for a lost commit.
func TestLostRace(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errors.New("requirement failed: branch \"main\" has changed: expected id 1, found 2"), true},
		{errors.New("requirement failed: current table metadata does not exist"), false},
		{errors.New("connection reset by peer"), false},
	} {
		if got := LostRace(tc.err); got != tc.want {
			t.Errorf("LostRace(%q) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

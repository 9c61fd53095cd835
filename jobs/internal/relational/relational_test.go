package relational

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/generate"
	"github.com/lakeport/lakeport/jobs/internal/migrate"
	"github.com/lakeport/lakeport/jobs/internal/source"
)

var cob = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func records(t *testing.T, dataset string, rows int, seed uint64) (*contract.Contract, func() array.RecordReader) {
	t.Helper()
	c, err := contract.Load(dataset)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := generate.WriteDate(context.Background(), dir, generate.Options{Contract: c, CobDate: cob, Rows: rows, Files: 2, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	in, err := source.Open(context.Background(), source.Options{URI: dir}, dataset, cob)
	if err != nil {
		t.Fatal(err)
	}
	return c, func() array.RecordReader { return in.Records(context.Background(), c, 300) }
}

func TestOpenOracleFailsCleanly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := OpenOracle(ctx, "oracle://scott:tiger@127.0.0.1:1/none")
	if err == nil || !strings.Contains(err.Error(), "connect oracle") {
		t.Fatalf("err = %v", err)
	}
}

func TestSQLiteLoadReplacesTheDate(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "risk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := migrate.Run(ctx, s.DB(), migrate.SQLite); err != nil {
		t.Fatal(err)
	}
	c, open1 := records(t, "drc", 1500, 1)
	_, open2 := records(t, "drc", 1200, 2)
	for i, open := range []func() array.RecordReader{open1, open2} {
		rdr := open()
		res, err := s.Load(ctx, c, Publication{Dataset: "drc", CobDate: cob, RunID: "r", InputSHA256: "i", ContentChecksum: "c"}, rdr)
		rdr.Release()
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 && (res.Rows != 1200 || res.Replaced != 1500) {
			t.Errorf("second load %+v", res)
		}
	}
	n, err := s.Count(ctx, c, cob)
	if err != nil || n != 1200 {
		t.Fatalf("count %d %v", n, err)
	}
	pub, err := s.Publication(ctx, "drc", cob)
	if err != nil || pub == nil || pub.Rows != 1200 || !pub.CobDate.Equal(cob) {
		t.Fatalf("publication %+v %v", pub, err)
	}
	var logged int
	if err := s.DB().QueryRow(`SELECT count(*) FROM publication_log`).Scan(&logged); err != nil || logged != 2 {
		t.Fatalf("log %d %v", logged, err)
	}
}

// The embedded default stages too: before, SQLite loaded the whole day after the Iceberg commit,
// in the window where the two stores serve different runs.
var _ Stager = (*SQLite)(nil)

// TestSQLiteStagesBeforeTheSwap: Stage leaves the date's rows as they were (a reader still sees
// the previous run) until Swap replaces them in one transaction; a stale snapshot is refused at
// the swap with the date untouched; a stage left by a dead run is dropped by DropStaging.
func TestSQLiteStagesBeforeTheSwap(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "risk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := migrate.Run(ctx, s.DB(), migrate.SQLite); err != nil {
		t.Fatal(err)
	}
	c, open1 := records(t, "drc", 1500, 1)
	_, open2 := records(t, "drc", 1200, 2)
	rdr := open1()
	if _, err := s.Load(ctx, c, Publication{Dataset: "drc", CobDate: cob, RunID: "run-1", SnapshotID: 1, SnapshotSeq: 1, InputSHA256: "i", ContentChecksum: "c"}, rdr); err != nil {
		t.Fatal(err)
	}
	rdr.Release()

	pub2 := Publication{Dataset: "drc", CobDate: cob, RunID: "run-2", SnapshotID: 2, SnapshotSeq: 2, InputSHA256: "i2", ContentChecksum: "c2"}
	rdr = open2()
	st, err := s.Stage(ctx, c, pub2, rdr)
	rdr.Release()
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(ctx, c, cob); n != 1500 || st.Rows() != 1200 {
		t.Fatalf("after staging: the date has %d rows (want run-1's 1500), %d staged", n, st.Rows())
	}
	// A dead run's stage of the same date, and another date's, which must stay.
	dead := stagingName(c, cob, "dead-run")
	other := stagingName(c, cob.AddDate(0, 0, 1), "other")
	for _, n := range []string{dead, other} {
		if _, err := s.DB().ExecContext(ctx, `CREATE TABLE "`+n+`" (x)`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Swap(ctx, Publication{Dataset: "drc", CobDate: cob, RunID: "run-0", SnapshotSeq: 0}); err == nil {
		t.Fatal("a snapshot older than the recorded one must be refused")
	} else if _, ok := err.(*StaleSnapshotError); !ok {
		t.Fatalf("err = %v, want *StaleSnapshotError", err)
	}
	if n, _ := s.Count(ctx, c, cob); n != 1500 {
		t.Fatalf("a refused swap changed the date: %d rows", n)
	}
	res, err := st.Swap(ctx, pub2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 1200 || res.Replaced != 1500 {
		t.Errorf("swap %+v", res)
	}
	if n, _ := s.Count(ctx, c, cob); n != 1200 {
		t.Errorf("after the swap: %d rows", n)
	}
	if ps, err := s.State(ctx, "drc", cob); err != nil || ps == nil || ps.State != StatePublished || ps.RunID != "run-2" {
		t.Errorf("state %+v %v", ps, err)
	}
	left, err := s.DropStaging(ctx, c, cob)
	if err != nil || len(left) != 1 || left[0] != dead {
		t.Fatalf("DropStaging dropped %v (%v), want only %s (run-2's stage went with its swap)", left, err, dead)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = ?`, other).Scan(&n); err != nil || n != 1 {
		t.Errorf("another date's stage was dropped (%d, %v)", n, err)
	}
}

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

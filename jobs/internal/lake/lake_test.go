package lake

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/generate"
	"github.com/lakeport/lakeport/jobs/internal/readback"
	"github.com/lakeport/lakeport/jobs/internal/source"
	"github.com/lakeport/lakeport/jobs/internal/validate"
)

func TestOverwriteOnePartitionSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, err := contract.Load("var_es")
	if err != nil {
		t.Fatal(err)
	}
	d1 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 1)
	in := filepath.Join(dir, "in")
	for _, d := range []time.Time{d1, d2} {
		if _, err := generate.WriteDate(ctx, in, generate.Options{Contract: c, CobDate: d, Rows: 3000, Files: 2, Seed: 1}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := Open(ctx, Config{Catalog: CatalogConfig{URI: filepath.Join(dir, "catalog.db")}, Warehouse: filepath.Join(dir, "wh")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tbl, err := l.Table(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(d time.Time, run string) Commit {
		t.Helper()
		src, err := source.Open(ctx, source.Options{URI: in}, c.Name, d)
		if err != nil {
			t.Fatal(err)
		}
		rdr := src.Records(ctx, c, 1000)
		defer rdr.Release()
		var cm Commit
		tbl, cm, err = l.Overwrite(ctx, tbl, c, d, rdr, map[string]string{SummaryRunID: run})
		if err != nil {
			t.Fatal(err)
		}
		return cm
	}
	c1 := publish(d1, "r1")
	if c1.AddedRows != 3000 || c1.DeletedRows != 0 {
		t.Errorf("first commit %+v", c1)
	}
	c2 := publish(d2, "r2")
	c3 := publish(d1, "r3")
	if c3.AddedRows != 3000 || c3.DeletedRows != 3000 || *c3.ParentSnapshotID != c2.SnapshotID {
		t.Errorf("re-publish commit %+v (parent should be %d)", c3, c2.SnapshotID)
	}
	stats, err := l.Partitions(ctx, tbl, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 2 || stats[0].Rows != 3000 || stats[1].Rows != 3000 || !stats[0].CobDate.Equal(d1) {
		t.Errorf("partitions %+v", stats)
	}
	if n := len(tbl.Metadata().Snapshots()); n != 3 {
		t.Errorf("%d snapshots, want 3", n)
	}
	if got := tbl.CurrentSnapshot().Summary.Properties[SummaryRunID]; got != "r3" {
		t.Errorf("run id in summary %q", got)
	}
	prev, prevDate, err := l.PreviousRows(ctx, tbl, c, d2)
	if err != nil || prev == nil || *prev != 3000 || !prevDate.Equal(d1) {
		t.Errorf("previous rows %v %v %v", prev, prevDate, err)
	}
}

func TestReadBackWithAnotherParquetLibrary(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, name := range contract.Names() {
		c, _ := contract.Load(name)
		d := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		in := filepath.Join(dir, "in")
		if _, err := generate.WriteDate(ctx, in, generate.Options{Contract: c, CobDate: d, Rows: 2500, Files: 3, Seed: 9}); err != nil {
			t.Fatal(err)
		}
		l, err := Open(ctx, Config{Catalog: CatalogConfig{URI: filepath.Join(dir, "catalog.db")}, Warehouse: filepath.Join(dir, "wh")})
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := l.Table(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		src, err := source.Open(ctx, source.Options{URI: in}, c.Name, d)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := validate.Validate(ctx, c, src, validate.Options{})
		if err != nil || !rep.Passed() {
			t.Fatalf("validate: %v %+v", err, rep)
		}
		rdr := src.Records(ctx, c, 700)
		tbl, _, err = l.Overwrite(ctx, tbl, c, d, rdr, nil)
		rdr.Release()
		if err != nil {
			t.Fatal(err)
		}
		got, err := readback.Read(ctx, readback.Store{}, tbl.MetadataLocation(), c)
		if err != nil {
			t.Fatal(err)
		}
		if dg := got.Digests["2026-03-02"]; dg.String() != rep.Checksum {
			t.Errorf("%s: read back %s, input %s", name, dg, rep.Checksum)
		}
		_ = l.Close()
	}
}

// No REST catalog server runs here: this checks the wiring — the configured endpoint is asked for
// its /v1/config with the configured credential, and a failure names the endpoint.
func TestRESTCatalogWiring(t *testing.T) {
	var gotPath, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gotPath == "" {
			gotPath, gotAuth = r.URL.Path, r.Header.Get("Authorization")
		}
		http.Error(w, `{"error":{"message":"catalog unavailable","type":"ServiceUnavailableException","code":503}}`, http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	_, err := Open(context.Background(), Config{
		Catalog:   CatalogConfig{Type: "rest", URI: srv.URL, Properties: map[string]string{"token": "s3cr3t"}},
		Warehouse: "s3://lakehouse/warehouse",
	})
	if err == nil || !strings.Contains(err.Error(), "rest catalog "+srv.URL) {
		t.Fatalf("err = %v", err)
	}
	if gotPath != "/v1/config" || gotAuth != "Bearer s3cr3t" {
		t.Errorf("first request %s with Authorization %q", gotPath, gotAuth)
	}
}

// failingReader stops with an error after n batches, as a crash or a lost input would.
type failingReader struct {
	array.RecordReader
	n int
}

func (f *failingReader) Next() bool {
	if f.n == 0 {
		return false
	}
	f.n--
	return f.RecordReader.Next()
}

func (f *failingReader) Err() error {
	if f.n == 0 {
		return errors.New("input lost mid-write")
	}
	return f.RecordReader.Err()
}

func TestFailedWriteLeavesThePreviousSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, _ := contract.Load("drc")
	d := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	in := filepath.Join(dir, "in")
	if _, err := generate.WriteDate(ctx, in, generate.Options{Contract: c, CobDate: d, Rows: 5000, Files: 2, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	l, err := Open(ctx, Config{Catalog: CatalogConfig{URI: filepath.Join(dir, "catalog.db")}, Warehouse: filepath.Join(dir, "wh")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tbl, err := l.Table(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	src, err := source.Open(ctx, source.Options{URI: in}, c.Name, d)
	if err != nil {
		t.Fatal(err)
	}
	rdr := src.Records(ctx, c, 500)
	tbl, first, err := l.Overwrite(ctx, tbl, c, d, rdr, nil)
	rdr.Release()
	if err != nil {
		t.Fatal(err)
	}
	bad := &failingReader{RecordReader: src.Records(ctx, c, 500), n: 3}
	_, _, err = l.Overwrite(ctx, tbl, c, d, bad, nil)
	bad.Release()
	if err == nil || !strings.Contains(err.Error(), "input lost mid-write") {
		t.Fatalf("err = %v", err)
	}
	after, err := l.Reload(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if after.CurrentSnapshot().SnapshotID != first.SnapshotID || len(after.Metadata().Snapshots()) != 1 {
		t.Fatalf("the failed write changed the table: snapshot %d, %d snapshots", after.CurrentSnapshot().SnapshotID, len(after.Metadata().Snapshots()))
	}
	stats, err := l.Partitions(ctx, after, c, nil)
	if err != nil || len(stats) != 1 || stats[0].Rows != 5000 {
		t.Fatalf("partitions %+v %v", stats, err)
	}
}

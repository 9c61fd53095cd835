package publish_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/generate"
	"github.com/lakeport/lakeport/jobs/internal/lake"
	"github.com/lakeport/lakeport/jobs/internal/publish"
	"github.com/lakeport/lakeport/jobs/internal/source"
)

// TestConcurrentBackfillConverges publishes four dates of one dataset at once (a backfill run in
// parallel) against a Postgres SQL catalog: the writers that lose a commit race write again on
// top of the winner, and every date ends up published once.
func TestConcurrentBackfillConverges(t *testing.T) {
	servers(t)
	ctx := context.Background()
	dsn := newDatabase(t)
	dir := t.TempDir()
	c := mustContract(t, "var_es")
	var days []time.Time
	for i := 0; i < 4; i++ {
		d := day1.AddDate(0, 0, i)
		days = append(days, d)
		if _, err := generate.WriteDate(ctx, filepath.Join(dir, "in"), generate.Options{Contract: c, CobDate: d, Rows: 3000, Seed: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := lake.Config{Catalog: lake.CatalogConfig{Name: "backfill", URI: dsn}, Warehouse: filepath.Join(dir, "wh")}
	// Create the table first: concurrent creation is a separate race, settled by LoadTable.
	l0, err := lake.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l0.Close()
	if _, err := l0.Table(ctx, c); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(days))
	for i, d := range days {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := lake.Open(ctx, cfg)
			if err != nil {
				errs[i] = err
				return
			}
			defer l.Close()
			p := &publish.Publisher{Lake: l, Input: source.Options{URI: filepath.Join(dir, "in")}, BatchRows: 1000, Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
			_, errs[i] = p.Publish(ctx, c, d)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s: %v", days[i].Format(time.DateOnly), err)
		}
	}
	tbl, err := l0.Reload(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := l0.Partitions(ctx, tbl, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 4 || len(tbl.Metadata().Snapshots()) != 4 {
		t.Fatalf("%d partitions, %d snapshots: %+v", len(stats), len(tbl.Metadata().Snapshots()), stats)
	}
	for _, s := range stats {
		if s.Rows != 3000 {
			t.Errorf("%s: %d rows", s.CobDate.Format(time.DateOnly), s.Rows)
		}
	}
}

// testWriter sends log lines to t.Log (shown with -v or on failure).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

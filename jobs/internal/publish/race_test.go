package publish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lakeport/lakeport/jobs/internal/app"
	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/lake"
	"github.com/lakeport/lakeport/jobs/internal/publish"
	"github.com/lakeport/lakeport/jobs/internal/relational"
	"github.com/lakeport/lakeport/jobs/internal/source"
)

// publisher is a second, independent publisher on e's stores (its own catalog and database
// connections), as another pod would be.
func (e *env) publisher(t *testing.T, runID string, locked bool) *publish.Publisher {
	t.Helper()
	l, err := lake.Open(e.ctx, lake.Config{Catalog: lake.CatalogConfig{Type: "sql", Name: e.catalog, URI: e.dsn}, Warehouse: "s3://" + e.whBkt + "/warehouse", S3: e.s3})
	if err != nil {
		t.Fatal(err)
	}
	db, err := relational.OpenPostgres(e.ctx, e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(); _ = db.Close() })
	p := &publish.Publisher{Lake: l, DB: db, BatchRows: 4096, RunID: runID,
		Input: source.Options{URI: "s3://" + e.inBkt + "/results", S3: e.s3, WorkDir: t.TempDir()}}
	if locked {
		if p.Locker, err = l.Locker(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// served is the run each store serves for a date.
func (e *env) served(t *testing.T, c *contract.Contract, cob time.Time) (iceRun, dbRun string, st *relational.PublicationState) {
	t.Helper()
	tbl, err := e.lake.Reload(e.ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if p := lake.LastPublished(tbl, cob); p != nil {
		iceRun = p.RunID()
	}
	pub, err := e.db.Publication(e.ctx, c.Name, cob)
	if err != nil {
		t.Fatal(err)
	}
	if pub != nil {
		dbRun = pub.RunID
	}
	if st, err = e.db.State(e.ctx, c.Name, cob); err != nil {
		t.Fatal(err)
	}
	return iceRun, dbRun, st
}

func (e *env) stagingTables(t *testing.T) []string {
	t.Helper()
	rows, err := e.db.Conn().Query(e.ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'risk' AND tablename ~ '_d[0-9]{8}_'`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestTwoPublishersOfOneDate starts two publishers of the same dataset and date together on the
// Postgres catalog and S3: one wins, the other exits with a conflict, and both stores hold the
// winner's run.
func TestTwoPublishersOfOneDate(t *testing.T) {
	e := newEnv(t, nil)
	c := mustContract(t, "var_es")
	e.upload(c, day1, 6000, 1)

	type outcome struct {
		run string
		res *publish.Result
		err error
	}
	race := func(t *testing.T, a, b *publish.Publisher) (winner, loser outcome) {
		t.Helper()
		var wg sync.WaitGroup
		out := make([]outcome, 2)
		start := make(chan struct{})
		for i, p := range []*publish.Publisher{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := p.Publish(e.ctx, c, day1)
				out[i] = outcome{run: p.RunID, res: res, err: err}
			}()
		}
		close(start)
		wg.Wait()
		if (out[0].err == nil) == (out[1].err == nil) {
			t.Fatalf("want exactly one winner: %v / %v", out[0].err, out[1].err)
		}
		if out[0].err != nil {
			out[0], out[1] = out[1], out[0]
		}
		var ce *publish.ConflictError
		if !errors.As(out[1].err, &ce) {
			t.Fatalf("the loser must fail with a conflict, got %v", out[1].err)
		}
		iceRun, dbRun, st := e.served(t, c, day1)
		if iceRun != out[0].run || dbRun != out[0].run || st == nil || st.State != relational.StatePublished || st.RunID != out[0].run {
			t.Fatalf("both stores must hold the winner %s: iceberg %s, database %s, state %+v", out[0].run, iceRun, dbRun, st)
		}
		s := e.state(c, day1)
		if s.icebergDigest != s.dbDigest || s.dbRows != 6000 || s.dbDistinct != 6000 || s.icebergRows != 6000 {
			t.Fatalf("stores differ: %+v", s)
		}
		if left := e.stagingTables(t); len(left) != 0 {
			t.Fatalf("staging tables left behind: %v", left)
		}
		return out[0], out[1]
	}

	t.Run("with the lock: the second publisher fails at once", func(t *testing.T) {
		_, loser := race(t, e.publisher(t, "run-a", true), e.publisher(t, "run-b", true))
		if !strings.Contains(loser.err.Error(), "var_es/2026-03-02 is in progress elsewhere") {
			t.Errorf("the loser's error should say why: %v", loser.err)
		}
		if code := exitCodeOf(loser.err); code != app.ExitConflict {
			t.Errorf("exit code %d, want %d", code, app.ExitConflict)
		}
	})

	// Without the lock (a publisher of an older version, or a lock outage), both reach the commit
	// together: the Iceberg commit race decides, the loser's commit is refused as final and
	// overwrites nothing (before: it reloaded and wrote again on top of the winner, last writer
	// wins, and the loads landed in either order).
	t.Run("without the lock: the commit race is final for the loser", func(t *testing.T) {
		e.upload(c, day1, 6000, 2) // new input, so that neither run can resume from the other
		a, b := e.publisher(t, "run-c", false), e.publisher(t, "run-d", false)
		var ready sync.WaitGroup
		ready.Add(2)
		barrier := func(_ context.Context, attempt int) error {
			if attempt == 1 {
				ready.Done()
				ready.Wait() // both staged, both wrote their files: commit together
			}
			return nil
		}
		a.Commit.BeforeCommit, b.Commit.BeforeCommit = barrier, barrier
		_, loser := race(t, a, b)
		var lc *lake.ConflictError
		if !errors.As(loser.err, &lc) {
			t.Fatalf("the loser must have lost the Iceberg commit: %v", loser.err)
		}
		t.Logf("loser: %v", loser.err)
	})
}

func exitCodeOf(err error) int {
	var ce *publish.ConflictError
	if errors.As(err, &ce) {
		return app.ExitConflict
	}
	return app.ExitError
}

// TestStaleSnapshotRefused: the database refuses to record a snapshot older than the one it
// holds, so a slow loser cannot overwrite the winner's rows.
func TestStaleSnapshotRefused(t *testing.T) {
	e := newEnv(t, nil)
	c := mustContract(t, "drc")
	e.upload(c, day1, 500, 1)
	in, err := source.Open(e.ctx, e.pub.Input, c.Name, day1)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	load := func(run string, seq int64) error {
		rdr := in.Records(e.ctx, c, 100)
		defer rdr.Release()
		_, err := e.db.Load(e.ctx, c, relational.Publication{Dataset: c.Name, CobDate: day1, RunID: run, SnapshotID: seq * 10, SnapshotSeq: seq,
			InputSHA256: in.Checksum(), ContentChecksum: "x", Rows: 500}, rdr)
		return err
	}
	if err := load("newer", 7); err != nil {
		t.Fatal(err)
	}
	err = load("older", 5)
	var stale *relational.StaleSnapshotError
	if !errors.As(err, &stale) || stale.RecordedRun != "newer" {
		t.Fatalf("err = %v, want a refusal naming run newer", err)
	}
	if pub, err := e.db.Publication(e.ctx, c.Name, day1); err != nil || pub == nil || pub.RunID != "newer" || pub.SnapshotSeq != 7 {
		t.Fatalf("database serves %+v (%v), want run newer", pub, err)
	}
	if left := e.stagingTables(t); len(left) != 0 {
		t.Fatalf("the refused load left %v", left)
	}
}

// TestCrashAtEveryRecordedState kills the publishing process (SIGKILL, from inside, at a named
// point) after each recorded state; inspect shows the divergence while it exists and a re-run
// converges with no duplicate or lost rows.
func TestCrashAtEveryRecordedState(t *testing.T) {
	points := []struct {
		point string
		// divergent: inspect must report a divergence after the crash
		divergent bool
	}{
		{publish.PointPending, true},
		{publish.PointStaged, true},
		{publish.PointIcebergCommit, true},
		{publish.PointIcebergCommitted, true},
		{publish.PointPublished, false},
	}
	for _, pt := range points {
		t.Run(pt.point, func(t *testing.T) {
			e := newEnv(t, nil)
			c := mustContract(t, "drc")
			cfg := e.configFile(t)
			e.upload(c, day1, 3000, 1)
			if code, out, errs := runCommand(t, "", "publish", "--config", cfg, "--dataset", c.Name, "--cob-date", "2026-03-02"); code != 0 {
				t.Fatalf("first publication: exit %d\n%s\n%s", code, out, errs)
			}
			e.upload(c, day1, 3300, 2) // Spark re-ran the day
			code, _, errs := runCommand(t, pt.point, "publish", "--config", cfg, "--dataset", c.Name, "--cob-date", "2026-03-02")
			if code != -int(syscall.SIGKILL) {
				t.Fatalf("the publisher was not killed at %s: exit %d\n%s", pt.point, code, errs)
			}
			view := e.inspect(t, cfg, c.Name, "2026-03-02")
			if (view.Divergence != "") != pt.divergent {
				t.Fatalf("inspect after a crash at %s: divergence %q (want divergent=%v), view %+v", pt.point, view.Divergence, pt.divergent, view)
			}
			t.Logf("inspect after a crash at %s: state %s, divergence %q", pt.point, view.State, view.Divergence)
			if code, out, errs := runCommand(t, "", "publish", "--config", cfg, "--dataset", c.Name, "--cob-date", "2026-03-02"); code != 0 {
				t.Fatalf("re-run: exit %d\n%s\n%s", code, out, errs)
			}
			s := e.state(c, day1)
			iceRun, dbRun, st := e.served(t, c, day1)
			if s.icebergRows != 3300 || s.dbRows != 3300 || s.dbDistinct != 3300 || s.icebergDigest != s.dbDigest || s.pubChecksum != s.icebergDigest {
				t.Fatalf("not converged: %+v", s)
			}
			if iceRun != dbRun || st.State != relational.StatePublished || st.RunID != iceRun {
				t.Fatalf("stores serve different runs: iceberg %s, database %s, state %+v", iceRun, dbRun, st)
			}
			if left := e.stagingTables(t); len(left) != 0 {
				t.Fatalf("staging tables left: %v", left)
			}
			if v := e.inspect(t, cfg, c.Name, "2026-03-02"); v.Divergence != "" || v.State != "published" {
				t.Fatalf("inspect after the re-run: %+v", v)
			}
		})
	}
}

// configFile writes the distribution configuration of e's stores.
func (e *env) configFile(t *testing.T) string {
	t.Helper()
	s3 := fmt.Sprintf(`{endpoint: %q, region: %s, accessKeyId: %q, secretAccessKey: %q}`, e.s3.Endpoint, e.s3.Region, e.s3.AccessKeyID, e.s3.SecretAccessKey)
	cfg := fmt.Sprintf(`
input: {uri: "s3://%s/results", s3: %s}
iceberg:
  catalog: {type: sql, name: %s, uri: %q}
  warehouse: s3://%s/warehouse
  s3: %s
database: {driver: postgres, dsn: %q}
workDir: %s
`, e.inBkt, s3, e.catalog, e.dsn, e.whBkt, s3, e.dsn, t.TempDir())
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCommand runs the distribution command in a child process (this test binary, see TestMain);
// crashAt makes it SIGKILL itself at that point. The exit code is -signal when killed.
func runCommand(t *testing.T, crashAt string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+strings.Join(args, "\x1f"), app.CrashAtEnv+"="+crashAt)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal()), out.String(), errb.String()
		}
		return ee.ExitCode(), out.String(), errb.String()
	}
	t.Fatalf("run %v: %v", args, err)
	return 0, "", ""
}

// inspect runs `distribution inspect -o json` and returns the row of one dataset and date.
func (e *env) inspect(t *testing.T, cfg, dataset, date string) app.DatasetView {
	t.Helper()
	var out, errb bytes.Buffer
	if code := app.Main(e.ctx, []string{"inspect", "--config", cfg, "-o", "json"}, &out, &errb); code != 0 {
		t.Fatalf("inspect: exit %d\n%s", code, errb.String())
	}
	var in app.Inspection
	if err := json.Unmarshal(out.Bytes(), &in); err != nil {
		t.Fatal(err)
	}
	for _, d := range in.Datasets {
		if d.Dataset == dataset && d.CobDate == date {
			return d
		}
	}
	t.Fatalf("inspect has no %s %s: %s", dataset, date, out.String())
	return app.DatasetView{}
}

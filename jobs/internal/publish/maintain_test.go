package publish_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/app"
	"github.com/lakeport/lakeport/jobs/internal/lake"
	"github.com/lakeport/lakeport/jobs/internal/publish"
	"github.com/lakeport/lakeport/jobs/internal/readback"
)

// TestMaintenanceKeepsEveryReportedRun, on the real Postgres catalog and versitygw: every
// publication tags its snapshot run-<cob_date>-<run id> with the regulatory retention; snapshot
// expiry (the job's own, under the maintenance lock) then keeps every tagged run, read back with
// a second Parquet implementation to the same content checksum as when it was published, even
// after the date was re-published. A run tagged with a retention that has passed is expired:
// the retention is what protects a run (an untagged run, as before, went at the first expiry).
func TestMaintenanceKeepsEveryReportedRun(t *testing.T) {
	const regulatory = 10 * 365 * 24 * time.Hour
	e := newEnv(t, nil)
	c := mustContract(t, "var_es")
	locker, err := e.lake.Locker(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.pub.Locker, e.pub.TagRetention = locker, regulatory

	type run struct {
		res    *publish.Result
		digest string
	}
	publishRun := func(cob time.Time, seed uint64, retention time.Duration) run {
		t.Helper()
		e.upload(c, cob, 3000, seed)
		e.pub.TagRetention = retention
		res, err := e.pub.Publish(e.ctx, c, cob)
		if err != nil {
			t.Fatal(err)
		}
		if res.Tag != lake.TagName(cob, res.RunID) {
			t.Fatalf("tag %q, want %q", res.Tag, lake.TagName(cob, res.RunID))
		}
		return run{res: res, digest: e.state(c, cob).icebergDigest}
	}
	r1 := publishRun(day1, 1, regulatory)
	r2 := publishRun(day1, 2, regulatory) // day 1 re-published: run 1's figures were reported
	r3 := publishRun(day2, 3, regulatory)
	short := publishRun(day2, 4, time.Millisecond) // a tag whose retention passes at once
	r5 := publishRun(day2, 5, regulatory)
	time.Sleep(50 * time.Millisecond)

	mk, err := locker.TryAcquireMaintenance(e.ctx, c.Name, "maintenance-test")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.lake.Maintain(e.ctx, c, lake.MaintainOptions{TagRetention: regulatory, ExpireOlderThan: time.Millisecond,
		RetainLast: 1, OrphansOlderThan: time.Millisecond, RewriteManifests: true})
	if rerr := mk.Release(e.ctx); rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.ExpiredSnapshots, []int64{short.res.Commit.SnapshotID}) || !slices.Equal(res.ExpiredTags, []string{short.res.Tag}) {
		t.Errorf("expired snapshots %v, tags %v: want only the short-lived run %d", res.ExpiredSnapshots, res.ExpiredTags, short.res.Commit.SnapshotID)
	}
	tbl, err := e.lake.Reload(e.ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []run{r1, r2, r3, r5} {
		rb, err := readback.ReadSnapshot(e.ctx, readback.Store{S3: e.client}, tbl.MetadataLocation(), c, r.res.Commit.SnapshotID)
		if err != nil {
			t.Fatalf("run %s (tag %s) after maintenance: %v", r.res.RunID, r.res.Tag, err)
		}
		if got := rb.Digests[r.res.CobDate.Format(time.DateOnly)].String(); got != r.digest {
			t.Errorf("run %s read back %s after maintenance, %s when published", r.res.RunID, got, r.digest)
		}
	}
	// Both stores still serve the last runs, and a re-run of the current input is recognised.
	for _, d := range []time.Time{day1, day2} {
		if s := e.state(c, d); s.icebergDigest != s.dbDigest {
			t.Errorf("%s: iceberg %s, database %s", d.Format(time.DateOnly), s.icebergDigest, s.dbDigest)
		}
	}
	e.pub.TagRetention = regulatory
	again, err := e.pub.Publish(e.ctx, c, day2)
	if err != nil || !again.AlreadyPublished || again.Tag != r5.res.Tag {
		t.Fatalf("re-run after maintenance: %+v, %v: want already published by %s", again, err, r5.res.RunID)
	}
}

// TestMaintenanceAndPublishExcludeEachOther, on the real Postgres catalog: maintenance cannot start
// while a publication of the dataset runs (distribution maintain exits 6, nothing maintained), a
// publication that finds maintenance running fails at once without waiting (exit 6, nothing
// committed) or waits for it to end when allowed to.
func TestMaintenanceAndPublishExcludeEachOther(t *testing.T) {
	e := newEnv(t, nil)
	c := mustContract(t, "var_es")
	e.upload(c, day1, 2000, 1)
	cfg := e.configFile(t)
	locker, err := e.lake.Locker(e.ctx)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("no maintenance during a publication", func(t *testing.T) {
		p := e.publisher(t, "run-long", true)
		staged, resume := make(chan struct{}), make(chan struct{})
		p.Hook = func(_ context.Context, point string) error {
			if point == publish.PointStaged {
				close(staged)
				<-resume
			}
			return nil
		}
		done := make(chan error, 1)
		go func() { _, err := p.Publish(e.ctx, c, day1); done <- err }()
		<-staged
		if _, err := locker.TryAcquireMaintenance(e.ctx, c.Name, "maint"); err == nil || !strings.Contains(err.Error(), "maintenance of var_es must wait") {
			t.Errorf("maintenance during a publication: %v", err)
		}
		var out, errb bytes.Buffer
		code := app.Main(e.ctx, []string{"maintain", "--config", cfg, "--dataset", "var_es"}, &out, &errb)
		if code != app.ExitConflict || !strings.Contains(errb.String(), "lakeport-publish var_es/2026-03-02 run-long") {
			t.Errorf("distribution maintain during a publication: exit %d, want %d naming the publication\n%s", code, app.ExitConflict, errb.String())
		}
		close(resume)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("no publication during maintenance", func(t *testing.T) {
		mk, err := locker.TryAcquireMaintenance(e.ctx, c.Name, "maint")
		if err != nil {
			t.Fatal(err)
		}
		before := e.state(c, day1)
		e.upload(c, day1, 2000, 2)
		p := e.publisher(t, "run-refused", true)
		_, err = p.Publish(e.ctx, c, day1)
		var ce *publish.ConflictError
		if !errors.As(err, &ce) || exitCodeOf(err) != app.ExitConflict || !strings.Contains(err.Error(), "maintenance of var_es is running") {
			t.Fatalf("publication during maintenance: %v (exit %d)", err, exitCodeOf(err))
		}
		if after := e.state(c, day1); after.snapshotID != before.snapshotID || after.dbDigest != before.dbDigest {
			t.Fatalf("a refused publication changed the stores: %+v -> %+v", before, after)
		}
		// Allowed to wait, it publishes once maintenance is over.
		p = e.publisher(t, "run-waits", true)
		p.MaintenanceWait = 30 * time.Second
		go func() {
			time.Sleep(300 * time.Millisecond)
			_ = mk.Release(context.Background())
		}()
		start := time.Now()
		res, err := p.Publish(e.ctx, c, day1)
		if err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < 300*time.Millisecond {
			t.Errorf("published after %v, before the maintenance ended", waited)
		}
		if res.RunID != "run-waits" {
			t.Errorf("published run %s", res.RunID)
		}
	})

	t.Run("distribution maintain when nothing publishes", func(t *testing.T) {
		var out, errb bytes.Buffer
		if code := app.Main(e.ctx, []string{"maintain", "--config", cfg, "--dataset", "var_es", "--log-format", "text"}, &out, &errb); code != 0 {
			t.Fatalf("exit %d\n%s", code, errb.String())
		}
		if !strings.Contains(out.String(), "maintained var_es: 0 tagged") {
			t.Errorf("stdout: %s", out.String())
		}
	})
}

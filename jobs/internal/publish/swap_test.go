package publish_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lakeport/lakeport/jobs/internal/relational"
	"github.com/lakeport/lakeport/jobs/internal/source"
)

// TestSwapWaitsForALongReader: a report holds a lock on the parent table while the new day is
// swapped in. The swap waits at most one short lock timeout per attempt, inside a savepoint, and
// retries: other readers are never queued behind it for longer than that, the staged rows are
// not thrown away, and the swap succeeds once the report ends. With the old single 60 s wait
// (first case) every reader queued behind the swap until the report ended.
func TestSwapWaitsForALongReader(t *testing.T) {
	const report = 3 * time.Second
	cases := []struct {
		name        string
		opts        relational.SwapOptions
		maxQueueing time.Duration // how long a reader of another date may wait behind the swap
		minQueueing time.Duration
	}{
		{name: "old: one long lock timeout", opts: relational.SwapOptions{LockTimeout: 60 * time.Second, Attempts: 1}, minQueueing: report / 2},
		{name: "short lock timeout, retried", opts: relational.SwapOptions{LockTimeout: 200 * time.Millisecond, Attempts: 100, MaxWait: 300 * time.Millisecond}, maxQueueing: time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			ctx := e.ctx
			c := mustContract(t, "var_es")
			for i, d := range []time.Time{day1, day2} {
				e.upload(c, d, 2000, uint64(i+1))
				if _, err := e.pub.Publish(ctx, c, d); err != nil {
					t.Fatal(err)
				}
			}
			e.upload(c, day1, 2500, 9)
			in, err := source.Open(ctx, e.pub.Input, c.Name, day1)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			rec, err := e.db.Publication(ctx, c.Name, day1)
			if err != nil {
				t.Fatal(err)
			}
			pub := relational.Publication{Dataset: c.Name, CobDate: day1, RunID: "swap-" + fmt.Sprint(time.Now().UnixNano()), SnapshotID: rec.SnapshotID,
				SnapshotSeq: rec.SnapshotSeq + 1, InputSHA256: in.Checksum(), ContentChecksum: "c", Rows: 2500}
			rdr := in.Records(ctx, c, 500)
			staged, err := e.db.Stage(ctx, c, pub, rdr)
			rdr.Release()
			if err != nil {
				t.Fatal(err)
			}
			// The report: a transaction that read the parent table and keeps its lock.
			reader := pgConn(t, e.dsn)
			tx, err := reader.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM risk.var_es`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			reportEnds := time.AfterFunc(report, func() { _ = tx.Commit(context.Background()) })
			defer reportEnds.Stop()

			e.db.SetSwapOptions(tc.opts)
			type swapped struct {
				res relational.Result
				err error
			}
			done := make(chan swapped, 1)
			go func() {
				res, err := staged.Swap(ctx, pub)
				done <- swapped{res, err}
			}()
			// Another reader, of the other date, arrives while the swap waits.
			time.Sleep(500 * time.Millisecond)
			other := pgConn(t, e.dsn)
			t0 := time.Now()
			if err := other.QueryRow(ctx, `SELECT count(*) FROM risk.var_es WHERE cob_date = $1`, day2).Scan(&n); err != nil {
				t.Fatal(err)
			}
			queued := time.Since(t0)
			sw := <-done
			if sw.err != nil {
				t.Fatalf("swap: %v", sw.err)
			}
			t.Logf("reader of another date queued %v behind the swap; swap retries %d", queued.Round(time.Millisecond), sw.res.SwapRetries)
			if tc.maxQueueing > 0 && queued > tc.maxQueueing {
				t.Errorf("a reader waited %v behind the swap, want < %v", queued, tc.maxQueueing)
			}
			if tc.minQueueing > 0 && queued < tc.minQueueing {
				t.Errorf("with one long lock timeout the reader should have queued behind the swap (%v)", queued)
			}
			if tc.opts.Attempts > 1 && sw.res.SwapRetries == 0 {
				t.Error("the swap never timed out: the report did not hold its lock?")
			}
			if sw.res.Rows != 2500 || sw.res.Replaced != 2000 {
				t.Errorf("swap result %+v: want 2500 rows replacing the 2000 the log recorded", sw.res)
			}
			var reltuples float64
			if err := e.db.Conn().QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'risk.var_es_d20260302'::regclass`).Scan(&reltuples); err != nil {
				t.Fatal(err)
			}
			if reltuples != 2500 {
				t.Errorf("the new partition was not analyzed before it was attached: reltuples %v", reltuples)
			}
			if s := e.state(c, day1); s.dbRows != 2500 || s.dbDistinct != 2500 {
				t.Errorf("after the swap: %+v", s)
			}
		})
	}
}

func pgConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

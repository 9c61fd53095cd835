package publock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/lakeport/lakeport/hack/testenv"
	"github.com/lakeport/lakeport/jobs/internal/objstore"
	"github.com/lakeport/lakeport/jobs/internal/publock"
)

var (
	pg    *testenv.Postgres
	s3srv *testenv.S3
	pgErr error
	s3Err error
)

func TestMain(m *testing.M) {
	pg, pgErr = testenv.StartPostgres()
	s3srv, s3Err = testenv.StartS3()
	code := m.Run()
	pg.Stop()
	s3srv.Stop()
	os.Exit(code)
}

var key = publock.Key{Dataset: "var_es", CobDate: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}

// race starts n acquirers of one key at once and returns how many got it; the winners keep it.
func race(t *testing.T, l publock.Locker, k publock.Key, n int) (won []publock.Lock, busy []error) {
	t.Helper()
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			lk, err := l.TryAcquire(context.Background(), k, fmt.Sprintf("run-%d", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, lk)
			case publock.IsBusy(err):
				busy = append(busy, err)
			default:
				t.Errorf("acquirer %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return won, busy
}

// exclusive is the contract every Locker keeps: of n simultaneous acquirers exactly one wins, the
// others get a BusyError naming the key; after Release the key can be taken again; another key
// is independent.
func exclusive(t *testing.T, l publock.Locker) {
	ctx := context.Background()
	won, busy := race(t, l, key, 6)
	if len(won) != 1 || len(busy) != 5 {
		t.Fatalf("%d winners, %d busy: want 1 and 5", len(won), len(busy))
	}
	if !strings.Contains(busy[0].Error(), "var_es/2026-03-02 is in progress elsewhere") {
		t.Errorf("busy error does not name the publication: %v", busy[0])
	}
	other := publock.Key{Dataset: "var_es", CobDate: key.CobDate.AddDate(0, 0, 1)}
	lk2, err := l.TryAcquire(ctx, other, "backfill")
	if err != nil {
		t.Fatalf("another date must not be blocked: %v", err)
	}
	if err := lk2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := won[0].Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := won[0].Release(ctx); err != nil {
		t.Fatalf("second release: %v", err)
	}
	again, err := l.TryAcquire(ctx, key, "next-run")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if err := again.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// maintenanceExcludes is the dataset-wide contract: maintenance cannot start while any date of
// the dataset is being published, no publication starts while maintenance runs (its error says
// so: the publisher may wait), maintenance of another dataset is independent, and after release
// both can proceed again.
func maintenanceExcludes(t *testing.T, l publock.Locker) {
	t.Helper()
	ctx := context.Background()
	pub, err := l.TryAcquire(ctx, key, "publisher")
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.TryAcquireMaintenance(ctx, key.Dataset, "maint-1")
	if !publock.IsBusy(err) || publock.IsMaintenanceBusy(err) || !strings.Contains(err.Error(), "maintenance of var_es must wait") {
		t.Fatalf("maintenance during a publication: err = %v, want busy", err)
	}
	other, err := l.TryAcquireMaintenance(ctx, "drc", "maint-drc")
	if err != nil {
		t.Fatalf("maintenance of another dataset must not wait for var_es: %v", err)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// A second date of the same dataset publishes beside the first (shared dataset lock).
	pub2, err := l.TryAcquire(ctx, publock.Key{Dataset: key.Dataset, CobDate: key.CobDate.AddDate(0, 0, 1)}, "publisher-2")
	if err != nil {
		t.Fatalf("two dates of one dataset must publish side by side: %v", err)
	}
	if err := pub.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err = l.TryAcquireMaintenance(ctx, key.Dataset, "maint-2"); !publock.IsBusy(err) {
		t.Fatalf("maintenance while the second date publishes: err = %v, want busy", err)
	}
	if err := pub2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := l.TryAcquireMaintenance(ctx, key.Dataset, "maint-3")
	if err != nil {
		t.Fatalf("maintenance once no publication runs: %v", err)
	}
	_, err = l.TryAcquire(ctx, key, "publisher-3")
	if !publock.IsMaintenanceBusy(err) || !strings.Contains(err.Error(), "maintenance of var_es is running") {
		t.Fatalf("publication during maintenance: err = %v, want a maintenance busy error", err)
	}
	if _, err := l.TryAcquireMaintenance(ctx, key.Dataset, "maint-4"); !publock.IsBusy(err) {
		t.Fatalf("two maintenances of one dataset: err = %v, want busy", err)
	}
	if err := m.Release(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := l.TryAcquire(ctx, key, "publisher-4")
	if err != nil {
		t.Fatalf("publication after maintenance: %v", err)
	}
	if err := again.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresAdvisoryLock(t *testing.T) {
	testenv.NeedServer(t, pgErr)
	l := publock.NewPostgres(pg.DSN)
	exclusive(t, l)
	t.Run("maintenance and publications exclude each other", func(t *testing.T) { maintenanceExcludes(t, l) })

	t.Run("a killed holder's lock goes with its session", func(t *testing.T) {
		ctx := context.Background()
		lk, err := l.TryAcquire(ctx, key, "doomed")
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.TryAcquire(ctx, key, "second")
		if !publock.IsBusy(err) || !strings.Contains(err.Error(), "doomed") {
			t.Fatalf("busy error should name the holder's run: %v", err)
		}
		// Terminate the holder's backend as a pod kill would end its TCP session.
		killer, err := l.TryAcquire(ctx, publock.Key{Dataset: "killer", CobDate: key.CobDate}, "killer")
		if err != nil {
			t.Fatal(err)
		}
		defer killer.Release(ctx)
		conn, err := pgx.Connect(ctx, pg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE '%doomed'`); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			lk2, err := l.TryAcquire(ctx, key, "third")
			if err == nil {
				_ = lk2.Release(ctx)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lock still held after the holder's session ended: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = lk.Release(ctx) // its connection is gone: an error is expected and harmless
	})
}

func TestFileLock(t *testing.T) {
	exclusive(t, publock.NewFile(t.TempDir()))
	maintenanceExcludes(t, publock.NewFile(t.TempDir()))
}

func newS3Locker(t *testing.T, ttl time.Duration, now func() time.Time) *publock.S3 {
	t.Helper()
	testenv.NeedServer(t, s3Err)
	ctx := context.Background()
	cfg := objstore.S3{Endpoint: s3srv.Endpoint, Region: s3srv.Region, AccessKeyID: s3srv.AccessKey, SecretAccessKey: s3srv.SecretKey}
	cl, err := cfg.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bucket := fmt.Sprintf("locks-%d-%d", os.Getpid(), bucketSeq.Add(1))
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return &publock.S3{Client: cl, Bucket: bucket, Prefix: "warehouse/_lakeport/locks", TTL: ttl, Now: now}
}

var bucketSeq atomic.Int64

func TestS3Lease(t *testing.T) {
	exclusive(t, newS3Locker(t, time.Minute, nil))
	t.Run("maintenance and publications exclude each other", func(t *testing.T) { maintenanceExcludes(t, newS3Locker(t, time.Minute, nil)) })

	t.Run("an expired lease is taken over once, and its old holder learns it lost it", func(t *testing.T) {
		ctx := context.Background()
		// The old holder renews every second; the newcomers' clocks run an hour ahead, so to them
		// its lease has expired (as it would have if the holder's pod had been killed).
		old := newS3Locker(t, 3*time.Second, nil)
		first, err := old.TryAcquire(ctx, key, "stalled-run")
		if err != nil {
			t.Fatal(err)
		}
		l := &publock.S3{Client: old.Client, Bucket: old.Bucket, Prefix: old.Prefix, TTL: time.Minute,
			Now: func() time.Time { return time.Now().Add(time.Hour) }}
		won, busy := race(t, l, key, 4)
		if len(won) != 1 || len(busy) != 3 {
			t.Fatalf("take-over of an expired lease: %d winners, %d busy", len(won), len(busy))
		}
		select {
		case <-first.Lost():
		case <-time.After(5 * time.Second):
			t.Fatal("the old holder was not told that its lease was taken over")
		}
		if err := first.Release(ctx); err != nil {
			t.Fatalf("releasing a lost lease must not fail nor delete the new holder's: %v", err)
		}
		if _, err := old.TryAcquire(ctx, key, "late"); !publock.IsBusy(err) || !strings.Contains(err.Error(), "run-") {
			t.Fatalf("the new holder's lease must still be there: %v", err)
		}
		if err := won[0].Release(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a lease that is not JSON is reported, not overwritten", func(t *testing.T) {
		ctx := context.Background()
		l := newS3Locker(t, time.Minute, nil)
		k := publock.Key{Dataset: "drc", CobDate: key.CobDate}
		if _, err := l.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(l.Bucket), Key: aws.String("warehouse/_lakeport/locks/drc/2026-03-02.lease"), Body: strings.NewReader("junk")}); err != nil {
			t.Fatal(err)
		}
		_, err := l.TryAcquire(ctx, k, "x")
		if err == nil || publock.IsBusy(err) || !strings.Contains(err.Error(), "is not a lease") {
			t.Fatalf("err = %v", err)
		}
		var b *publock.BusyError
		if errors.As(err, &b) {
			t.Fatal("not busy")
		}
	})
}

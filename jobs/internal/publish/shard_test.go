package publish_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/publish"
	"github.com/lakeport/lakeport/jobs/internal/relational"
	"github.com/lakeport/lakeport/jobs/internal/validate"
)

// runShards runs the k workers of one sharded publication at once, each with its own catalog and
// database connections (as pods would), skipping the workers in skip; it returns the
// coordinator's result and every worker's error.
func (e *env) runShards(t *testing.T, c *contract.Contract, cob time.Time, k int, runID string, wait time.Duration, skip ...int) (*publish.Result, []error) {
	t.Helper()
	errs := make([]error, k)
	var res0 *publish.Result
	var wg sync.WaitGroup
	for i := 0; i < k; i++ {
		if contains(skip, i) {
			continue
		}
		p := e.publisher(t, runID, i == 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.PublishShard(e.ctx, c, cob, publish.ShardSpec{Index: i, Count: k, RunID: runID, Wait: wait, Poll: 50 * time.Millisecond})
			if i == 0 {
				res0 = res
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	return res0, errs
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestShardedPublishEqualsOneWorker, on the real Postgres catalog and versitygw: the same input
// published by one process and by K=4 workers (one of which owns no file: the input has three)
// gives the same Iceberg rows and checksum (read back with parquet-go), the same database rows and
// checksum, one snapshot per publication and no staging table, shard result or marker left.
func TestShardedPublishEqualsOneWorker(t *testing.T) {
	c := mustContract(t, "frtb_sensitivities")
	one, four := newEnv(t, nil), newEnv(t, nil)
	one.upload(c, day1, 9000, 5)
	four.upload(c, day1, 9000, 5)
	if _, err := one.pub.Publish(one.ctx, c, day1); err != nil {
		t.Fatal(err)
	}
	res, errs := four.runShards(t, c, day1, 4, "sharded-1", time.Minute)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	a, b := one.state(c, day1), four.state(c, day1)
	if a.icebergDigest != b.icebergDigest || a.dbDigest != b.dbDigest || b.icebergDigest != b.dbDigest || b.dbRows != 9000 || b.dbDistinct != 9000 || b.snapshots != 1 {
		t.Fatalf("K=1: %+v\nK=4: %+v", a, b)
	}
	if res.Report.Checksum != b.icebergDigest || res.Commit.AddedRows != 9000 || res.Load == nil || res.Load.Rows != 9000 {
		t.Errorf("coordinator result: checksum %s, commit %+v, load %+v", res.Report.Checksum, res.Commit, res.Load)
	}
	_, dbRun, st := four.served(t, c, day1)
	if dbRun != "sharded-1" || st == nil || st.State != relational.StatePublished {
		t.Errorf("database serves %s, state %+v", dbRun, st)
	}
	if left := four.stagingTables(t); len(left) != 0 {
		t.Errorf("staging tables or markers left: %v", left)
	}
	if n := four.objects(t, "_lakeport/shards/"); n != 0 {
		t.Errorf("%d shard results left", n)
	}
}

// TestShardedPublishFailedShardPublishesNothing: a worker that never reports (killed, or its pod
// never scheduled) makes the coordinator give up: nothing changes in either store, the recorded
// state stays the previous run's; a re-run (a new run id, every worker) converges, and its
// staging left-overs are dropped.
func TestShardedPublishFailedShardPublishesNothing(t *testing.T) {
	e := newEnv(t, nil)
	c := mustContract(t, "var_es")
	e.upload(c, day1, 4000, 1)
	if _, errs := e.runShards(t, c, day1, 2, "first", time.Minute); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	before := e.state(c, day1)
	e.upload(c, day1, 4000, 2)
	_, errs := e.runShards(t, c, day1, 3, "broken", 2*time.Second, 2)
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "shards [2] of 3 did not report") {
		t.Fatalf("coordinator without shard 2: %v", errs[0])
	}
	after := e.state(c, day1)
	if after.snapshotID != before.snapshotID || after.dbDigest != before.dbDigest || after.icebergDigest != before.icebergDigest {
		t.Fatalf("a failed sharded run changed what consumers see:\n%+v\n%+v", before, after)
	}
	if _, dbRun, _ := e.served(t, c, day1); dbRun != "first" {
		t.Errorf("database serves %s", dbRun)
	}
	if n := e.objects(t, "_lakeport/shards/"); n != 0 {
		t.Errorf("%d results of the failed run left", n)
	}
	if _, errs := e.runShards(t, c, day1, 3, "rerun", time.Minute); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	final := e.state(c, day1)
	if final.icebergDigest != final.dbDigest || final.dbRows != 4000 || final.dbDistinct != 4000 || final.icebergDigest == before.icebergDigest {
		t.Fatalf("after the re-run: %+v", final)
	}
	if left := e.stagingTables(t); len(left) != 0 {
		t.Errorf("staging tables left: %v", left)
	}
}

// TestShardedPublishCatchesAKeyRepeatedAcrossShards: a file and its copy under another name are
// owned by different workers (files j mod K); the repeated keys are still reported (by the
// workers their keys hash to) and nothing is published.
func TestShardedPublishCatchesAKeyRepeatedAcrossShards(t *testing.T) {
	e := newEnv(t, nil)
	c := mustContract(t, "drc")
	e.upload(c, day1, 3000, 1)
	prefix := fmt.Sprintf("results/%s/cob_date=%s/", c.Name, day1.Format(time.DateOnly))
	list, err := e.client.ListObjectsV2(e.ctx, &s3.ListObjectsV2Input{Bucket: aws.String(e.inBkt), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var first string
	for _, o := range list.Contents {
		if strings.HasSuffix(*o.Key, ".parquet") {
			first = *o.Key
			break
		}
	}
	obj, err := e.client.GetObject(e.ctx, &s3.GetObjectInput{Bucket: aws.String(e.inBkt), Key: aws.String(first)})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(obj.Body)
	_ = obj.Body.Close()
	// Sorted after the three generated files: index 3, owned by shard 1 of 2 (the original, index
	// 0, by shard 0).
	if _, err := e.client.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(e.inBkt), Key: aws.String(prefix + "zz-copy.parquet"), Body: strings.NewReader(string(data))}); err != nil {
		t.Fatal(err)
	}
	res, errs := e.runShards(t, c, day1, 2, "dup", time.Minute)
	var v *publish.ViolationError
	if !errors.As(errs[0], &v) {
		t.Fatalf("coordinator: %v, want a contract violation", errs[0])
	}
	var repeated int64
	for _, x := range res.Report.Violations {
		if x.Rule == validate.RuleUniqueKey {
			repeated += x.Count
		}
	}
	if repeated == 0 {
		t.Fatalf("no repeated key reported: %+v", res.Report.Violations)
	}
	s := e.state(c, day1)
	if s.snapshots != 0 || s.dbRows != 0 {
		t.Errorf("published despite the violation: %+v", s)
	}
}

// objects counts the warehouse objects under the tables' prefix whose key contains part.
func (e *env) objects(t *testing.T, part string) int {
	t.Helper()
	n := 0
	p := s3.NewListObjectsV2Paginator(e.client, &s3.ListObjectsV2Input{Bucket: aws.String(e.whBkt)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if strings.Contains(*o.Key, part) {
				n++
			}
		}
	}
	return n
}

// TestShardedCoordinatorRestartResumes: the coordinator (worker 0) is killed (SIGKILL, a child
// process) at the publication's points while worker 1 finishes; the Job restarts the pod with the
// same run id, and that run converges: both stores hold the run's rows, recorded published, no
// staging table, marker or shard result left. (Before, a restarted coordinator dropped its own
// staging table with the workers' copies and failed its Job.)
func TestShardedCoordinatorRestartResumes(t *testing.T) {
	// One point per path of the resume: stage not keyed, stage keyed, Iceberg committed (tag and
	// state still to record; iceberg-committed takes the same path further), all done.
	for _, point := range []string{publish.PointPending, publish.PointStaged, publish.PointIcebergCommit, publish.PointPublished} {
		t.Run(point, func(t *testing.T) {
			e := newEnv(t, nil)
			c := mustContract(t, "drc")
			cfg := e.configFile(t)
			e.upload(c, day1, 3000, 1)
			const run = "restarted-1"
			args := []string{"publish", "--config", cfg, "--dataset", c.Name, "--cob-date", "2026-03-02", "--run-id", run,
				"--shards", "2", "--shard-index", "0", "--shard-wait", "1m"}
			var werr error
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := e.publisher(t, run, false)
				_, werr = p.PublishShard(e.ctx, c, day1, publish.ShardSpec{Index: 1, Count: 2, RunID: run, Wait: time.Minute, Poll: 50 * time.Millisecond})
			}()
			code, _, errs := runCommand(t, point, args...)
			wg.Wait()
			if werr != nil {
				t.Fatalf("worker 1: %v", werr)
			}
			if code != -int(syscall.SIGKILL) {
				t.Fatalf("the coordinator was not killed at %s: exit %d\n%s", point, code, errs)
			}
			// The restarted pod: same arguments, same run id, worker 1 long done.
			if code, out, errs := runCommand(t, "", args...); code != 0 {
				t.Fatalf("restarted coordinator: exit %d\n%s\n%s", code, out, errs)
			}
			s := e.state(c, day1)
			iceRun, dbRun, st := e.served(t, c, day1)
			if s.icebergRows != 3000 || s.dbRows != 3000 || s.dbDistinct != 3000 || s.icebergDigest != s.dbDigest || s.snapshots != 1 {
				t.Fatalf("not converged: %+v", s)
			}
			if iceRun != run || dbRun != run || st == nil || st.State != relational.StatePublished || st.RunID != run {
				t.Fatalf("stores serve iceberg %s, database %s, state %+v", iceRun, dbRun, st)
			}
			if left := e.stagingTables(t); len(left) != 0 {
				t.Errorf("staging tables or markers left: %v", left)
			}
			if n := e.objects(t, "_lakeport/shards/"); n != 0 {
				t.Errorf("%d shard results left", n)
			}
		})
	}
}

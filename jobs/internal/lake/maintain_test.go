package lake

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
)

// rowsAt counts the rows that snapshot id of the table reads (every one of its data files must
// still exist).
func (f *commitFixture) rowsAt(t *testing.T, id int64) int64 {
	t.Helper()
	tbl, err := f.l.Reload(f.ctx, f.c)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := tbl.Scan(table.WithSnapshotID(id)).PlanFiles(f.ctx)
	if err != nil {
		t.Fatalf("plan snapshot %d: %v", id, err)
	}
	var n int64
	for _, task := range tasks {
		if _, err := os.Stat(strings.TrimPrefix(task.File.FilePath(), "file://")); err != nil {
			t.Errorf("snapshot %d reads %s: %v", id, task.File.FilePath(), err)
		}
		n += task.File.Count()
	}
	return n
}

// TestMaintainKeepsTaggedPublications: every publication's snapshot is tagged
// run-<cob_date>-<run id> with the regulatory retention; expiry, orphan removal and the manifest
// rewrite keep those snapshots and their files, and remove what no tag or recent snapshot needs.
// A publication found untagged (a run killed between commit and tag) is tagged by maintenance.
// With a retention already passed, the tag and its snapshot go: the retention, not the expiry
// window, decides how long a reported run can be reproduced (without the tag, a snapshot older
// than the window is gone at the first expiry, which is what happened before).
func TestMaintainKeepsTaggedPublications(t *testing.T) {
	const regulatory = 10 * 365 * 24 * time.Hour
	f := newCommitFixture(t)
	runA := f.publishOther(t, f.d1, "run-a")
	if err := f.l.Tag(f.ctx, f.c, runA.SnapshotID, TagName(f.d1, "run-a"), regulatory); err != nil {
		t.Fatal(err)
	}
	if err := f.l.Tag(f.ctx, f.c, runA.SnapshotID, TagName(f.d1, "run-a"), regulatory); err != nil {
		t.Fatalf("tagging twice must be a no-op: %v", err)
	}
	runB := f.publishOther(t, f.d1, "run-b") // the date re-published: run A's rows are no longer current
	// A commit by another engine (no lakeport run id): not a publication, never tagged.
	st := f.write(t, f.other, f.d2)
	_, foreign, err := f.other.Commit(f.ctx, f.c, f.d2, st, map[string]string{SummaryCobDate: f.d2.Format(time.DateOnly)}, CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runC := f.publishOther(t, f.d2, "run-c") // killed before its tag: maintenance tags it
	orphan := f.write(t, f.l, f.d2)          // data files of a publication that never committed
	if err := f.l.Tag(f.ctx, f.c, runB.SnapshotID, TagName(f.d1, "run-a"), regulatory); err == nil {
		t.Fatal("a tag name already on another snapshot must be refused")
	}
	time.Sleep(20 * time.Millisecond)

	res, err := f.l.Maintain(f.ctx, f.c, MaintainOptions{TagRetention: regulatory, ExpireOlderThan: time.Millisecond,
		RetainLast: 1, OrphansOlderThan: time.Millisecond, RewriteManifests: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{TagName(f.d1, "run-b"), TagName(f.d2, "run-c")}; !slices.Equal(sorted(res.Tagged), want) {
		t.Errorf("tagged %v, want %v", res.Tagged, want)
	}
	if !slices.Contains(res.ExpiredSnapshots, foreign.SnapshotID) {
		t.Errorf("expired %v: the untagged foreign snapshot %d should have gone", res.ExpiredSnapshots, foreign.SnapshotID)
	}
	for _, id := range []int64{runA.SnapshotID, runB.SnapshotID, runC.SnapshotID} {
		if slices.Contains(res.ExpiredSnapshots, id) {
			t.Errorf("tagged snapshot %d expired", id)
		}
	}
	if res.OrphanFiles != len(orphan.Files) {
		t.Errorf("%d orphan files removed, want the %d never-committed ones", res.OrphanFiles, len(orphan.Files))
	}
	if got := f.rowsAt(t, runA.SnapshotID); got != 2000 {
		t.Errorf("run A's snapshot reads %d rows after maintenance, want 2000", got)
	}
	tbl, err := f.l.Reload(f.ctx, f.c)
	if err != nil {
		t.Fatal(err)
	}
	tags := Tags(tbl, f.d1)
	if len(tags) != 2 || tags[0].Name != TagName(f.d1, "run-a") || tags[0].Retention != regulatory || tags[1].SnapshotID != runB.SnapshotID {
		t.Errorf("tags of %s: %+v", f.d1.Format(time.DateOnly), tags)
	}
	if p := LastPublished(tbl, f.d1); p == nil || p.RunID() != "run-b" {
		t.Errorf("last publication of d1: %+v, want run-b", p)
	}

	t.Run("a retention that has passed lets expiry remove the tag and its snapshot", func(t *testing.T) {
		d3 := f.d2.AddDate(0, 0, 1)
		runD := f.publishOther(t, f.d1, "run-d")
		if err := f.l.Tag(f.ctx, f.c, runD.SnapshotID, TagName(d3, "short"), time.Millisecond); err != nil {
			t.Fatal(err)
		}
		f.publishOther(t, f.d1, "run-e") // run D is no longer main's head
		time.Sleep(20 * time.Millisecond)
		res, err := f.l.Maintain(f.ctx, f.c, MaintainOptions{TagRetention: regulatory, ExpireOlderThan: time.Millisecond, RetainLast: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(res.ExpiredTags, TagName(d3, "short")) || !slices.Contains(res.ExpiredSnapshots, runD.SnapshotID) {
			t.Errorf("expired tags %v, snapshots %v: want the short-lived tag and snapshot %d gone", res.ExpiredTags, res.ExpiredSnapshots, runD.SnapshotID)
		}
		if slices.Contains(res.ExpiredSnapshots, runA.SnapshotID) {
			t.Error("the regulatory tag's snapshot expired")
		}
	})
}

// TestLastPublishedFromTagsAfterExpiry: once expiry has cut main's history above a date's
// publication, the date's newest tag still names it (a re-run finds its input published).
func TestLastPublishedFromTagsAfterExpiry(t *testing.T) {
	f := newCommitFixture(t)
	a := f.publishOther(t, f.d1, "run-a")
	if err := f.l.Tag(f.ctx, f.c, a.SnapshotID, TagName(f.d1, "run-a"), 0); err != nil {
		t.Fatal(err)
	}
	f.publishOther(t, f.d2, "x") // untagged here: expiry may take it
	f.publishOther(t, f.d2, "y")
	time.Sleep(10 * time.Millisecond)
	// Drop the tags' protection of ancestry: expire everything but main's head; run-a's snapshot
	// stays (tagged) but is no longer an ancestor of main.
	tbl, err := f.l.Reload(f.ctx, f.c)
	if err != nil {
		t.Fatal(err)
	}
	tx := tbl.NewTransaction()
	if err := tx.ExpireSnapshots(table.WithOlderThan(time.Millisecond), table.WithRetainLast(1)); err != nil {
		t.Fatal(err)
	}
	if tbl, err = tx.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	head := tbl.CurrentSnapshot()
	if head.ParentSnapshotID != nil && tbl.SnapshotByID(*head.ParentSnapshotID) != nil {
		t.Fatalf("the history was not cut (parent %d still there)", *head.ParentSnapshotID)
	}
	p := LastPublished(tbl, f.d1)
	if p == nil || p.SnapshotID != a.SnapshotID || p.RunID() != "run-a" {
		t.Fatalf("LastPublished(d1) = %+v, want run-a's snapshot %d from its tag", p, a.SnapshotID)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

package lake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/lakeport/lakeport/jobs/internal/contract"
)

// TagPrefix starts the name of every publication's tag: run-<cob_date>-<run id>.
const TagPrefix = "run-"

// TagName is the Iceberg tag of the snapshot that run runID committed for cob.
func TagName(cob time.Time, runID string) string {
	return TagPrefix + cob.Format(time.DateOnly) + "-" + runID
}

// Tag points the tag name at snapshotID, with max-ref-age-ms = retention: snapshot expiry keeps
// the snapshot (and every file it reads) until the snapshot is older than retention, and only
// then removes the tag (iceberg-go v0.7.0 table/transaction.go ExpireSnapshots: "refAge >
// maxRefAgeMs" removes a tag, every retained ref's snapshot is kept; Iceberg Java's
// RemoveSnapshots does the same, so Trino's expire_snapshots honours it too). A retention <= 0
// tags for ever. Tagging an already tagged snapshot is a no-op; a tag of that name on another
// snapshot is an error. Only the metadata commit is retried when another writer won the race.
func (l *Lake) Tag(ctx context.Context, c *contract.Contract, snapshotID int64, name string, retention time.Duration) error {
	ctx = l.ctx(ctx)
	opts := CommitOptions{}.withDefaults()
	var lastErr error
	for attempt := 1; attempt <= opts.Attempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return errors.Join(ctx.Err(), lastErr)
			case <-time.After(opts.backoff(attempt - 1)):
			}
		}
		tbl, err := l.Reload(ctx, c)
		if err != nil {
			return err
		}
		for ref, r := range tbl.Metadata().Refs() {
			if ref != name {
				continue
			}
			if r.SnapshotID == snapshotID {
				return nil
			}
			return fmt.Errorf("tag %s of %s points at snapshot %d, not %d", name, l.cfg.Namespace+"."+c.Table, r.SnapshotID, snapshotID)
		}
		if tbl.SnapshotByID(snapshotID) == nil {
			return fmt.Errorf("tag %s: snapshot %d is not in %s (expired?)", name, snapshotID, l.cfg.Namespace+"."+c.Table)
		}
		var maxAge int64
		if retention > 0 {
			maxAge = retention.Milliseconds()
		}
		_, _, err = l.cat.CommitTable(ctx, tbl.Identifier(),
			[]table.Requirement{table.AssertTableUUID(tbl.Metadata().TableUUID()), table.AssertRefSnapshotID(name, nil)},
			[]table.Update{table.NewSetSnapshotRefUpdate(name, snapshotID, table.TagRef, maxAge, 0, 0)})
		if err == nil {
			return nil
		}
		lastErr = err
		if LostRace(err) || strings.Contains(err.Error(), "requirement failed") {
			continue // the next reload tells whether the tag is there now
		}
		return fmt.Errorf("tag %s of %s: %w", name, l.cfg.Namespace+"."+c.Table, err)
	}
	return fmt.Errorf("tag %s of %s: gave up after %d attempts: %w", name, l.cfg.Namespace+"."+c.Table, opts.Attempts, lastErr)
}

// MaintainOptions say what Maintain does. The caller holds the dataset's maintenance lock
// (publock.Locker.TryAcquireMaintenance): no publication of the dataset runs meanwhile.
type MaintainOptions struct {
	// TagRetention is the regulatory retention given to the tags Maintain adds to publications
	// found untagged (a run killed between its commit and its tag).
	TagRetention time.Duration
	// ExpireOlderThan expires the snapshots of main older than this (0: no expiry); tagged
	// snapshots are kept until their tag's retention has passed.
	ExpireOlderThan time.Duration
	// RetainLast keeps at least this many snapshots of main whatever their age (default 1).
	RetainLast int
	// OrphansOlderThan removes files under the table's location that no snapshot reads and that
	// are older than this (0: no orphan removal). It must exceed the longest publication: the
	// data files of a publication are orphans until its commit.
	OrphansOlderThan time.Duration
	// RewriteManifests merges the manifests of main into target-sized ones.
	RewriteManifests bool
}

// MaintainResult reports what Maintain did.
type MaintainResult struct {
	Tagged           []string // tags added to untagged publications
	ExpiredSnapshots []int64
	ExpiredTags      []string // tags whose retention had passed
	OrphanFiles      int
	OrphanBytes      int64
	ManifestsBefore  int
	ManifestsAfter   int
	Duration         time.Duration
}

// Maintain is the one table maintenance of a dataset: it tags every publication of the history
// that has no tag, expires snapshots (never a tagged one before its retention), removes orphan
// files and rewrites the manifests. Run it only under the dataset's maintenance lock.
func (l *Lake) Maintain(ctx context.Context, c *contract.Contract, o MaintainOptions) (*MaintainResult, error) {
	start := time.Now()
	ctx = l.ctx(ctx)
	name := l.cfg.Namespace + "." + c.Table
	res := &MaintainResult{}
	tbl, err := l.Table(ctx, c)
	if err != nil {
		return nil, err
	}
	// 1. every publication keeps its tag
	tagged := map[int64]bool{}
	for _, r := range tbl.Metadata().Refs() {
		if r.SnapshotRefType == table.TagRef {
			tagged[r.SnapshotID] = true
		}
	}
	for _, snap := range tbl.Metadata().Snapshots() {
		if tagged[snap.SnapshotID] || snap.Summary == nil {
			continue
		}
		run, date := snap.Summary.Properties[SummaryRunID], snap.Summary.Properties[SummaryCobDate]
		cob, perr := time.Parse(time.DateOnly, date)
		if run == "" || perr != nil {
			continue
		}
		tag := TagName(cob, run)
		if err := l.Tag(ctx, c, snap.SnapshotID, tag, o.TagRetention); err != nil {
			return res, err
		}
		res.Tagged = append(res.Tagged, tag)
	}
	if tbl, err = l.Reload(ctx, c); err != nil {
		return res, err
	}
	// 2. snapshot expiry
	if o.ExpireOlderThan > 0 {
		before := snapshotsAndTags(tbl)
		tx := tbl.NewTransaction()
		if err := tx.ExpireSnapshots(table.WithOlderThan(o.ExpireOlderThan), table.WithRetainLast(max(o.RetainLast, 1))); err != nil {
			return res, fmt.Errorf("expire snapshots of %s: %w", name, err)
		}
		if tbl, err = tx.Commit(ctx); err != nil {
			return res, fmt.Errorf("expire snapshots of %s: commit: %w", name, err)
		}
		after := snapshotsAndTags(tbl)
		for id := range before.snapshots {
			if !after.snapshots[id] {
				res.ExpiredSnapshots = append(res.ExpiredSnapshots, id)
			}
		}
		for t := range before.tags {
			if !after.tags[t] {
				res.ExpiredTags = append(res.ExpiredTags, t)
			}
		}
		sort.Slice(res.ExpiredSnapshots, func(i, j int) bool { return res.ExpiredSnapshots[i] < res.ExpiredSnapshots[j] })
		sort.Strings(res.ExpiredTags)
	}
	// 3. orphan files
	if o.OrphansOlderThan > 0 {
		or, err := tbl.DeleteOrphanFiles(ctx, table.WithFilesOlderThan(o.OrphansOlderThan))
		if err != nil {
			return res, fmt.Errorf("remove orphan files of %s: %w", name, err)
		}
		res.OrphanFiles, res.OrphanBytes = len(or.OrphanFileLocations), or.TotalSizeBytes
	}
	// 4. manifests
	if o.RewriteManifests && tbl.CurrentSnapshot() != nil {
		tx := tbl.NewTransaction()
		rr, err := tx.RewriteManifests(ctx)
		if err != nil {
			return res, fmt.Errorf("rewrite manifests of %s: %w", name, err)
		}
		if !rr.IsNoOp() {
			res.ManifestsBefore, res.ManifestsAfter = len(rr.RewrittenManifests), len(rr.AddedManifests)
			if _, err := tx.Commit(ctx); err != nil {
				return res, fmt.Errorf("rewrite manifests of %s: commit: %w", name, err)
			}
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

type refState struct {
	snapshots map[int64]bool
	tags      map[string]bool
}

func snapshotsAndTags(tbl *table.Table) refState {
	st := refState{snapshots: map[int64]bool{}, tags: map[string]bool{}}
	for _, s := range tbl.Metadata().Snapshots() {
		st.snapshots[s.SnapshotID] = true
	}
	for name, r := range tbl.Metadata().Refs() {
		if r.SnapshotRefType == table.TagRef {
			st.tags[name] = true
		}
	}
	return st
}

// Tags lists the publication tags of cob (all runs), oldest snapshot first.
func Tags(tbl *table.Table, cob time.Time) []TagInfo {
	prefix := TagPrefix + cob.Format(time.DateOnly) + "-"
	var out []TagInfo
	for name, r := range tbl.Metadata().Refs() {
		if r.SnapshotRefType != table.TagRef || !strings.HasPrefix(name, prefix) {
			continue
		}
		ti := TagInfo{Name: name, SnapshotID: r.SnapshotID}
		if r.MaxRefAgeMs != nil {
			ti.Retention = time.Duration(*r.MaxRefAgeMs) * time.Millisecond
		}
		if s := tbl.SnapshotByID(r.SnapshotID); s != nil {
			ti.SequenceNumber = s.SequenceNumber
		}
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SequenceNumber < out[j].SequenceNumber })
	return out
}

// TagInfo is one publication tag.
type TagInfo struct {
	Name           string
	SnapshotID     int64
	SequenceNumber int64
	Retention      time.Duration // 0: for ever
}

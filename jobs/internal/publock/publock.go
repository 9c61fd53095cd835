// Package publock serialises the publications of one (dataset, cob_date): a publication holds its
// lock from before it reads the recorded state until after it has recorded the outcome, so two
// publishers of the same date cannot interleave their Iceberg commits and relational loads.
//
// Three implementations, chosen by where the Iceberg catalog lives:
//   - Postgres: a session-level advisory lock (pg_try_advisory_lock) on a dedicated connection in
//     the catalog's database; the server releases it when the session ends, so a killed publisher
//     cannot leave it behind.
//   - S3 (REST catalog): a lease object written with a conditional PUT (If-None-Match: *), renewed
//     with If-Match on its ETag and taken over only once expired.
//   - a file lock (flock) next to the SQLite catalog of the embedded default.
//
// Acquire never waits: a lock held by another publisher is an *BusyError, final for the caller.
//
// Table maintenance (snapshot expiry, orphan removal, manifest rewrites, compaction) touches every
// date of a dataset's table, so each Locker also keeps a dataset-wide lock: every publication holds
// it shared (TryAcquire takes it before the date's lock), maintenance holds it exclusively
// (TryAcquireMaintenance). A publication never runs beside maintenance of its dataset, and
// maintenance never starts while any date of the dataset is being published.
package publock

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"
)

// Lock is a held lock.
type Lock interface {
	// Lost is closed when the lock can no longer be guaranteed (lease not renewed, session gone):
	// the holder must stop before committing anything.
	Lost() <-chan struct{}
	// Release gives the lock up; it is safe to call more than once.
	Release(ctx context.Context) error
}

// Locker acquires publication locks.
type Locker interface {
	// TryAcquire takes the lock of key for owner (a run id) or returns a *BusyError at once.
	TryAcquire(ctx context.Context, key Key, owner string) (Lock, error)
	// TryAcquireMaintenance takes the dataset-wide lock exclusively for owner: no publication of
	// any date of the dataset runs while it is held. It returns a *BusyError at once when a
	// publication (or other maintenance) of the dataset runs.
	TryAcquireMaintenance(ctx context.Context, dataset, owner string) (Lock, error)
	Close() error
}

// Key names one publication: a dataset and a close-of-business date.
type Key struct {
	Dataset string
	CobDate time.Time
}

// String is "dataset/YYYY-MM-DD".
func (k Key) String() string { return k.Dataset + "/" + k.CobDate.Format(time.DateOnly) }

// id64 is the 64-bit advisory lock id of the key (FNV-1a over "lakeport.publish/<key>"): a
// collision between two keys would only make one wait for the other's run, never mix them.
func (k Key) id64() int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("lakeport.publish/" + k.String()))
	return int64(h.Sum64())
}

// datasetID64 is the advisory lock id of a dataset's table-wide lock.
func datasetID64(dataset string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("lakeport.table/" + dataset))
	return int64(h.Sum64())
}

// BusyError says that another publisher holds the lock.
type BusyError struct {
	Key Key
	// Holder describes the other publisher when known (run id, backend pid, lease expiry).
	Holder string
	// Maintenance: the dataset-wide lock is what is held: maintenance runs (for a publisher), or
	// a publication or other maintenance runs (for maintenance; Key.CobDate is zero then).
	Maintenance bool
}

func (e *BusyError) Error() string {
	if e.Maintenance && e.Key.CobDate.IsZero() {
		s := fmt.Sprintf("maintenance of %s must wait: a publication or another maintenance of the dataset is running", e.Key.Dataset)
		if e.Holder != "" {
			s += " (" + e.Holder + ")"
		}
		return s
	}
	if e.Maintenance {
		s := fmt.Sprintf("publication of %s must wait: maintenance of %s is running", e.Key, e.Key.Dataset)
		if e.Holder != "" {
			s += " (" + e.Holder + ")"
		}
		return s
	}
	s := fmt.Sprintf("publication of %s is in progress elsewhere", e.Key)
	if e.Holder != "" {
		s += " (" + e.Holder + ")"
	}
	return s
}

// IsBusy reports whether err is a *BusyError.
func IsBusy(err error) bool {
	var b *BusyError
	return errors.As(err, &b)
}

// IsMaintenanceBusy reports whether err is a *BusyError of a publisher that found maintenance
// running (it may wait and try again: maintenance ends, unlike a rival publication of its date).
func IsMaintenanceBusy(err error) bool {
	var b *BusyError
	return errors.As(err, &b) && b.Maintenance && !b.Key.CobDate.IsZero()
}

// ErrLost is the cause of a context cancelled because its lock was lost.
var ErrLost = errors.New("publication lock lost")

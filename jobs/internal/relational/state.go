package relational

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeport/lakeport/jobs/internal/contract"
)

// State is a step of a publication, recorded in the database (publication_states, and every
// transition in publication_state_log).
type State string

// The states of a publication, in order.
const (
	// StatePending: the input is validated and the run holds the lock; nothing is committed.
	StatePending State = "pending"
	// StateIcebergCommitted: the Iceberg snapshot is committed; the database still serves the
	// previous load of the date (or none).
	StateIcebergCommitted State = "iceberg-committed"
	// StatePublished: both stores serve the snapshot's rows.
	StatePublished State = "published"
)

// PublicationState is the recorded state of one dataset and date.
type PublicationState struct {
	Dataset         string
	CobDate         time.Time
	State           State
	RunID           string
	InputSHA256     string
	ContentChecksum string
	Rows            int64
	SnapshotID      int64 // 0 until iceberg-committed
	SnapshotSeq     int64
	UpdatedAt       time.Time
}

// StateStore records the publication state machine.
type StateStore interface {
	// State returns the recorded state of a date, or nil.
	State(ctx context.Context, dataset string, cob time.Time) (*PublicationState, error)
	// SetState records a transition (the current row and the log, in one transaction).
	SetState(ctx context.Context, st PublicationState) error
}

// Stager loads a date in two steps, so that the bulk work (COPY, key build, statistics) happens
// before the Iceberg commit and only a short swap after it.
type Stager interface {
	// Stage loads rdr into a staging table of its own (named after pub.RunID) and returns it.
	Stage(ctx context.Context, c *contract.Contract, pub Publication, rdr array.RecordReader) (StagedLoad, error)
	// DropStaging removes the staging tables of the date that dead runs left behind (the caller
	// holds the publication lock, so none of them belongs to a live run).
	DropStaging(ctx context.Context, c *contract.Contract, cob time.Time) ([]string, error)
}

// StagedLoad is a loaded staging table waiting for its swap.
type StagedLoad interface {
	// Rows is the number of rows staged.
	Rows() int64
	// Swap makes the staged rows the date's rows and records pub as published, in one
	// transaction; it refuses (*StaleSnapshotError) a snapshot older than the recorded one.
	Swap(ctx context.Context, pub Publication) (Result, error)
	// Abort drops the staging table.
	Abort(ctx context.Context) error
}

// StaleSnapshotError refuses to record a snapshot older than the one already published: another
// run committed after this one and its rows must stay.
type StaleSnapshotError struct {
	Dataset           string
	CobDate           time.Time
	Recorded, Offered int64 // snapshot sequence numbers
	RecordedRun       string
}

func (e *StaleSnapshotError) Error() string {
	return fmt.Sprintf("%s %s: the database already holds run %s at Iceberg sequence number %d, newer than this run's %d: load refused",
		e.Dataset, e.CobDate.Format(time.DateOnly), e.RecordedRun, e.Recorded, e.Offered)
}

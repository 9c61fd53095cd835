// Package trino verifies publications through Trino and runs Iceberg table maintenance, with
// github.com/trinodb/trino-go-client. Every statement's Trino query id is captured (through the
// client's progress callback) so that logs and traces can point at the query in Trino's UI.
package trino

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/trinodb/trino-go-client/trino"

	"github.com/lakeport/lakeport/jobs/internal/config"
	"github.com/lakeport/lakeport/jobs/internal/contract"
)

// Client runs the verification and maintenance statements.
type Client struct {
	db      *sql.DB
	catalog string
	schema  string
	timeout time.Duration
	maint   config.Maintenance
}

// Open prepares a client for the Trino at cfg.URL (http[s]://user[:password]@host:port[?...]).
func Open(cfg config.Trino, namespace string) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("no url")
	}
	db, err := sql.Open("trino", cfg.URL)
	if err != nil {
		return nil, err
	}
	c := &Client{db: db, catalog: cfg.Catalog, schema: cfg.Schema, timeout: 10 * time.Minute, maint: cfg.Maintenance}
	if c.catalog == "" {
		c.catalog = "iceberg"
	}
	if c.schema == "" {
		c.schema = namespace
	}
	if cfg.Timeout != "" {
		if c.timeout, err = time.ParseDuration(cfg.Timeout); err != nil {
			return nil, fmt.Errorf("timeout: %w", err)
		}
	}
	return c, nil
}

// Close releases the connection pool.
func (c *Client) Close() error { return c.db.Close() }

func quote(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

// Table is the fully qualified, quoted table name of a dataset.
func (c *Client) Table(ct *contract.Contract) string {
	return quote(c.catalog) + "." + quote(c.schema) + "." + quote(ct.Table)
}

type queryIDRecorder struct {
	mu sync.Mutex
	id string
}

func (r *queryIDRecorder) Update(p trino.QueryProgressInfo) {
	r.mu.Lock()
	if r.id == "" {
		r.id = p.QueryId
	}
	r.mu.Unlock()
}

func (r *queryIDRecorder) ID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.id
}

// Query runs a statement and returns its rows as strings, with the Trino query id.
func (c *Client) Query(ctx context.Context, stmt string) (rows [][]string, queryID string, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rec := &queryIDRecorder{}
	rs, err := c.db.QueryContext(ctx, stmt,
		sql.Named("X-Trino-Progress-Callback", rec),
		sql.Named("X-Trino-Progress-Callback-Period", time.Hour))
	if err != nil {
		return nil, rec.ID(), describe(rec.ID(), err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, rec.ID(), err
	}
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, rec.ID(), describe(rec.ID(), err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		rows = append(rows, row)
	}
	if err := rs.Err(); err != nil {
		return nil, rec.ID(), describe(rec.ID(), err)
	}
	return rows, rec.ID(), nil
}

// describe names Trino's error (TABLE_NOT_FOUND, USER_ERROR...) in front of the message.
func describe(qid string, err error) error {
	var et *trino.ErrTrino
	if errors.As(err, &et) {
		return fmt.Errorf("trino query %s failed with %s: %w", qid, et.ErrorName, err)
	}
	var ev trino.ErrTrino
	if errors.As(err, &ev) {
		return fmt.Errorf("trino query %s failed with %s: %w", qid, ev.ErrorName, err)
	}
	return fmt.Errorf("trino query %s: %w", qid, err)
}

// VerifyStatement is the count Verify runs: the committed snapshot, not the table's current one,
// which another date's publication or a compaction may have moved on (Trino's Iceberg connector
// time travel, docs/src/main/sphinx/connector/iceberg.md "Time travel queries":
// `FOR VERSION AS OF <snapshot id>`).
func (c *Client) VerifyStatement(ct *contract.Contract, cob time.Time, snapshotID int64) string {
	return fmt.Sprintf(`SELECT count(*) FROM %s FOR VERSION AS OF %d WHERE %s = DATE '%s'`, c.Table(ct), snapshotID, quote(ct.PartitionBy), cob.Format(time.DateOnly))
}

// Verify checks through Trino that snapshot snapshotID of the table holds rows rows for cob.
func (c *Client) Verify(ctx context.Context, ct *contract.Contract, cob time.Time, snapshotID, rows int64) (string, error) {
	stmt := c.VerifyStatement(ct, cob, snapshotID)
	out, qid, err := c.Query(ctx, stmt)
	if err != nil {
		return qid, err
	}
	if len(out) != 1 || len(out[0]) != 1 {
		return qid, fmt.Errorf("trino query %s: unexpected result %v", qid, out)
	}
	if got := out[0][0]; got != fmt.Sprint(rows) {
		return qid, fmt.Errorf("trino query %s counts %s rows for %s in snapshot %d, %d were published", qid, got, cob.Format(time.DateOnly), snapshotID, rows)
	}
	return qid, nil
}

// MaintenanceStatements are the statements Maintain runs, in order: compaction of the dates from
// since on (the whole table when since is zero) and the manifest rewrite. Snapshot expiry and
// orphan removal are not Trino's: `distribution maintain` does them itself (lake.Maintain), under
// the dataset's lock and keeping the publications' tags.
func (c *Client) MaintenanceStatements(ct *contract.Contract, since time.Time) []string {
	var out []string
	tbl := c.Table(ct)
	if c.maint.Optimize {
		th := c.maint.OptimizeFileSizeThreshold
		if th == "" {
			th = "128MB"
		}
		stmt := fmt.Sprintf(`ALTER TABLE %s EXECUTE optimize(file_size_threshold => '%s')`, tbl, th)
		if !since.IsZero() {
			stmt += fmt.Sprintf(` WHERE %s >= DATE '%s'`, quote(ct.PartitionBy), since.Format(time.DateOnly))
		}
		out = append(out, stmt)
	}
	if c.maint.OptimizeManifests {
		out = append(out, fmt.Sprintf(`ALTER TABLE %s EXECUTE optimize_manifests`, tbl))
	}
	return out
}

// Maintain runs the configured compaction; it stops at the first failure. The caller holds the
// dataset's maintenance lock.
func (c *Client) Maintain(ctx context.Context, ct *contract.Contract, since time.Time) error {
	for _, stmt := range c.MaintenanceStatements(ct, since) {
		if _, _, err := c.Query(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

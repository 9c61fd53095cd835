// Package migrate applies the relational schema as versioned, embedded SQL migrations
// (sql/<dialect>/NNNN_name.sql), each once, in order, recorded with its checksum in
// lakeport_schema_migrations. An applied migration whose file changed is an error: migrations
// are append-only. On PostgreSQL a session advisory lock serialises concurrent runners (two sync
// hooks) and each migration is one transaction.
package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed sql
var files embed.FS

// Dialects the migrations exist for.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
	Oracle   = "oracle"
)

// Migration is one versioned script.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string
}

var fileRE = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Load returns the migrations of a dialect, in version order.
func Load(dialect string) ([]Migration, error) {
	entries, err := fs.ReadDir(files, path.Join("sql", dialect))
	if err != nil {
		return nil, fmt.Errorf("no migrations for dialect %q", dialect)
	}
	var out []Migration
	for _, e := range entries {
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s/%s: name must be NNNN_name.sql", dialect, e.Name())
		}
		data, err := fs.ReadFile(files, path.Join("sql", dialect, e.Name()))
		if err != nil {
			return nil, err
		}
		v, _ := strconv.Atoi(m[1])
		sum := sha256.Sum256(data)
		out = append(out, Migration{Version: v, Name: m[2], SQL: string(data), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := range out {
		if out[i].Version != i+1 {
			return nil, fmt.Errorf("migrations of %s: version %d where %d was expected", dialect, out[i].Version, i+1)
		}
	}
	return out, nil
}

// Applied is a migration recorded in the database.
type Applied struct {
	Version   int
	Name      string
	Checksum  string
	AppliedAt time.Time
}

// Result says what a run did.
type Result struct {
	Applied []Migration
	Current int
}

const historyTable = "lakeport_schema_migrations"

// Run applies the pending migrations of dialect to db.
func Run(ctx context.Context, db *sql.DB, dialect string) (Result, error) {
	migs, err := Load(dialect)
	if err != nil {
		return Result{}, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if dialect == Postgres {
		// Session lock: released on unlock or when the connection ends.
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext('lakeport_schema_migrations'))`); err != nil {
			return Result{}, fmt.Errorf("lock migrations: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('lakeport_schema_migrations'))`)
		}()
	}
	if err := createHistory(ctx, conn, dialect); err != nil {
		return Result{}, err
	}
	applied, err := history(ctx, conn)
	if err != nil {
		return Result{}, err
	}
	var res Result
	for _, m := range migs {
		if a, ok := applied[m.Version]; ok {
			if a.Checksum != m.Checksum {
				return res, fmt.Errorf("migration %04d_%s was changed after it was applied (checksum %s, applied %s): add a new migration instead",
					m.Version, m.Name, m.Checksum[:12], a.Checksum[:min(12, len(a.Checksum))])
			}
			res.Current = m.Version
			continue
		}
		if err := apply(ctx, conn, dialect, m); err != nil {
			return res, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		res.Applied = append(res.Applied, m)
		res.Current = m.Version
	}
	for v := range applied {
		if v > len(migs) {
			return res, fmt.Errorf("database is at migration %d, newer than this binary knows (%d): refusing to run an old job on a newer schema", v, len(migs))
		}
	}
	return res, nil
}

func createHistory(ctx context.Context, conn *sql.Conn, dialect string) error {
	var ddl string
	switch dialect {
	case Oracle:
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_tables WHERE table_name = UPPER('`+historyTable+`')`).Scan(&n); err != nil {
			return fmt.Errorf("look up %s: %w", historyTable, err)
		}
		if n > 0 {
			return nil
		}
		ddl = `CREATE TABLE ` + historyTable + ` (version NUMBER(10) PRIMARY KEY, name VARCHAR2(200) NOT NULL, checksum VARCHAR2(64) NOT NULL, applied_at TIMESTAMP WITH TIME ZONE NOT NULL)`
	default:
		ddl = `CREATE TABLE IF NOT EXISTS ` + historyTable + ` (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`
	}
	if _, err := conn.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("create %s: %w", historyTable, err)
	}
	return nil
}

func history(ctx context.Context, conn *sql.Conn) (map[int]Applied, error) {
	rows, err := conn.QueryContext(ctx, `SELECT version, name, checksum FROM `+historyTable)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", historyTable, err)
	}
	defer rows.Close()
	out := map[int]Applied{}
	for rows.Next() {
		var a Applied
		if err := rows.Scan(&a.Version, &a.Name, &a.Checksum); err != nil {
			return nil, err
		}
		out[a.Version] = a
	}
	return out, rows.Err()
}

// Statements splits a script on semicolons that end a line, dropping comment-only chunks.
func Statements(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			s := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			if s != "" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

func apply(ctx context.Context, conn *sql.Conn, dialect string, m Migration) error {
	now := time.Now().UTC()
	if dialect == Oracle {
		// DDL commits implicitly in Oracle: apply statement by statement, then record.
		for _, s := range Statements(m.SQL) {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", firstLine(s), err)
			}
		}
		_, err := conn.ExecContext(ctx, `INSERT INTO `+historyTable+` (version, name, checksum, applied_at) VALUES (:1, :2, :3, :4)`, m.Version, m.Name, m.Checksum, now)
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, s := range Statements(m.SQL) {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	ph := "$1, $2, $3, $4"
	if dialect == SQLite {
		ph = "?, ?, ?, ?"
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+historyTable+` (version, name, checksum, applied_at) VALUES (`+ph+`)`,
		m.Version, m.Name, m.Checksum, now.Format(time.RFC3339Nano)); err != nil {
		return err
	}
	return tx.Commit()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

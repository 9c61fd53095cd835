// Package migrate applies the relational schema as versioned, embedded SQL migrations
// (sql/<dialect>/NNNN_name.sql), each once, in order, recorded with its checksum in
// lakeport_schema_migrations. An applied migration whose file changed is an error: migrations
// are append-only. A newer database than the binary is refused.
//
// Concurrent runners (two sync hooks) are serialised by a session lock: pg_advisory_lock on
// PostgreSQL, DBMS_LOCK on Oracle (an X-mode user lock that survives the implicit commits of
// DDL, unlike a row locked with SELECT ... FOR UPDATE), the single connection on SQLite.
//
// On PostgreSQL and SQLite a migration is one transaction: it applies whole or not at all. Oracle
// commits every DDL statement, so a migration that fails half-way cannot be rolled back: its
// version is recorded dirty before its first statement and clean after its last; a dirty
// version stops every later run until someone repairs the schema and says so with Force
// (`distribution migrate force VERSION`), as golang-migrate does.
//
// Scripts are split by Split (PL/SQL blocks, "/" terminators, strings, comments). Plan and
// WritePlan give a DBA exactly the statements Run would execute, without executing any.
//
// Why a home-made runner: goose v3 has no Oracle dialect; golang-migrate v4.20.1 (its latest
// release) has no Oracle driver (database/oracle exists only on its unreleased main branch, and
// there it runs a file as one statement unless a "---" separator line splits it, and records one
// version without checksums); Liquibase is a JVM tool, which the distribution image does not
// carry. None of them reads these migrations' checksums.
package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
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
	Version  int
	Name     string
	Checksum string
	// Dirty (Oracle) says the migration started and did not finish.
	Dirty bool
}

// Result says what a run did.
type Result struct {
	Applied []Migration
	Current int
}

const historyTable = "lakeport_schema_migrations"

// oracleLockName is the DBMS_LOCK name of the migration lock.
const oracleLockName = "LAKEPORT_SCHEMA_MIGRATIONS"

// oracleLockTimeout is how long (seconds) a runner waits for another one's lock.
const oracleLockTimeout = 600

// OracleLock and OracleUnlock take and release the migration lock on Oracle: DBMS_LOCK user locks
// are held by the session across commits (release_on_commit => FALSE), so the DDL's implicit
// commits do not drop it (Oracle Database PL/SQL Packages and Types Reference, DBMS_LOCK:
// ALLOCATE_UNIQUE, REQUEST, RELEASE). REQUEST returns 0 (granted), 1 (timeout), 2 (deadlock),
// 3 (parameter error), 4 (already own it), 5 (illegal handle). The schema needs EXECUTE on
// DBMS_LOCK (not granted to PUBLIC by default).
var (
	OracleLock = fmt.Sprintf(`DECLARE
  handle VARCHAR2(128);
  result INTEGER;
BEGIN
  DBMS_LOCK.ALLOCATE_UNIQUE(lockname => '%s', lockhandle => handle);
  result := DBMS_LOCK.REQUEST(lockhandle => handle, lockmode => DBMS_LOCK.X_MODE, timeout => %d, release_on_commit => FALSE);
  IF result NOT IN (0, 4) THEN
    RAISE_APPLICATION_ERROR(-20001, 'lakeport migration lock %s: DBMS_LOCK.REQUEST returned ' || result);
  END IF;
END;`, oracleLockName, oracleLockTimeout, oracleLockName)
	OracleUnlock = fmt.Sprintf(`DECLARE
  handle VARCHAR2(128);
  result INTEGER;
BEGIN
  DBMS_LOCK.ALLOCATE_UNIQUE(lockname => '%s', lockhandle => handle);
  result := DBMS_LOCK.RELEASE(lockhandle => handle);
END;`, oracleLockName)
)

// lock takes the dialect's migration lock on conn and returns its release.
func lock(ctx context.Context, conn *sql.Conn, dialect string) (func(), error) {
	var take, release string
	switch dialect {
	case Postgres:
		// Session lock: released on unlock or when the connection ends.
		take, release = `SELECT pg_advisory_lock(hashtext('lakeport_schema_migrations'))`, `SELECT pg_advisory_unlock(hashtext('lakeport_schema_migrations'))`
	case Oracle:
		take, release = OracleLock, OracleUnlock
	default:
		return func() {}, nil
	}
	if _, err := conn.ExecContext(ctx, take); err != nil {
		return nil, fmt.Errorf("lock migrations: %w", err)
	}
	return func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), release) }, nil
}

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
	unlock, err := lock(ctx, conn, dialect)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	if err := createHistory(ctx, conn, dialect); err != nil {
		return Result{}, err
	}
	applied, err := history(ctx, conn, dialect)
	if err != nil {
		return Result{}, err
	}
	pending, current, err := pendingOf(dialect, migs, applied)
	if err != nil {
		return Result{Current: current}, err
	}
	res := Result{Current: current}
	for _, m := range pending {
		if err := apply(ctx, conn, dialect, m); err != nil {
			return res, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		res.Applied = append(res.Applied, m)
		res.Current = m.Version
	}
	return res, nil
}

// pendingOf checks the recorded history against the migrations and returns the ones to apply
// and the current version.
func pendingOf(dialect string, migs []Migration, applied map[int]Applied) (pending []Migration, current int, err error) {
	for v, a := range applied {
		if a.Dirty {
			return nil, 0, fmt.Errorf("migration %04d_%s is dirty: it failed half-way on %s, whose DDL cannot be rolled back; "+
				"repair the schema by hand, then run `distribution migrate force %d` if it is now fully applied, or `force %d` if it is undone",
				v, a.Name, dialect, v, v-1)
		}
		if v > len(migs) {
			return nil, 0, fmt.Errorf("database is at migration %d, newer than this binary knows (%d): refusing to run an old job on a newer schema", v, len(migs))
		}
	}
	for _, m := range migs {
		if a, ok := applied[m.Version]; ok {
			if a.Checksum != m.Checksum {
				return nil, current, fmt.Errorf("migration %04d_%s was changed after it was applied (checksum %s, applied %s): add a new migration instead",
					m.Version, m.Name, m.Checksum[:12], a.Checksum[:min(12, len(a.Checksum))])
			}
			current = m.Version
			continue
		}
		pending = append(pending, m)
	}
	return pending, current, nil
}

// historyDDL returns the statements that create the history table where it is missing.
func historyDDL(dialect string) string {
	if dialect == Oracle {
		return `CREATE TABLE ` + historyTable + ` (version NUMBER(10) PRIMARY KEY, name VARCHAR2(200) NOT NULL, checksum VARCHAR2(64) NOT NULL, applied_at TIMESTAMP WITH TIME ZONE NOT NULL, dirty NUMBER(1) DEFAULT 0 NOT NULL)`
	}
	return `CREATE TABLE IF NOT EXISTS ` + historyTable + ` (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`
}

const oracleHistoryExists = `SELECT COUNT(*) FROM user_tables WHERE table_name = UPPER('` + historyTable + `')`

func createHistory(ctx context.Context, conn *sql.Conn, dialect string) error {
	if dialect == Oracle {
		var n int
		if err := conn.QueryRowContext(ctx, oracleHistoryExists).Scan(&n); err != nil {
			return fmt.Errorf("look up %s: %w", historyTable, err)
		}
		if n > 0 {
			return nil
		}
	}
	if _, err := conn.ExecContext(ctx, historyDDL(dialect)); err != nil {
		return fmt.Errorf("create %s: %w", historyTable, err)
	}
	return nil
}

func historyQuery(dialect string) string {
	if dialect == Oracle {
		return `SELECT version, name, checksum, dirty FROM ` + historyTable
	}
	return `SELECT version, name, checksum, 0 FROM ` + historyTable
}

func history(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, dialect string) (map[int]Applied, error) {
	rows, err := q.QueryContext(ctx, historyQuery(dialect))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", historyTable, err)
	}
	defer rows.Close()
	out := map[int]Applied{}
	for rows.Next() {
		var a Applied
		var dirty int64
		if err := rows.Scan(&a.Version, &a.Name, &a.Checksum, &dirty); err != nil {
			return nil, fmt.Errorf("read %s: %w", historyTable, err)
		}
		a.Dirty = dirty != 0
		out[a.Version] = a
	}
	return out, rows.Err()
}

// Statement is one statement of a plan, with the arguments bound to it.
type Statement struct {
	SQL  string
	Args []any
	// PLSQL says the statement is a PL/SQL unit (printed with a "/" line after it).
	PLSQL bool
}

// Step is what applying one migration executes, in order.
type Step struct {
	Migration Migration
	// Tx says the statements run in one transaction (PostgreSQL, SQLite).
	Tx         bool
	Statements []Statement
}

// steps returns what applying m executes on dialect, bookkeeping included; now is the
// applied_at recorded.
func steps(dialect string, m Migration, now time.Time) (Step, error) {
	stmts, err := Split(m.SQL, dialect)
	if err != nil {
		return Step{}, fmt.Errorf("%s/%04d_%s.sql: %w", dialect, m.Version, m.Name, err)
	}
	var body []Statement
	for _, s := range stmts {
		body = append(body, Statement{SQL: s, PLSQL: dialect == Oracle && plsqlStartRE.MatchString(strings.TrimSpace(stripComments(s)))})
	}
	if dialect == Oracle {
		// DDL commits implicitly: record the version dirty first, clean last.
		out := []Statement{{SQL: `INSERT INTO ` + historyTable + ` (version, name, checksum, applied_at, dirty) VALUES (:1, :2, :3, :4, 1)`,
			Args: []any{m.Version, m.Name, m.Checksum, now}}}
		out = append(out, body...)
		out = append(out, Statement{SQL: `UPDATE ` + historyTable + ` SET dirty = 0, applied_at = :1 WHERE version = :2`, Args: []any{now, m.Version}})
		return Step{Migration: m, Statements: out}, nil
	}
	ph := "$1, $2, $3, $4"
	if dialect == SQLite {
		ph = "?, ?, ?, ?"
	}
	body = append(body, Statement{SQL: `INSERT INTO ` + historyTable + ` (version, name, checksum, applied_at) VALUES (` + ph + `)`,
		Args: []any{m.Version, m.Name, m.Checksum, now.Format(time.RFC3339Nano)}})
	return Step{Migration: m, Tx: true, Statements: body}, nil
}

func apply(ctx context.Context, conn *sql.Conn, dialect string, m Migration) error {
	st, err := steps(dialect, m, time.Now().UTC())
	if err != nil {
		return err
	}
	if !st.Tx {
		for i, s := range st.Statements {
			if _, err := conn.ExecContext(ctx, s.SQL, s.Args...); err != nil {
				if i == 0 {
					return fmt.Errorf("record the start in %s: %w", historyTable, err)
				}
				return fmt.Errorf("statement %d of %d (%s): %w; the version stays dirty", i, len(st.Statements)-2, firstLine(s.SQL), err)
			}
		}
		return nil
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, s := range st.Statements {
		if _, err := tx.ExecContext(ctx, s.SQL, s.Args...); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s.SQL), err)
		}
	}
	return tx.Commit()
}

// Force records version as the schema's state after a manual repair: versions above it are
// forgotten, version itself (when > 0) is recorded applied and clean with its file's checksum.
// Every version below it must already be recorded clean.
func Force(ctx context.Context, db *sql.DB, dialect string, version int) error {
	migs, err := Load(dialect)
	if err != nil {
		return err
	}
	if version < 0 || version > len(migs) {
		return fmt.Errorf("force %d: want a version between 0 and %d", version, len(migs))
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	unlock, err := lock(ctx, conn, dialect)
	if err != nil {
		return err
	}
	defer unlock()
	if err := createHistory(ctx, conn, dialect); err != nil {
		return err
	}
	applied, err := history(ctx, conn, dialect)
	if err != nil {
		return err
	}
	for v := 1; v < version; v++ {
		if a, ok := applied[v]; !ok || a.Dirty {
			return fmt.Errorf("force %d: migration %04d is not recorded as applied cleanly; force it first", version, v)
		}
	}
	ph := func(i int) string {
		switch dialect {
		case Oracle:
			return fmt.Sprintf(":%d", i)
		case Postgres:
			return fmt.Sprintf("$%d", i)
		}
		return "?"
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+historyTable+` WHERE version >= `+ph(1), max(version, 1)); err != nil {
		return fmt.Errorf("force %d: %w", version, err)
	}
	if version > 0 {
		m := migs[version-1]
		now := time.Now().UTC()
		var q string
		var args []any
		if dialect == Oracle {
			q = `INSERT INTO ` + historyTable + ` (version, name, checksum, applied_at, dirty) VALUES (:1, :2, :3, :4, 0)`
			args = []any{m.Version, m.Name, m.Checksum, now}
		} else {
			q = `INSERT INTO ` + historyTable + ` (version, name, checksum, applied_at) VALUES (` + ph(1) + `, ` + ph(2) + `, ` + ph(3) + `, ` + ph(4) + `)`
			args = []any{m.Version, m.Name, m.Checksum, now.Format(time.RFC3339Nano)}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("force %d: %w", version, err)
		}
	}
	return tx.Commit()
}

// Plan is what Run would execute now, computed without executing anything.
type Plan struct {
	Dialect string
	// Lock and Unlock frame the run ("" where the dialect needs none).
	Lock, Unlock string
	// CreateHistory is the history table's DDL when the table is missing ("" otherwise).
	CreateHistory string
	Current       int
	Steps         []Step
}

// PlanRun reads the recorded history (read-only: no lock, no DDL) and returns the statements
// Run would execute. A database without the history table plans every migration.
func PlanRun(ctx context.Context, db *sql.DB, dialect string) (*Plan, error) {
	migs, err := Load(dialect)
	if err != nil {
		return nil, err
	}
	p := &Plan{Dialect: dialect}
	switch dialect {
	case Postgres:
		p.Lock, p.Unlock = `SELECT pg_advisory_lock(hashtext('lakeport_schema_migrations'))`, `SELECT pg_advisory_unlock(hashtext('lakeport_schema_migrations'))`
	case Oracle:
		p.Lock, p.Unlock = OracleLock, OracleUnlock
	}
	exists, err := historyExists(ctx, db, dialect)
	if err != nil {
		return nil, err
	}
	applied := map[int]Applied{}
	if !exists {
		p.CreateHistory = historyDDL(dialect)
	} else if applied, err = history(ctx, db, dialect); err != nil {
		return nil, err
	}
	pending, current, err := pendingOf(dialect, migs, applied)
	if err != nil {
		return nil, err
	}
	p.Current = current
	now := time.Now().UTC()
	for _, m := range pending {
		st, err := steps(dialect, m, now)
		if err != nil {
			return nil, err
		}
		p.Steps = append(p.Steps, st)
	}
	return p, nil
}

func historyExists(ctx context.Context, db *sql.DB, dialect string) (bool, error) {
	var q string
	switch dialect {
	case Oracle:
		q = oracleHistoryExists
	case Postgres:
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '` + historyTable + `'`
	default:
		q = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '` + historyTable + `'`
	}
	var n int
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return false, fmt.Errorf("look up %s: %w", historyTable, err)
	}
	return n > 0, nil
}

// WritePlan prints a plan as a script a DBA can read and run: statements end with ";" (a PL/SQL
// unit with a "/" line, as SQL*Plus wants), binds are shown in a comment after their statement.
func WritePlan(w io.Writer, p *Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "-- lakeport migrations for %s: database at version %d, %d to apply\n", p.Dialect, p.Current, len(p.Steps))
	write := func(s Statement) {
		b.WriteString(strings.TrimSpace(s.SQL))
		if s.PLSQL || strings.HasPrefix(strings.TrimSpace(s.SQL), "DECLARE") {
			b.WriteString("\n/\n")
		} else {
			b.WriteString(";\n")
		}
		if len(s.Args) > 0 {
			vals := make([]string, len(s.Args))
			for i, a := range s.Args {
				switch v := a.(type) {
				case string:
					vals[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
				case time.Time:
					vals[i] = "<now: " + v.Format(time.RFC3339) + ">"
				default:
					vals[i] = fmt.Sprint(v)
				}
			}
			fmt.Fprintf(&b, "-- binds: %s\n", strings.Join(vals, ", "))
		}
	}
	if len(p.Steps) == 0 {
		b.WriteString("-- nothing to apply\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	if p.Lock != "" {
		b.WriteString("\n-- lock\n")
		write(Statement{SQL: p.Lock})
	}
	if p.CreateHistory != "" {
		b.WriteString("\n-- history table\n")
		write(Statement{SQL: p.CreateHistory})
	}
	for _, st := range p.Steps {
		fmt.Fprintf(&b, "\n-- %04d_%s (sha256 %s)\n", st.Migration.Version, st.Migration.Name, st.Migration.Checksum)
		if st.Tx {
			b.WriteString("BEGIN;\n")
		}
		for _, s := range st.Statements {
			write(s)
		}
		if st.Tx {
			b.WriteString("COMMIT;\n")
		}
	}
	if p.Unlock != "" {
		b.WriteString("\n-- unlock\n")
		write(Statement{SQL: p.Unlock})
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

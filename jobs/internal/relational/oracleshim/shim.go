// Package oracleshim is a database/sql driver for tests of code written for Oracle through
// github.com/sijms/go-ora: no Oracle server runs where these tests run, so the shim records every
// statement with its binds (Go types, array lengths, names, transaction) and answers with scripted
// results. It binds the way go-ora v2.8.24 does, so that what Oracle would refuse fails here too:
//
//   - placeholders are every ":name" or ":1" outside quotes and comments (go-ora's
//     parseQueryParametersNames over refineSqlText, utils.go); positional arguments bind one per
//     placeholder occurrence, in order, so ":1" written twice needs two arguments; fewer
//     arguments than placeholders is ORA-01008 (not all variables bound), more is ORA-01036;
//   - named arguments (sql.Named) bind by name (command.go, useNamedParameters);
//   - a PL/SQL block (BEGIN ... END) binds each distinct name once, as go-ora does for
//     non-DML statements;
//   - DDL (CREATE, ALTER, DROP, TRUNCATE) commits the open transaction, as Oracle does.
//
// What it cannot check is everything the server checks: SQL syntax, types against columns,
// constraints. Those need the ORACLE_DSN integration tests.
package oracleshim

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"sync"
)

// Arg is one bound value as the driver received it.
type Arg struct {
	// Name is the sql.Named name, "" for a positional argument.
	Name string
	// Type is the Go type of the value ("string", "time.Time", "[]interface {}", "<nil>").
	Type string
	// Len is the length of an array bind (a slice other than []byte), -1 otherwise.
	Len int
	// Elem is the Go type of the first non-nil element of an array bind.
	Elem  string
	Value any
}

// Statement is one call the driver received.
type Statement struct {
	Seq int
	// Kind is "exec", "query", "begin", "commit", "rollback" or "implicit-commit" (DDL).
	Kind string
	SQL  string
	Args []Arg
	// Placeholders are the bind names in order of occurrence, as go-ora parses them.
	Placeholders []string
	// InTx says whether the statement ran inside an explicit transaction.
	InTx bool
	// Conn is the id of the connection (session) it ran on.
	Conn int
	// Err is the error the statement returned ("" for success).
	Err string
}

// Response is what a scripted statement returns.
type Response struct {
	Err          error
	RowsAffected int64
	Columns      []string
	Rows         [][]driver.Value
}

// Responder answers a statement; nil answers every statement with an empty success.
type Responder func(s Statement) Response

// Recorder records statements; it is one database (open it with DB).
type Recorder struct {
	respond Responder // called outside mu; a test's responder guards its own state

	mu    sync.Mutex
	stmts []Statement
	conns int
}

// New returns a recorder that answers with respond (nil: empty successes).
func New(respond Responder) *Recorder { return &Recorder{respond: respond} }

// DB opens a *sql.DB on the recorder (no global driver registration).
func (r *Recorder) DB() *sql.DB { return sql.OpenDB(connector{r}) }

// Statements returns a copy of what was recorded so far.
func (r *Recorder) Statements() []Statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Statement(nil), r.stmts...)
}

// Execs returns the SQL text of the exec and query statements, in order.
func (r *Recorder) Execs() []string {
	var out []string
	for _, s := range r.Statements() {
		if s.Kind == "exec" || s.Kind == "query" {
			out = append(out, s.SQL)
		}
	}
	return out
}

// record answers s (through the responder unless it failed already) and appends it with the
// outcome.
func (r *Recorder) record(s Statement, failed error) Response {
	var res Response
	switch {
	case failed != nil:
		res.Err = failed
	case r.respond != nil && (s.Kind == "exec" || s.Kind == "query"):
		res = r.respond(s)
	}
	if res.Err != nil {
		s.Err = res.Err.Error()
	}
	r.mu.Lock()
	s.Seq = len(r.stmts) + 1
	r.stmts = append(r.stmts, s)
	r.mu.Unlock()
	return res
}

type connector struct{ r *Recorder }

func (c connector) Connect(context.Context) (driver.Conn, error) {
	c.r.mu.Lock()
	c.r.conns++
	id := c.r.conns
	c.r.mu.Unlock()
	return &conn{r: c.r, id: id}, nil
}

func (c connector) Driver() driver.Driver { return drv{} }

type drv struct{}

func (drv) Open(string) (driver.Conn, error) {
	return nil, errors.New("oracleshim: open through Recorder.DB")
}

type conn struct {
	r    *Recorder
	id   int
	inTx bool
}

var (
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
)

// CheckNamedValue accepts every value unchanged, as go-ora does (arrays, its own types).
func (c *conn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	return &stmt{c: c, query: query}, nil
}

func (c *conn) Close() error { return nil }

func (c *conn) Begin() (driver.Tx, error) { return c.BeginTx(context.Background(), driver.TxOptions{}) }

func (c *conn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	c.r.record(Statement{Kind: "begin", Conn: c.id}, nil)
	c.inTx = true
	return tx{c}, nil
}

type tx struct{ c *conn }

func (t tx) Commit() error {
	t.c.r.record(Statement{Kind: "commit", Conn: t.c.id, InTx: true}, nil)
	t.c.inTx = false
	return nil
}

func (t tx) Rollback() error {
	t.c.r.record(Statement{Kind: "rollback", Conn: t.c.id, InTx: true}, nil)
	t.c.inTx = false
	return nil
}

var ddlRE = regexp.MustCompile(`(?is)^\s*(CREATE|ALTER|DROP|TRUNCATE|RENAME|GRANT|REVOKE)\b`)

func (c *conn) run(kind, query string, args []driver.NamedValue) (Response, error) {
	s := Statement{Kind: kind, SQL: query, Conn: c.id, InTx: c.inTx, Placeholders: Placeholders(query)}
	for _, a := range args {
		s.Args = append(s.Args, describe(a))
	}
	res := c.r.record(s, CheckBinds(query, s.Placeholders, s.Args))
	if ddlRE.MatchString(query) && res.Err == nil {
		// Oracle commits before and after DDL, whatever the client's transaction.
		c.r.record(Statement{Kind: "implicit-commit", Conn: c.id, InTx: c.inTx}, nil)
	}
	return res, res.Err
}

func (c *conn) ExecContext(_ context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.run("exec", query, args)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(res.RowsAffected), nil
}

func (c *conn) QueryContext(_ context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	res, err := c.run("query", query, args)
	if err != nil {
		return nil, err
	}
	return &rows{cols: res.Columns, data: res.Rows}, nil
}

type stmt struct {
	c     *conn
	query string
}

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return -1 } // as go-ora: database/sql does not count
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.c.ExecContext(context.Background(), s.query, named(args))
}
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.c.QueryContext(context.Background(), s.query, named(args))
}
func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}
func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return out
}

type rows struct {
	cols []string
	data [][]driver.Value
	i    int
}

func (r *rows) Columns() []string { return r.cols }
func (r *rows) Close() error      { return nil }
func (r *rows) Next(dest []driver.Value) error {
	if r.i >= len(r.data) {
		return io.EOF
	}
	copy(dest, r.data[r.i])
	r.i++
	return nil
}

func describe(a driver.NamedValue) Arg {
	out := Arg{Name: a.Name, Value: a.Value, Len: -1, Type: fmt.Sprintf("%T", a.Value)}
	v := reflect.ValueOf(a.Value)
	if v.IsValid() && v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8 {
		out.Len = v.Len()
		for i := 0; i < v.Len(); i++ {
			e := v.Index(i)
			if e.Kind() == reflect.Interface {
				if e.IsNil() {
					continue
				}
				e = e.Elem()
			}
			out.Elem = e.Type().String()
			break
		}
	}
	return out
}

// refine removes what go-ora's refineSqlText removes before looking for placeholders: quoted
// text ('...' and "..."), /* */ and -- comments.
func refine(text string) string {
	var b strings.Builder
	skip, lineComment := false, false
	for i := 0; i < len(text); i++ {
		ch := text[i]
		switch ch {
		case '\\':
			continue
		case '/':
			if i+1 < len(text) && text[i+1] == '*' {
				i++
				skip = true
			}
		case '*':
			if i+1 < len(text) && text[i+1] == '/' {
				i++
				skip = false
			}
		case '\'', '"':
			skip = !skip
		case '-':
			if !skip && i+1 < len(text) && text[i+1] == '-' {
				i++
				lineComment = true
			}
		case '\n':
			if lineComment {
				lineComment = false
			} else {
				b.WriteByte(ch)
			}
		default:
			if !skip && !lineComment {
				b.WriteByte(ch)
			}
		}
	}
	return b.String()
}

var placeholderRE = regexp.MustCompile(`:(\w+)`)

// Placeholders returns the bind names of query in order of occurrence, as go-ora finds them.
func Placeholders(query string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(refine(query), -1) {
		out = append(out, m[1])
	}
	return out
}

var plsqlRE = regexp.MustCompile(`(?is)^\s*(BEGIN|DECLARE)\b`)

// CheckBinds reports, as Oracle would through go-ora, arguments that do not match the
// placeholders of query.
func CheckBinds(query string, placeholders []string, args []Arg) error {
	namedArgs := 0
	for _, a := range args {
		if a.Name != "" {
			namedArgs++
		}
	}
	want := placeholders
	if plsqlRE.MatchString(query) {
		// go-ora binds a repeated name once in PL/SQL.
		seen := map[string]bool{}
		want = nil
		for _, p := range placeholders {
			if !seen[p] {
				seen[p] = true
				want = append(want, p)
			}
		}
	}
	if namedArgs > 0 {
		if namedArgs != len(args) {
			return errors.New("oracleshim: named and positional arguments mixed")
		}
		have := map[string]bool{}
		for _, a := range args {
			have[a.Name] = true
		}
		for _, p := range want {
			if !have[p] {
				return fmt.Errorf("parameter %s is not defined in parameter list", p)
			}
		}
		return nil
	}
	switch {
	case len(args) < len(want):
		return fmt.Errorf("ORA-01008: not all variables bound (%d placeholders %v, %d arguments)", len(want), want, len(args))
	case len(args) > len(want):
		return fmt.Errorf("ORA-01036: illegal variable name/number (%d placeholders %v, %d arguments)", len(want), want, len(args))
	}
	return nil
}

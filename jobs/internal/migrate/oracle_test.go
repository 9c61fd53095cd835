package migrate

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lakeport/lakeport/jobs/internal/relational/oracleshim"
)

// fakeOracleHistory answers the runner's statements like an Oracle schema whose history table
// holds rows, and fails the first statement containing failAt.
type fakeOracleHistory struct {
	mu     sync.Mutex
	rows   map[int]Applied
	failAt string
}

func (f *fakeOracleHistory) respond(s oracleshim.Statement) oracleshim.Response {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAt != "" && strings.Contains(s.SQL, f.failAt) {
		f.failAt = ""
		return oracleshim.Response{Err: errors.New("ORA-00600: injected failure")}
	}
	switch {
	case s.SQL == oracleHistoryExists:
		return oracleshim.Response{Columns: []string{"N"}, Rows: [][]driver.Value{{int64(1)}}}
	case s.SQL == historyQuery(Oracle):
		res := oracleshim.Response{Columns: []string{"VERSION", "NAME", "CHECKSUM", "DIRTY"}}
		for v := 1; v <= len(f.rows)+5; v++ {
			if a, ok := f.rows[v]; ok {
				dirty := int64(0)
				if a.Dirty {
					dirty = 1
				}
				res.Rows = append(res.Rows, []driver.Value{int64(a.Version), a.Name, a.Checksum, dirty})
			}
		}
		return res
	case strings.HasPrefix(s.SQL, "INSERT INTO "+historyTable):
		v := s.Args[0].Value.(int)
		f.rows[v] = Applied{Version: v, Name: s.Args[1].Value.(string), Checksum: s.Args[2].Value.(string), Dirty: strings.HasSuffix(s.SQL, ", 1)")}
	case strings.HasPrefix(s.SQL, "UPDATE "+historyTable+" SET dirty = 0"):
		v := s.Args[1].Value.(int)
		a := f.rows[v]
		a.Dirty = false
		f.rows[v] = a
	case strings.HasPrefix(s.SQL, "DELETE FROM "+historyTable):
		for v := range f.rows {
			if v >= s.Args[0].Value.(int) {
				delete(f.rows, v)
			}
		}
	}
	return oracleshim.Response{RowsAffected: 1}
}

func TestOracleRunLocksAndRecordsDirty(t *testing.T) {
	ctx := context.Background()
	migs, err := Load(Oracle)
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) < 2 {
		t.Fatal("test needs two Oracle migrations")
	}
	m1, m2 := migs[0], migs[1]
	fake := &fakeOracleHistory{rows: map[int]Applied{1: {Version: 1, Name: m1.Name, Checksum: m1.Checksum}}, failAt: "ALTER TABLE drc ADD CONSTRAINT"}
	rec := oracleshim.New(fake.respond)
	db := rec.DB()
	defer db.Close()

	// 1. The run fails half-way through 0002: the version stays dirty.
	_, err = Run(ctx, db, Oracle)
	if err == nil || !strings.Contains(err.Error(), "ORA-00600") || !strings.Contains(err.Error(), "dirty") {
		t.Fatalf("half-way failure: %v", err)
	}
	if a := fake.rows[2]; !a.Dirty || a.Checksum != m2.Checksum {
		t.Fatalf("history after the failure: %+v", fake.rows)
	}
	execs := rec.Execs()
	if execs[0] != OracleLock || execs[len(execs)-1] != OracleUnlock {
		t.Errorf("not framed by the lock: first %q, last %q", firstLine(execs[0]), firstLine(execs[len(execs)-1]))
	}
	stmts, _ := Split(m2.SQL, Oracle)
	ran := 0
	for _, s := range rec.Statements() {
		for _, want := range stmts {
			if s.SQL == want {
				ran++
			}
		}
		if s.Kind == "exec" && strings.HasSuffix(strings.TrimSpace(s.SQL), ";") && !strings.HasSuffix(strings.TrimSpace(s.SQL), "END;") {
			t.Errorf("statement sent with its terminator: %q", s.SQL)
		}
	}
	if ran == 0 || ran >= len(stmts) {
		t.Errorf("%d of %d statements of 0002 ran before the failure", ran, len(stmts))
	}

	// 2. Every later run refuses, naming the way out, and runs no migration statement.
	before := len(rec.Statements())
	_, err = Run(ctx, db, Oracle)
	if err == nil || !strings.Contains(err.Error(), "0002_partition_exchange is dirty") || !strings.Contains(err.Error(), "migrate force 2") {
		t.Fatalf("dirty refusal: %v", err)
	}
	for _, s := range rec.Statements()[before:] {
		for _, want := range stmts {
			if s.SQL == want {
				t.Errorf("ran %q on a dirty schema", firstLine(s.SQL))
			}
		}
	}

	// 3. force 1 (the DBA undid it): the version is forgotten and the next run applies it whole.
	if err := Force(ctx, db, Oracle, 1); err != nil {
		t.Fatal(err)
	}
	if _, ok := fake.rows[2]; ok {
		t.Fatalf("force 1 kept version 2: %+v", fake.rows)
	}
	res, err := Run(ctx, db, Oracle)
	if err != nil || len(res.Applied) != len(migs)-1 || res.Current != len(migs) {
		t.Fatalf("rerun: %+v %v", res, err)
	}
	if a := fake.rows[2]; a.Dirty {
		t.Fatalf("version 2 still dirty after a whole run: %+v", a)
	}

	// 4. force 2 on a dirty version 2 (the DBA completed it by hand) records it clean.
	fake.rows[2] = Applied{Version: 2, Name: m2.Name, Checksum: m2.Checksum, Dirty: true}
	if err := Force(ctx, db, Oracle, 2); err != nil {
		t.Fatal(err)
	}
	if a := fake.rows[2]; a.Dirty || a.Checksum != m2.Checksum {
		t.Fatalf("force 2: %+v", a)
	}
	// Force records version 2 as the schema's version: what comes after it is applied next.
	if res, err := Run(ctx, db, Oracle); err != nil || len(res.Applied) != len(migs)-2 || res.Current != len(migs) {
		t.Fatalf("after force: %+v %v", res, err)
	}
	if res, err := Run(ctx, db, Oracle); err != nil || len(res.Applied) != 0 {
		t.Fatalf("second run after force: %+v %v", res, err)
	}
	if err := Force(ctx, db, Oracle, 99); err == nil || !strings.Contains(err.Error(), "between 0 and") {
		t.Errorf("force 99: %v", err)
	}
}

func TestOraclePrintSQLExecutesNothing(t *testing.T) {
	migs, _ := Load(Oracle)
	fake := &fakeOracleHistory{rows: map[int]Applied{1: {Version: 1, Name: migs[0].Name, Checksum: migs[0].Checksum}}}
	rec := oracleshim.New(fake.respond)
	db := rec.DB()
	defer db.Close()
	plan, err := PlanRun(context.Background(), db, Oracle)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WritePlan(&out, plan); err != nil {
		t.Fatal(err)
	}
	for _, s := range rec.Statements() {
		if s.Kind != "query" {
			t.Errorf("--print-sql executed %s %q", s.Kind, firstLine(s.SQL))
		}
	}
	text := out.String()
	stmts, _ := Split(migs[1].SQL, Oracle)
	for _, want := range []string{
		"-- lakeport migrations for oracle: database at version 1, " + strconv.Itoa(len(migs)-1) + " to apply",
		OracleLock + "\n/\n",
		"INSERT INTO lakeport_schema_migrations (version, name, checksum, applied_at, dirty) VALUES (:1, :2, :3, :4, 1);\n-- binds: 2, 'partition_exchange', '" + migs[1].Checksum + "', <now: ",
		stmts[0] + ";\n",
		stmts[len(stmts)-1] + ";\n",
		"UPDATE lakeport_schema_migrations SET dirty = 0",
		OracleUnlock + "\n/\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan does not contain %q:\n%s", want, text)
		}
	}
	// The plan is what Run executes: the same statements, in the same order.
	fake2 := &fakeOracleHistory{rows: map[int]Applied{1: fake.rows[1]}}
	rec2 := oracleshim.New(fake2.respond)
	db2 := rec2.DB()
	defer db2.Close()
	if _, err := Run(context.Background(), db2, Oracle); err != nil {
		t.Fatal(err)
	}
	var planned []string
	planned = append(planned, plan.Lock)
	for _, st := range plan.Steps {
		for _, s := range st.Statements {
			planned = append(planned, s.SQL)
		}
	}
	planned = append(planned, plan.Unlock)
	if got := rec2.Execs(); strings.Join(onlyExecs(rec2), "\n;;\n") != strings.Join(planned, "\n;;\n") {
		t.Errorf("run executed\n%q\nplan printed\n%q", got, planned)
	}
}

func onlyExecs(r *oracleshim.Recorder) []string {
	var out []string
	for _, s := range r.Statements() {
		if s.Kind == "exec" {
			out = append(out, s.SQL)
		}
	}
	return out
}

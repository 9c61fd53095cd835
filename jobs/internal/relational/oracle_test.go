package relational

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/migrate"
	"github.com/lakeport/lakeport/jobs/internal/relational/oracleshim"
)

func TestArrayBatches(t *testing.T) {
	c, open := records(t, "frtb_sensitivities", 2345, 1)
	rdr := open()
	defer rdr.Release()
	var sizes []int
	var nulls int
	n, err := ArrayBatches(rdr, 1000, func(cols []any) error {
		if len(cols) != len(c.Columns) {
			t.Fatalf("%d columns", len(cols))
		}
		first := cols[0].([]any)
		sizes = append(sizes, len(first))
		for _, col := range cols {
			if len(col.([]any)) != len(first) {
				t.Fatal("ragged batch")
			}
		}
		for _, v := range cols[c.ColumnIndex("risk_weight")].([]any) {
			if v == nil {
				nulls++
			}
		}
		if _, ok := cols[c.ColumnIndex("trade_count")].([]any)[0].(int64); !ok {
			t.Errorf("int32 column not widened: %T", cols[c.ColumnIndex("trade_count")].([]any)[0])
		}
		// A DATE is bound as text for TO_DATE, never as a time.Time (TIMESTAMP WITH TIME ZONE).
		if d, ok := cols[0].([]any)[0].(string); !ok || d != "2026-03-02" {
			t.Errorf("cob_date %#v", cols[0].([]any)[0])
		}
		if ts, ok := cols[c.ColumnIndex("computed_at")].([]any)[0].(time.Time); !ok || ts.Location() != time.UTC {
			t.Errorf("computed_at %#v", cols[c.ColumnIndex("computed_at")].([]any)[0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2345 || len(sizes) != 3 || sizes[0] != 1000 || sizes[2] != 345 {
		t.Errorf("rows %d batches %v", n, sizes)
	}
	if nulls == 0 {
		t.Error("nullable risk_weight produced no nil")
	}
}

// Statements of the Oracle loader as of b5197db, kept as fixtures: the checks below must fail on
// them (placeholders bound per occurrence: 14 placeholders for 7 arguments; a time.Time bound
// against the DATE column cob_date).
const (
	oldRecord = `MERGE INTO publications p USING (SELECT :1 AS dataset, :2 AS cob_date FROM dual) s
ON (p.dataset = s.dataset AND p.cob_date = s.cob_date)
WHEN MATCHED THEN UPDATE SET run_id = :3, snapshot_id = :4, input_sha256 = :5, content_checksum = :6, row_count = :7, published_at = SYSTIMESTAMP
WHEN NOT MATCHED THEN INSERT (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, published_at)
VALUES (:1, :2, :3, :4, :5, :6, :7, SYSTIMESTAMP)`
	oldDelete = `DELETE FROM drc WHERE cob_date = :1`
)

var toDateRE = regexp.MustCompile(`TO_DATE\(:(\w+), 'YYYY-MM-DD'\)`)

// dateBindProblems lists the binds of s that would reach Oracle as TIMESTAMP WITH TIME ZONE
// where a DATE is compared or stored: every time.Time bind (scalar or array) is one, except an
// array bound to a TIMESTAMP WITH TIME ZONE column (tsColumns, by 1-based placeholder number);
// every date must be a 'YYYY-MM-DD' string read by TO_DATE(:n, 'YYYY-MM-DD').
func dateBindProblems(s oracleshim.Statement, tsColumns map[int]bool) []string {
	var out []string
	toDate := map[string]bool{}
	for _, m := range toDateRE.FindAllStringSubmatch(s.SQL, -1) {
		toDate[m[1]] = true
	}
	dateRE := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	for i, a := range s.Args {
		name := ""
		if i < len(s.Placeholders) {
			name = s.Placeholders[i]
		}
		switch {
		case a.Type == "time.Time" || a.Elem == "time.Time":
			if !tsColumns[i+1] {
				out = append(out, fmt.Sprintf("bind %d (:%s) is a time.Time: go-ora sends TIMESTAMP WITH TIME ZONE", i+1, name))
			}
		case a.Type == "string" && dateRE.MatchString(a.Value.(string)) && !toDate[name]:
			out = append(out, fmt.Sprintf("bind %d (:%s) is a date string outside TO_DATE(:%s, 'YYYY-MM-DD')", i+1, name, name))
		case a.Elem == "string" && toDate[name]:
			// an array of dates read by TO_DATE
		}
	}
	return out
}

// model replays the recorded statements as Oracle would commit them (autocommit outside a
// transaction, COMMIT, DDL's implicit commit; ROLLBACK discards) and keeps what a reader would see
// afterwards.
type model struct {
	step, stepError string
	published       string // run id in publications
	state           string // publication_states.state
	partition       string // "old" or "new" rows in the date's partition
	stageDropped    bool
}

func replay(stmts []oracleshim.Statement, st OracleStatements) model {
	m := model{partition: "old"}
	var pending []oracleshim.Statement
	apply := func(s oracleshim.Statement) {
		switch s.SQL {
		case st.Step:
			m.step, m.stepError = s.Args[3].Value.(string), ""
		case st.StepError:
			m.stepError = s.Args[0].Value.(string)
		case st.Record:
			m.published = s.Args[2].Value.(string)
		case st.SetState:
			m.state = s.Args[2].Value.(string)
		case st.Exchange:
			m.partition = "new"
		case st.DropStage:
			m.stageDropped = true
		}
	}
	for i, s := range stmts {
		switch s.Kind {
		case "begin":
			pending = nil
		case "commit":
			for _, p := range pending {
				apply(p)
			}
			pending = nil
		case "rollback":
			pending = nil
		case "exec", "query":
			if s.InTx && s.Err == "" {
				pending = append(pending, s)
			}
		case "implicit-commit":
			// The DDL itself took effect; recorded just before.
			apply(stmts[i-1])
		}
		if (s.Kind == "exec" || s.Kind == "query") && !s.InTx && !isDDL(s.SQL) && s.Err == "" {
			apply(s)
		}
	}
	return m
}

func isDDL(q string) bool {
	u := strings.ToUpper(strings.TrimSpace(q))
	return strings.HasPrefix(u, "CREATE") || strings.HasPrefix(u, "ALTER") || strings.HasPrefix(u, "DROP")
}

// scripted answers the loader's statements like an Oracle that already has the date's partition
// and no leftover stage, and fails the statement failAt (prefix) when set.
func scripted(st OracleStatements, replaced int64, failAt string) oracleshim.Responder {
	return func(s oracleshim.Statement) oracleshim.Response {
		if failAt != "" && strings.HasPrefix(s.SQL, failAt) {
			return oracleshim.Response{Err: errors.New("ORA-00600: injected failure")}
		}
		switch {
		case s.SQL == st.DropStage:
			return oracleshim.Response{Err: errors.New("ORA-00942: table or view does not exist")}
		case s.SQL == st.AddPartition:
			return oracleshim.Response{Err: errors.New("ORA-14312: Value DATE '2026-03-02' already exists in partition SYS_P101")}
		case s.SQL == st.CountStage:
			return oracleshim.Response{Columns: []string{"COUNT(*)"}, Rows: [][]driver.Value{{replaced}}}
		case s.SQL == st.Insert:
			return oracleshim.Response{RowsAffected: int64(s.Args[0].Len)}
		}
		return oracleshim.Response{RowsAffected: 1}
	}
}

// dropStageOnce answers the first DROP of the stage with ORA-00942 (no leftover) and the
// clean-up DROP with success.
func dropStageOnce(next oracleshim.Responder, st OracleStatements) oracleshim.Responder {
	drops := 0
	return func(s oracleshim.Statement) oracleshim.Response {
		if s.SQL == st.DropStage {
			drops++
			if drops > 1 {
				return oracleshim.Response{}
			}
		}
		return next(s)
	}
}

func tsColumns(c *contract.Contract) map[int]bool {
	out := map[int]bool{}
	for i, col := range c.Columns {
		if col.Type == contract.Timestamp {
			out[i+1] = true
		}
	}
	return out
}

func TestOracleLoadByPartitionExchange(t *testing.T) {
	ctx := context.Background()
	c, open := records(t, "drc", 2500, 1)
	st := OracleSQL(c, cob)
	rec := oracleshim.New(dropStageOnce(scripted(st, 1800, ""), st))
	db := rec.DB()
	defer db.Close()
	o := NewOracle(db, 1000)
	rdr := open()
	defer rdr.Release()
	pub := Publication{Dataset: "drc", CobDate: cob, RunID: "run-1", SnapshotID: 42, SnapshotSeq: 7, InputSHA256: "in", ContentChecksum: "cc"}
	res, err := o.Load(ctx, c, pub, rdr)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 2500 || res.Replaced != 1800 {
		t.Errorf("result %+v", res)
	}
	stmts := rec.Statements()

	// Every statement binds exactly what its placeholders ask for, and dates as dates.
	for _, s := range stmts {
		if s.Kind != "exec" && s.Kind != "query" {
			continue
		}
		if err := oracleshim.CheckBinds(s.SQL, s.Placeholders, s.Args); err != nil {
			t.Errorf("%s: %v", firstLine(s.SQL), err)
		}
		ts := map[int]bool{}
		if s.SQL == st.Insert {
			ts = tsColumns(c)
		}
		for _, p := range dateBindProblems(s, ts) {
			t.Errorf("%s: %s", firstLine(s.SQL), p)
		}
	}

	// The sequence, in order (kinds and statements).
	var got []string
	for _, s := range stmts {
		switch s.Kind {
		case "exec", "query":
			label := firstLine(s.SQL)
			if s.SQL == st.Step {
				label = "step " + s.Args[3].Value.(string)
			}
			if s.SQL == st.Insert {
				label = fmt.Sprintf("insert %d rows", s.Args[0].Len)
			}
			got = append(got, label)
		default:
			got = append(got, s.Kind)
		}
	}
	want := []string{
		"step staging",
		"DROP TABLE drc_x20260302 PURGE",
		"ALTER TABLE drc ADD PARTITION VALUES (DATE '2026-03-02')",
		"CREATE TABLE drc_x20260302 FOR EXCHANGE WITH TABLE drc", "implicit-commit",
		"begin", "insert 1000 rows", "commit",
		"begin", "insert 1000 rows", "commit",
		"begin", "insert 500 rows", "commit",
		"ALTER TABLE drc_x20260302 ADD CONSTRAINT drc_x20260302_pk PRIMARY KEY (issuer_id, seniority, desk, legal_entity, cob_date)", "implicit-commit",
		"BEGIN DBMS_STATS.GATHER_TABLE_STATS(ownname => USER, tabname => :1); END;",
		"step staged",
		"SELECT NVL(snapshot_seq, 0), run_id FROM publications WHERE dataset = :1 AND cob_date = TO_DATE(:2, 'YYYY-MM-DD')",
		"step exchanging",
		"ALTER TABLE drc EXCHANGE PARTITION FOR (DATE '2026-03-02') WITH TABLE drc_x20260302 INCLUDING INDEXES WITHOUT VALIDATION", "implicit-commit",
		"SELECT COUNT(*) FROM drc_x20260302",
		"begin", "MERGE INTO publications p", "INSERT INTO publication_log (dataset, cob_date, run_id, snapshot_id, input_sha256, content_checksum, row_count, snapshot_seq)", "step published",
		"MERGE INTO publication_states p", "INSERT INTO publication_state_log (dataset, cob_date, state, run_id, input_sha256, content_checksum, row_count, snapshot_id, snapshot_seq)", "commit",
		"DROP TABLE drc_x20260302 PURGE", "implicit-commit",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sequence:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// One session: the steps, the direct-path batches and the exchange run on one connection.
	for _, s := range stmts {
		if s.Conn != stmts[0].Conn {
			t.Errorf("statement %d on connection %d, not %d: %s", s.Seq, s.Conn, stmts[0].Conn, firstLine(s.SQL))
		}
	}
	// The array binds: one array per column, dates as text, the stats call names the stage.
	for _, s := range stmts {
		switch s.SQL {
		case st.Insert:
			if len(s.Args) != len(c.Columns) || s.Args[0].Elem != "string" || s.Args[c.ColumnIndex("computed_at")].Elem != "time.Time" {
				t.Errorf("insert binds %+v", s.Args[:2])
			}
		case st.Stats:
			if s.Args[0].Value != "DRC_X20260302" {
				t.Errorf("stats of %v", s.Args[0].Value)
			}
		}
	}
	if m := replay(stmts, st); m.step != OracleStepPublished || m.published != "run-1" || m.state != string(StatePublished) || m.partition != "new" || !m.stageDropped || m.stepError != "" {
		t.Errorf("after the load: %+v", m)
	}
}

// TestOracleFailureLeavesTheStatesRight fails the load at each statement and checks what a reader
// of the database would then see: before the exchange, the previous day and publication with the
// step reached and the error; after it, the new rows with step "exchanging" and the error, which
// is the divergence a re-run repairs; the stage is always dropped.
func TestOracleFailureLeavesTheStatesRight(t *testing.T) {
	c, open := records(t, "drc", 1200, 1)
	st := OracleSQL(c, cob)
	tests := []struct {
		failAt    string
		step      string
		partition string
		stage     bool // the stage existed, so it must be dropped
	}{
		{"CREATE TABLE", OracleStepStaging, "old", false},
		{"INSERT /*+ APPEND_VALUES */", OracleStepStaging, "old", true},
		{"ALTER TABLE drc_x20260302 ADD CONSTRAINT", OracleStepStaging, "old", true},
		{"BEGIN DBMS_STATS", OracleStepStaging, "old", true},
		{"ALTER TABLE drc EXCHANGE", OracleStepExchanging, "old", true},
		{"SELECT COUNT(*) FROM drc_x", OracleStepExchanging, "new", true},
		{"MERGE INTO publications", OracleStepExchanging, "new", true},
		{"INSERT INTO publication_log", OracleStepExchanging, "new", true},
		{"MERGE INTO publication_states", OracleStepExchanging, "new", true},
		{"INSERT INTO publication_state_log", OracleStepExchanging, "new", true},
	}
	for _, tt := range tests {
		t.Run(tt.failAt, func(t *testing.T) {
			rec := oracleshim.New(dropStageOnce(scripted(st, 900, tt.failAt), st))
			db := rec.DB()
			defer db.Close()
			rdr := open()
			defer rdr.Release()
			_, err := NewOracle(db, 500).Load(context.Background(), c, Publication{Dataset: "drc", CobDate: cob, RunID: "run-2"}, rdr)
			if err == nil || !strings.Contains(err.Error(), "ORA-00600") {
				t.Fatalf("err = %v", err)
			}
			m := replay(rec.Statements(), st)
			if m.step != tt.step || m.partition != tt.partition || m.published != "" || m.state != "" || !strings.Contains(m.stepError, "ORA-00600") {
				t.Errorf("after a failure at %q: %+v, want step %s, partition %s, nothing published, the error recorded", tt.failAt, m, tt.step, tt.partition)
			}
			if m.stageDropped != tt.stage {
				t.Errorf("stage dropped %v, want %v", m.stageDropped, tt.stage)
			}
			for _, s := range rec.Statements() {
				if s.SQL == st.Exchange && tt.partition == "old" && tt.failAt != "ALTER TABLE drc EXCHANGE" {
					t.Errorf("exchanged after a failure at %q", tt.failAt)
				}
			}
		})
	}
}

// TestOracleChecksCatchTheOldDefects runs the checks above on the statements as of b5197db.
func TestOracleChecksCatchTheOldDefects(t *testing.T) {
	args := []oracleshim.Arg{{Type: "string", Value: "drc"}, {Type: "time.Time", Value: cob}, {Type: "string"}, {Type: "int64"},
		{Type: "string"}, {Type: "string"}, {Type: "int64"}}
	err := oracleshim.CheckBinds(oldRecord, oracleshim.Placeholders(oldRecord), args)
	if err == nil || !strings.Contains(err.Error(), "ORA-01008") {
		t.Errorf("old MERGE: %v", err)
	}
	if n := len(oracleshim.Placeholders(oldRecord)); n != 14 {
		t.Errorf("old MERGE has %d placeholders", n)
	}
	// Through database/sql and the shim, as the old loader called it.
	db := oracleshim.New(nil).DB()
	defer db.Close()
	if _, err := db.Exec(oldRecord, "drc", cob, "r", int64(1), "i", "c", int64(2)); err == nil || !strings.Contains(err.Error(), "ORA-01008") {
		t.Errorf("old MERGE through the shim: %v", err)
	}
	del := oracleshim.Statement{SQL: oldDelete, Placeholders: oracleshim.Placeholders(oldDelete), Args: []oracleshim.Arg{{Type: "time.Time", Value: cob}}}
	if p := dateBindProblems(del, nil); len(p) != 1 {
		t.Errorf("old DELETE date bind: %v", p)
	}
	// And the new statements pass them.
	c, _ := contract.Load("drc")
	st := OracleSQL(c, cob)
	for name, q := range map[string]string{"Record": st.Record, "Log": st.Log} {
		if n := len(oracleshim.Placeholders(q)); n != 8 {
			t.Errorf("%s: %d placeholders, want 8", name, n)
		}
	}
	for name, q := range map[string]string{"SetState": st.SetState, "LogState": st.LogState} {
		if n := len(oracleshim.Placeholders(q)); n != 9 {
			t.Errorf("%s: %d placeholders, want 9", name, n)
		}
	}
	if n := len(oracleshim.Placeholders(st.Step)); n != 8 {
		t.Errorf("Step: %d placeholders", n)
	}
}

func TestOracleShimBindsLikeGoOra(t *testing.T) {
	for _, tt := range []struct {
		sql  string
		want []string
	}{
		{"SELECT :1, ':2', \"x:3\" FROM dual -- :4\nWHERE a = :5 /* :6 */", []string{"1", "5"}},
		{"SELECT TO_CHAR(d, 'HH24:MI:SS') FROM t WHERE d = TO_DATE(:d, 'YYYY-MM-DD')", []string{"d"}},
		{"MERGE INTO t USING (SELECT :a AS a FROM dual) s ON (t.a = s.a) WHEN NOT MATCHED THEN INSERT (a) VALUES (:a)", []string{"a", "a"}},
	} {
		if got := oracleshim.Placeholders(tt.sql); strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%q: %v, want %v", tt.sql, got, tt.want)
		}
	}
	// PL/SQL binds a repeated name once; SQL once per occurrence; named arguments by name.
	plsql := "BEGIN x(:a); y(:a); END;"
	if err := oracleshim.CheckBinds(plsql, oracleshim.Placeholders(plsql), []oracleshim.Arg{{}}); err != nil {
		t.Error(err)
	}
	q := "SELECT 1 FROM dual WHERE :a = :a"
	if err := oracleshim.CheckBinds(q, oracleshim.Placeholders(q), []oracleshim.Arg{{}}); err == nil {
		t.Error("SQL with a repeated positional placeholder bound once: no error")
	}
	if err := oracleshim.CheckBinds(q, oracleshim.Placeholders(q), []oracleshim.Arg{{Name: "a"}}); err != nil {
		t.Error(err)
	}
	if err := oracleshim.CheckBinds(q, oracleshim.Placeholders(q), []oracleshim.Arg{{Name: "b"}}); err == nil {
		t.Error("missing named argument: no error")
	}
}

func TestOracleCountAndPublicationBindDates(t *testing.T) {
	c, _ := contract.Load("var_es")
	rec := oracleshim.New(func(s oracleshim.Statement) oracleshim.Response {
		if strings.HasPrefix(s.SQL, "SELECT COUNT(*)") {
			return oracleshim.Response{Columns: []string{"N"}, Rows: [][]driver.Value{{int64(7)}}}
		}
		return oracleshim.Response{Columns: []string{"a"}}
	})
	db := rec.DB()
	defer db.Close()
	o := NewOracle(db, 0)
	// A date late in the day east of UTC is still the same close-of-business date.
	tokyo := time.FixedZone("JST", 9*3600)
	if n, err := o.Count(context.Background(), c, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).In(tokyo)); err != nil || n != 7 {
		t.Fatalf("count %d %v", n, err)
	}
	if p, err := o.Publication(context.Background(), "var_es", cob); err != nil || p != nil {
		t.Fatalf("publication %+v %v", p, err)
	}
	for _, s := range rec.Statements() {
		if len(s.Args) != len(s.Placeholders) {
			t.Errorf("%s: %d args for %v", s.SQL, len(s.Args), s.Placeholders)
		}
		for _, p := range dateBindProblems(s, nil) {
			t.Errorf("%s: %s", firstLine(s.SQL), p)
		}
		if s.Args[len(s.Args)-1].Value != "2026-03-02" {
			t.Errorf("%s: date bound as %v", firstLine(s.SQL), s.Args[len(s.Args)-1].Value)
		}
	}
}

// The publisher records the state machine (pending -> iceberg-committed -> published) in every
// loader that is a StateStore; Oracle recorded only its own load steps (relational_loads) before,
// so a crash between the Iceberg commit and the exchange left nothing that inspect or a re-run
// could read.
var _ StateStore = (*Oracle)(nil)

// TestOraclePublicationStates: SetState writes the current row and the log in one transaction,
// binding exactly its placeholders and the date as text for TO_DATE; State reads it back; a
// schema without the table says to migrate.
func TestOraclePublicationStates(t *testing.T) {
	ctx := context.Background()
	updated := time.Date(2026, 3, 2, 22, 0, 0, 0, time.UTC)
	missing := false
	rec := oracleshim.New(func(s oracleshim.Statement) oracleshim.Response {
		if strings.HasPrefix(s.SQL, "SELECT dataset, TO_CHAR(cob_date") {
			if missing {
				return oracleshim.Response{Err: errors.New("ORA-00942: table or view does not exist")}
			}
			return oracleshim.Response{Columns: []string{"DATASET", "COB_DATE", "STATE", "RUN_ID", "INPUT_SHA256", "CONTENT_CHECKSUM", "ROW_COUNT", "SNAPSHOT_ID", "SNAPSHOT_SEQ", "UPDATED_AT"},
				Rows: [][]driver.Value{{"drc", "2026-03-02", "iceberg-committed", "run-9", "in", "cc", int64(2500), int64(42), int64(7), updated}}}
		}
		return oracleshim.Response{RowsAffected: 1}
	})
	db := rec.DB()
	defer db.Close()
	o := NewOracle(db, 0)
	tokyo := time.FixedZone("JST", 9*3600)
	for _, st := range []PublicationState{
		{Dataset: "drc", CobDate: cob.In(tokyo), State: StatePending, RunID: "run-9", InputSHA256: "in", ContentChecksum: "cc", Rows: 2500},
		{Dataset: "drc", CobDate: cob, State: StateIcebergCommitted, RunID: "run-9", InputSHA256: "in", ContentChecksum: "cc", Rows: 2500, SnapshotID: 42, SnapshotSeq: 7},
	} {
		if err := o.SetState(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	var kinds []string
	for _, s := range rec.Statements() {
		if s.Kind == "exec" || s.Kind == "query" {
			kinds = append(kinds, firstLine(s.SQL))
			if err := oracleshim.CheckBinds(s.SQL, s.Placeholders, s.Args); err != nil {
				t.Errorf("%s: %v", firstLine(s.SQL), err)
			}
			for _, p := range dateBindProblems(s, nil) {
				t.Errorf("%s: %s", firstLine(s.SQL), p)
			}
			if s.Args[1].Value != "2026-03-02" {
				t.Errorf("%s: cob_date bound as %v", firstLine(s.SQL), s.Args[1].Value)
			}
			if !s.InTx {
				t.Errorf("%s outside the transaction", firstLine(s.SQL))
			}
		} else {
			kinds = append(kinds, s.Kind)
		}
	}
	want := "begin,MERGE INTO publication_states p,INSERT INTO publication_state_log (dataset, cob_date, state, run_id, input_sha256, content_checksum, row_count, snapshot_id, snapshot_seq),commit"
	if got := strings.Join(kinds, ","); got != want+","+want {
		t.Errorf("statements %s", got)
	}
	// pending has no snapshot yet: NULL, not 0.
	if first := rec.Statements()[1]; first.Args[7].Value != nil || first.Args[8].Value != nil {
		t.Errorf("pending state binds snapshot %v / %v, want NULL", first.Args[7].Value, first.Args[8].Value)
	}
	got, err := o.State(ctx, "drc", cob)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.State != StateIcebergCommitted || got.SnapshotID != 42 || got.SnapshotSeq != 7 || !got.CobDate.Equal(cob) || !got.UpdatedAt.Equal(updated) {
		t.Errorf("state %+v", got)
	}
	missing = true
	if _, err := o.State(ctx, "drc", cob); err == nil || !strings.Contains(err.Error(), "run `distribution migrate` first") {
		t.Errorf("without the table: %v", err)
	}
}

// TestOracleRefusesAStaleSnapshot: when publications already records a newer Iceberg snapshot
// (another run committed after this one), the load stops before the exchange: the partition and
// the publication stay the newer run's, the stage is dropped and the refusal is recorded.
func TestOracleRefusesAStaleSnapshot(t *testing.T) {
	c, open := records(t, "drc", 1200, 1)
	st := OracleSQL(c, cob)
	rec := oracleshim.New(dropStageOnce(func(s oracleshim.Statement) oracleshim.Response {
		if s.SQL == st.Recorded {
			return oracleshim.Response{Columns: []string{"SEQ", "RUN_ID"}, Rows: [][]driver.Value{{int64(9), "run-newer"}}}
		}
		return scripted(st, 900, "")(s)
	}, st))
	db := rec.DB()
	defer db.Close()
	rdr := open()
	defer rdr.Release()
	_, err := NewOracle(db, 500).Load(context.Background(), c, Publication{Dataset: "drc", CobDate: cob, RunID: "run-older", SnapshotID: 5, SnapshotSeq: 5}, rdr)
	var stale *StaleSnapshotError
	if !errors.As(err, &stale) || stale.Recorded != 9 || stale.RecordedRun != "run-newer" {
		t.Fatalf("err = %v, want a stale snapshot refusal naming run-newer", err)
	}
	m := replay(rec.Statements(), st)
	if m.partition != "old" || m.published != "" || m.state != "" || !m.stageDropped || m.step != OracleStepStaged || !strings.Contains(m.stepError, "run-newer") {
		t.Errorf("after the refusal: %+v", m)
	}
}

// The Oracle schema has what the loader uses: LOCAL primary-key indexes (partition exchange
// INCLUDING INDEXES needs them; a global index would go unusable), no staging tables left, and
// relational_loads.
func TestOracleMigrationsFitTheLoader(t *testing.T) {
	migs, err := migrate.Load(migrate.Oracle)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, m := range migs {
		all.WriteString(m.SQL)
	}
	schema := all.String()
	for _, name := range contract.Names() {
		c, _ := contract.Load(name)
		pk := fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s_pk PRIMARY KEY (%s) USING INDEX LOCAL", c.Table, c.Table, strings.Join(c.Key, ", "))
		if !strings.Contains(schema, pk) {
			t.Errorf("no %q in the Oracle migrations", pk)
		}
		if !strings.Contains(schema, "DROP TABLE "+c.Table+"_stage") {
			t.Errorf("the global temporary table %s_stage is not dropped", c.Table)
		}
	}
	for _, col := range []string{"run_id", "step", "stage_table", "rows_loaded", "rows_replaced", "last_error", "updated_at"} {
		if !regexp.MustCompile(`(?s)CREATE TABLE relational_loads \(.*\b` + col + `\b`).MatchString(schema) {
			t.Errorf("relational_loads has no %s", col)
		}
	}
	// The publication state machine, as on PostgreSQL and SQLite.
	for _, table := range []string{"publication_states", "publication_state_log"} {
		for _, col := range []string{"dataset", "cob_date", "state", "run_id", "input_sha256", "content_checksum", "row_count", "snapshot_id", "snapshot_seq"} {
			if !regexp.MustCompile(`(?s)CREATE TABLE ` + table + ` \([^;]*\b` + col + `\b`).MatchString(schema) {
				t.Errorf("%s has no %s", table, col)
			}
		}
	}
	for _, table := range []string{"publications", "publication_log"} {
		if !strings.Contains(schema, "ALTER TABLE "+table+" ADD (snapshot_seq NUMBER(19));") {
			t.Errorf("%s has no snapshot_seq", table)
		}
	}
}

// TestRealOracle runs the loader against a real Oracle Database 12.2+ (ORACLE_DSN, e.g.
// oracle://lakeport:secret@localhost:1521/FREEPDB1; the schema must be disposable: the test
// applies the migrations and loads the date 2026-03-02 of drc twice).
func TestRealOracle(t *testing.T) {
	dsn := os.Getenv("ORACLE_DSN")
	if dsn == "" {
		t.Skip("ORACLE_DSN is not set: no real Oracle to test against (the shim tests above cover statements, binds and states only)")
	}
	ctx := context.Background()
	o, err := OpenOracle(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := migrate.Run(ctx, o.db, migrate.Oracle); err != nil {
		t.Fatal(err)
	}
	// A session east of UTC: a DATE bound as a timestamp would land on the previous day.
	if _, err := o.db.ExecContext(ctx, `ALTER SESSION SET TIME_ZONE = 'Asia/Tokyo'`); err != nil {
		t.Fatal(err)
	}
	c, open1 := records(t, "drc", 1500, 1)
	_, open2 := records(t, "drc", 1200, 2)
	for i, open := range []func() array.RecordReader{open1, open2} {
		rdr := open()
		res, err := o.Load(ctx, c, Publication{Dataset: "drc", CobDate: cob, RunID: fmt.Sprintf("real-%d", i), InputSHA256: "i", ContentChecksum: "c"}, rdr)
		rdr.Release()
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 && (res.Rows != 1200 || res.Replaced != 1500) {
			t.Errorf("second load %+v", res)
		}
	}
	if n, err := o.Count(ctx, c, cob); err != nil || n != 1200 {
		t.Fatalf("count %d %v", n, err)
	}
	pub, err := o.Publication(ctx, "drc", cob)
	if err != nil || pub == nil || pub.Rows != 1200 || !pub.CobDate.Equal(cob) || pub.RunID != "real-1" {
		t.Fatalf("publication %+v %v", pub, err)
	}
	state, err := o.LoadState(ctx, "drc", cob)
	if err != nil || state == nil || state.Step != OracleStepPublished || state.Error != "" {
		t.Fatalf("load state %+v %v", state, err)
	}
	if err := o.SetState(ctx, PublicationState{Dataset: "drc", CobDate: cob, State: StatePending, RunID: "real-2", InputSHA256: "i", ContentChecksum: "c", Rows: 1}); err != nil {
		t.Fatal(err)
	}
	if ps, err := o.State(ctx, "drc", cob); err != nil || ps == nil || ps.State != StatePending || ps.RunID != "real-2" || !ps.CobDate.Equal(cob) {
		t.Fatalf("publication state %+v %v", ps, err)
	}
	var locality string
	if err := o.db.QueryRowContext(ctx, `SELECT locality FROM user_part_indexes WHERE index_name = 'DRC_PK'`).Scan(&locality); err != nil || locality != "LOCAL" {
		t.Errorf("DRC_PK locality %q %v", locality, err)
	}
	var stages int
	if err := o.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_tables WHERE table_name LIKE 'DRC\_X%' ESCAPE '\'`).Scan(&stages); err != nil || stages != 0 {
		t.Errorf("%d stage tables left %v", stages, err)
	}
	_ = sql.ErrNoRows
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

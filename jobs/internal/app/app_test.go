package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/calendar"
	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/generate"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func genInput(t *testing.T, dir, dataset string, cob time.Time, rows int, faults ...generate.Fault) {
	t.Helper()
	c, err := contract.Load(dataset)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := generate.WriteDate(context.Background(), filepath.Join(dir, "input"), generate.Options{Contract: c, CobDate: cob, Rows: rows, Seed: 3, Faults: faults}); err != nil {
		t.Fatal(err)
	}
}

var cob = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	genInput(t, dir, "var_es", cob, 3000)
	genInput(t, dir, "drc", cob, 3000, generate.FaultOutOfRange)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
		report string
	}{
		{"no command", nil, ExitUsage, "", "Exit codes:", ""},
		{"unknown command", []string{"frobnicate"}, ExitUsage, "", `unknown command "frobnicate"`, ""},
		{"missing flags", []string{"publish", "--data-dir", dir}, ExitUsage, "", "--dataset is required", ""},
		{"unknown dataset", []string{"publish", "--data-dir", dir, "--dataset", "pnl", "--cob-date", "2026-03-02"}, ExitUsage, "", `unknown dataset "pnl"`, ""},
		{"bad date", []string{"validate", "--data-dir", dir, "--dataset", "drc", "--cob-date", "02/03/2026"}, ExitUsage, "", "--cob-date", ""},
		{"publish", []string{"publish", "--data-dir", dir, "--dataset", "var_es", "--cob-date", "2026-03-02", "--run-id", "r-1"}, ExitOK, "published var_es 2026-03-02: 3000 rows", "", ""},
		{"violation", []string{"publish", "--data-dir", dir, "--dataset", "drc", "--cob-date", "2026-03-02", "--report", filepath.Join(dir, "drc.json")}, ExitContractViolation, "", "range", filepath.Join(dir, "drc.json")},
		{"input not ready", []string{"publish", "--data-dir", dir, "--dataset", "frtb_sensitivities", "--cob-date", "2026-03-02"}, ExitInputNotReady, "", "input not ready", ""},
		{"validate passes", []string{"validate", "--data-dir", dir, "--dataset", "var_es", "--cob-date", "2026-03-02"}, ExitOK, "PASSED", "", ""},
		{"inspect", []string{"inspect", "--data-dir", dir}, ExitOK, "var_es              2026-03-02  3000", "", ""},
		{"contracts", []string{"contracts"}, ExitOK, "name: frtb_sensitivities", "", ""},
		{"shards without a run id", []string{"publish", "--data-dir", dir, "--dataset", "var_es", "--cob-date", "2026-03-02", "--shards", "2"}, ExitUsage, "", "--shards > 1 publishes one --dataset with a --run-id", ""},
		{"shard index out of range", []string{"publish", "--data-dir", dir, "--dataset", "var_es", "--cob-date", "2026-03-02", "--shards", "2", "--shard-index", "2", "--run-id", "x"}, ExitUsage, "", "--shard-index 2 of --shards 2", ""},
		{"shards on SQLite", []string{"publish", "--data-dir", dir, "--dataset", "var_es", "--cob-date", "2026-03-02", "--shards", "2", "--shard-index", "1", "--run-id", "x"}, ExitError, "", "only the postgres driver can", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			if !strings.Contains(out, tt.stdout) || !strings.Contains(errs, tt.stderr) {
				t.Errorf("stdout %q should contain %q; stderr %q should contain %q", out, tt.stdout, errs, tt.stderr)
			}
			if tt.report != "" {
				data, err := os.ReadFile(tt.report)
				if err != nil {
					t.Fatal(err)
				}
				var rep struct {
					Violations []struct{ Rule string }
				}
				if err := json.Unmarshal(data, &rep); err != nil || len(rep.Violations) == 0 || rep.Violations[0].Rule != "range" {
					t.Errorf("report %s: %v", data, err)
				}
			}
		})
	}
	// Nothing of drc was published.
	_, out, _ := run(t, "inspect", "--data-dir", dir, "-o", "json")
	var ins Inspection
	if err := json.Unmarshal([]byte(out), &ins); err != nil {
		t.Fatal(err)
	}
	for _, d := range ins.Datasets {
		if d.Dataset == "drc" && (d.IcebergRows != 0 || (d.DBRows != nil && *d.DBRows != 0)) {
			t.Errorf("drc was published: %+v", d)
		}
		if d.Dataset == "var_es" && (d.IcebergRows != 3000 || d.DBRows == nil || *d.DBRows != 3000 || d.RunID != "r-1" ||
			d.DBRunID != "r-1" || d.DBSnapshotID != d.SnapshotID || d.State != "published" || d.Divergence != "" ||
			fmt.Sprint(d.Tags) != "[run-2026-03-02-r-1]") {
			t.Errorf("var_es: %+v", d)
		}
	}
	if ins.Sample == nil || len(ins.Sample.Rows) == 0 || ins.IcebergSample == nil {
		t.Fatalf("no sample query result")
	}
	if fmt.Sprint(ins.Sample.Rows) != fmt.Sprint(ins.IcebergSample.Rows) {
		t.Errorf("database and Iceberg disagree:\n%v\n%v", ins.Sample.Rows, ins.IcebergSample.Rows)
	}
}

// TestVerificationFailureExitCode runs publish with a configuration whose Trino (a fake
// coordinator) counts fewer rows than were published.
func TestVerificationFailureExitCode(t *testing.T) {
	dir := t.TempDir()
	genInput(t, dir, "var_es", cob, 1000)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			fmt.Fprintf(w, `{"id":"q1","infoUri":"%[1]s/ui","nextUri":"%[1]s/v1/statement/queued/q1/1","stats":{"state":"QUEUED"}}`, srv.URL)
			return
		}
		fmt.Fprintf(w, `{"id":"q1","infoUri":"%s/ui","columns":[{"name":"_col0","type":"bigint","typeSignature":{"rawType":"bigint","arguments":[]}}],"data":[[999]],"stats":{"state":"FINISHED"}}`, srv.URL)
	}))
	defer srv.Close()
	cfg := fmt.Sprintf(`
input: {uri: %[1]s/input}
iceberg:
  catalog: {name: lakeport, uri: %[1]s/catalog.db}
  warehouse: %[1]s/warehouse
database: {driver: none}
trino: {url: "${TEST_TRINO_URL}"}
metrics: {textfile: %[1]s/metrics.prom}
`, dir)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_TRINO_URL", strings.Replace(srv.URL, "http://", "http://lakeport@", 1))
	code, out, errs := run(t, "publish", "--config", path, "--dataset", "var_es", "--cob-date", "2026-03-02")
	if code != ExitVerificationFailed || !strings.Contains(errs, "counts 999 rows") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	prom, err := os.ReadFile(filepath.Join(dir, "metrics.prom"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`lakeport_distribution_last_run_outcome{dataset="var_es",outcome="verification_failed"} 1`, `lakeport_distribution_rows{dataset="var_es",stage="iceberg"} 1000`} {
		if !strings.Contains(string(prom), want) {
			t.Errorf("metrics lack %s:\n%s", want, prom)
		}
	}
	t.Setenv("TEST_TRINO_URL", "")
	os.Unsetenv("TEST_TRINO_URL")
	code, _, errs = run(t, "publish", "--config", path, "--dataset", "var_es", "--cob-date", "2026-03-02")
	if code != ExitUsage || !strings.Contains(errs, "TEST_TRINO_URL") {
		t.Fatalf("unset variable: exit %d, stderr %s", code, errs)
	}
}

func TestParseDate(t *testing.T) {
	defer func(f func() time.Time) { now = f }(now)
	tests := []struct {
		calendar, today, in, want string
	}{
		{"target2", "2026-03-03", "previous-business-day", "2026-03-02"}, // Tuesday -> Monday
		{"target2", "2026-03-02", "previous-business-day", "2026-02-27"}, // Monday -> Friday
		{"target2", "2026-03-01", "t-1", "2026-02-27"},                   // Sunday -> Friday
		{"target2", "2026-04-07", "previous-business-day", "2026-04-02"}, // after Easter Monday -> Maundy Thursday
		{"target2", "2026-05-04", "previous-business-day", "2026-04-30"}, // after 1 May (Friday)
		{"none", "2026-04-07", "previous-business-day", "2026-04-06"},    // weekends only: the holiday
		{"target2", "2026-03-03", "today", "2026-03-03"},
		{"target2", "2026-03-03", "2025-12-31", "2025-12-31"},
	}
	for _, tt := range tests {
		cal, err := calendar.New(tt.calendar)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := time.Parse(time.DateOnly, tt.today)
		now = func() time.Time { return d.Add(90 * time.Minute) }
		got, err := parseDate(tt.in, cal)
		if err != nil || got.Format(time.DateOnly) != tt.want {
			t.Errorf("%s on %s (%s) = %v %v, want %s", tt.in, tt.today, tt.calendar, got, err, tt.want)
		}
	}
	cal, _ := calendar.New("")
	if _, err := parseDate("yesterday-ish", cal); err == nil {
		t.Error("no error for an unknown date")
	}
}

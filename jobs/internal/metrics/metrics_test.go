package metrics

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/hack/testenv"
)

var (
	cob     = time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	runTime = time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
)

func newAt(t time.Time) *Metrics {
	m := New()
	m.now = func() time.Time { return t }
	return m
}

func textfile(t *testing.T, m *Metrics) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "distribution.prom")
	if err := m.WriteTextfile(f); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFinish(t *testing.T) {
	// A snapshot id above 2^53 (iceberg-go draws them from 63 random bits): a float gauge would
	// round it; the label keeps it exact.
	const snap = int64(9007199254740993)
	tests := []struct {
		name       string
		run        Run
		want, lack []string
	}{
		{
			name: "success",
			run:  Run{Dataset: "var_es", CobDate: cob, Outcome: "success", Duration: 3 * time.Second, SnapshotID: snap},
			want: []string{
				`lakeport_distribution_last_run_outcome{dataset="var_es",outcome="success"} 1`,
				`lakeport_distribution_last_run_outcome{dataset="var_es",outcome="error"} 0`,
				`lakeport_distribution_last_run_timestamp_seconds{dataset="var_es"} 1.796436e+09`,
				`lakeport_distribution_last_success_timestamp_seconds{dataset="var_es"} 1.796436e+09`,
				`lakeport_distribution_cob_date_timestamp_seconds{dataset="var_es"} 1.7963424e+09`,
				`lakeport_distribution_last_run_cob_date_timestamp_seconds{dataset="var_es"} 1.7963424e+09`,
				`lakeport_distribution_iceberg_snapshot_info{dataset="var_es",snapshot_id="9007199254740993"} 1`,
				`lakeport_distribution_stores_diverged{dataset="var_es"} 0`,
				`lakeport_distribution_stage_duration_seconds{dataset="var_es",stage="total"} 3`,
			},
		},
		{
			name: "diverged failure: no success gauges",
			run:  Run{Dataset: "drc", CobDate: cob, Outcome: "error", SnapshotID: snap, Diverged: true},
			want: []string{
				`lakeport_distribution_last_run_outcome{dataset="drc",outcome="error"} 1`,
				`lakeport_distribution_last_run_outcome{dataset="drc",outcome="success"} 0`,
				`lakeport_distribution_stores_diverged{dataset="drc"} 1`,
			},
			lack: []string{"lakeport_distribution_last_success_timestamp_seconds", "lakeport_distribution_iceberg_snapshot_info", "lakeport_distribution_cob_date_timestamp_seconds"},
		},
		{
			name: "unknown outcome counts as error",
			run:  Run{Dataset: "drc", CobDate: cob, Outcome: "exploded"},
			want: []string{`lakeport_distribution_last_run_outcome{dataset="drc",outcome="error"} 1`},
			lack: []string{`outcome="exploded"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newAt(runTime)
			m.Finish(tc.run)
			got := textfile(t, m)
			for _, w := range tc.want {
				if !strings.Contains(got, w+"\n") {
					t.Errorf("missing %s in:\n%s", w, got)
				}
			}
			for _, l := range tc.lack {
				if strings.Contains(got, l) {
					t.Errorf("unexpected %s in:\n%s", l, got)
				}
			}
		})
	}
}

// series returns the sample lines of metric name in a text exposition that carry every label
// pair in labels.
func series(expo, name string, labels ...string) []string {
	var out []string
	for l := range strings.SplitSeq(expo, "\n") {
		if !strings.HasPrefix(l, name+"{") && !strings.HasPrefix(l, name+" ") {
			continue
		}
		if !slices.ContainsFunc(labels, func(p string) bool { return !strings.Contains(l, p) }) {
			out = append(out, l)
		}
	}
	return out
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics") //nolint:noctx // a test against a local server
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPushGroups pushes runs to a real Pushgateway and reads back what Prometheus would scrape:
// groups per dataset and shard that neither collide nor keep an earlier run's series, and a last
// success that survives a failed run.
func TestPushGroups(t *testing.T) {
	pg, err := testenv.StartPushgateway()
	testenv.NeedServer(t, err)
	defer pg.Stop()
	ctx := context.Background()
	ns := map[string]string{"namespace": "risk-dev"}

	// Day 1: var_es violates its contract (shard 0), drc succeeds, in one process.
	m := newAt(runTime)
	m.Violations.WithLabelValues("var_es", "not_null:position_id").Set(3)
	m.Finish(Run{Dataset: "var_es", CobDate: cob, Outcome: "contract_violation"})
	m.Rows.WithLabelValues("drc", "iceberg").Set(1000)
	m.Finish(Run{Dataset: "drc", CobDate: cob, Outcome: "success", SnapshotID: 42})
	if err := m.Push(ctx, pg.URL, 0, ns); err != nil {
		t.Fatal(err)
	}
	// A second shard of drc pushes its own group: it must not replace shard 0's.
	m2 := newAt(runTime)
	m2.Rows.WithLabelValues("drc", "iceberg").Set(500)
	m2.Finish(Run{Dataset: "drc", CobDate: cob, Outcome: "success"})
	if err := m2.Push(ctx, pg.URL, 1, ns); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, pg.URL)
	for _, c := range []struct {
		name   string
		labels []string
		n      int
	}{
		{NameViolations, []string{`dataset="var_es"`, `rule="not_null:position_id"`, `shard="0"`, `job="lakeport_distribution"`, `namespace="risk-dev"`}, 1},
		{NameRows, []string{`dataset="drc"`, `stage="iceberg"`}, 2},
		{NameRows, []string{`dataset="drc"`, `shard="1"`, `} 500`}, 1},
		{NameLastSuccess, []string{`dataset="drc"`, `result="success"`}, 2},
		{NameLastSuccess, []string{`dataset="var_es"`}, 0},
		{NameSnapshot, []string{`dataset="drc"`, `snapshot_id="42"`, `shard="0"`}, 1},
		{NameLastOutcome, []string{`dataset="var_es"`, `outcome="contract_violation"`, `} 1`}, 1},
	} {
		if s := series(got, c.name, c.labels...); len(s) != c.n {
			t.Errorf("%s %v: %d series, want %d: %q", c.name, c.labels, len(s), c.n, s)
		}
	}

	// Day 2: var_es passes (its violations must go), drc fails (its last success must stay).
	m = newAt(runTime.Add(24 * time.Hour))
	m.Finish(Run{Dataset: "var_es", CobDate: cob.AddDate(0, 0, 1), Outcome: "success", SnapshotID: 43})
	m.Finish(Run{Dataset: "drc", CobDate: cob.AddDate(0, 0, 1), Outcome: "error"})
	if err := m.Push(ctx, pg.URL, 0, ns); err != nil {
		t.Fatal(err)
	}
	got = scrape(t, pg.URL)
	if s := series(got, NameViolations); len(s) != 0 {
		t.Errorf("yesterday's violations left behind: %q", s)
	}
	if s := series(got, NameRows, `dataset="drc"`, `shard="0"`); len(s) != 0 {
		t.Errorf("the failed run's group kept the previous run's rows: %q", s)
	}
	if s := series(got, NameLastSuccess, `dataset="drc"`, `shard="0"`, "1.796436e+09"); len(s) != 1 {
		t.Errorf("drc's last success (day 1) lost after a failed run: %q", series(got, NameLastSuccess))
	}
	if s := series(got, NameLastOutcome, `dataset="drc"`, `shard="0"`, `outcome="error"`, "} 1"); len(s) != 1 {
		t.Errorf("drc's last outcome: %q", series(got, NameLastOutcome, `dataset="drc"`))
	}
	if s := series(got, NameSnapshot, `dataset="var_es"`); len(s) != 1 || !strings.Contains(s[0], `snapshot_id="43"`) {
		t.Errorf("var_es snapshot: %q", s)
	}
	// No group per cob_date or run: the groups are the datasets × shards × {run, success}.
	groups := series(got, "push_time_seconds")
	if len(groups) != 6 { // var_es/0 run+success, drc/0 run+success, drc/1 run+success
		t.Errorf("%d groups, want 6: %q", len(groups), groups)
	}
}

func TestPushFailureIsAnError(t *testing.T) {
	m := New()
	m.Finish(Run{Dataset: "drc", CobDate: cob, Outcome: "success"})
	// Nothing listens on port 1 of the loopback.
	if err := m.Push(context.Background(), "http://127.0.0.1:1", 0, nil); err == nil || !strings.Contains(err.Error(), "drc") {
		t.Fatalf("err = %v", err)
	}
}

// TestDashboardsAndAlertsNameExportedMetrics reads every lakeport_distribution_* name the
// distribution chart's dashboard and alerts use and requires the job's registry to export it.
func TestDashboardsAndAlertsNameExportedMetrics(t *testing.T) {
	m := New()
	m.Rows.WithLabelValues("d", "input").Set(1)
	m.Bytes.WithLabelValues("d", "input").Set(1)
	m.Violations.WithLabelValues("d", "r").Set(1)
	m.Finish(Run{Dataset: "d", CobDate: cob, Outcome: "success", SnapshotID: 1})
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, mf := range mfs {
		exported[mf.GetName()] = true
	}
	name := regexp.MustCompile(`lakeport_distribution_[a-z0-9_]+`)
	files, err := filepath.Glob("../../../charts/distribution/files/*.json")
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := filepath.Glob("../../../charts/distribution/templates/prometheusrule*.yaml")
	files = append(files, rules...)
	if len(files) < 2 {
		t.Fatalf("found %v: want the dashboard(s) and the PrometheusRule template", files)
	}
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range name.FindAllString(string(b), -1) {
			seen++
			if !exported[n] {
				t.Errorf("%s names %s, which the job does not export (it exports %v)", f, n, keys(exported))
			}
		}
	}
	if seen == 0 {
		t.Fatal("no metric names found")
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestExportedList: charts/observability/exported/distribution.yaml, the list the dashboards'
// and alerts' expressions are checked against (charts/observability), is exactly what the
// registry exports plus the Pushgateway's own per-group metrics.
func TestExportedList(t *testing.T) {
	m := New()
	m.Rows.WithLabelValues("d", "input").Set(1)
	m.Bytes.WithLabelValues("d", "input").Set(1)
	m.Violations.WithLabelValues("d", "r").Set(1)
	m.Finish(Run{Dataset: "d", CobDate: cob, Outcome: "success", SnapshotID: 1})
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"push_failure_time_seconds", "push_time_seconds"}
	for _, mf := range mfs {
		want = append(want, mf.GetName())
	}
	slices.Sort(want)
	const path = "../../../charts/observability/exported/distribution.yaml"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	in := false
	for l := range strings.SplitSeq(string(b), "\n") {
		switch {
		case l == "metrics:":
			in = true
		case in && strings.HasPrefix(l, "  - lakeport_pipeline_"):
			// The pipeline's exit handler pushes these (jobs/internal/app, TestPipelineMetricsExported).
		case in && strings.HasPrefix(l, "  - "):
			got = append(got, strings.TrimPrefix(l, "  - "))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s lists %v; the job exports %v", path, got, want)
	}
}

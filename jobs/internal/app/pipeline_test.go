package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/calendar"
)

// TestRunDay: the pipeline's cob date is the day before the scheduled date in the schedule's
// time zone, and TARGET2 holidays and weekends are not business days (the days around Easter
// 2026 and 1 May).
func TestRunDay(t *testing.T) {
	cal, err := calendar.New("target2")
	if err != nil {
		t.Fatal(err)
	}
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name     string
		at       time.Time
		loc      *time.Location
		cobDate  string
		want     string
		business bool
		reason   string
	}{
		{"Tuesday night publishes Monday", at("2026-12-08T01:30:00Z"), london, "auto", "2026-12-07", true, ""},
		{"Saturday night publishes Friday", at("2026-12-05T01:30:00Z"), london, "auto", "2026-12-04", true, ""},
		{"Good Friday is a TARGET2 holiday", at("2026-04-04T00:30:00Z"), london, "auto", "2026-04-03", false, "Good Friday"},
		{"Easter Monday is a TARGET2 holiday", at("2026-04-07T00:30:00Z"), london, "auto", "2026-04-06", false, "Easter Monday"},
		{"Tuesday after Easter publishes the Tuesday", at("2026-04-08T00:30:00Z"), london, "auto", "2026-04-07", true, ""},
		{"1 May is a TARGET2 holiday", at("2026-05-02T00:30:00Z"), london, "auto", "2026-05-01", false, "Labour Day"},
		{"Thursday 30 April is not", at("2026-05-01T00:30:00Z"), london, "auto", "2026-04-30", true, ""},
		// 00:30 on Wednesday in London (BST) is 23:30 on Tuesday in UTC: the London date counts.
		{"the schedule's time zone decides the date", at("2026-06-09T23:30:00Z"), london, "auto", "2026-06-09", true, ""},
		{"the same instant in UTC is a day earlier", at("2026-06-09T23:30:00Z"), time.UTC, "auto", "2026-06-08", true, ""},
		{"Sunday is a weekend", at("2026-12-07T01:30:00Z"), london, "auto", "2026-12-06", false, "weekend"},
		{"an explicit date", time.Time{}, london, "2026-12-25", "2026-12-25", false, "Christmas Day"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := runDay(cal, tc.at, tc.loc, 1, tc.cobDate)
			if err != nil {
				t.Fatal(err)
			}
			if d.CobDate != tc.want || d.BusinessDay != tc.business || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("got %+v, want cob %s business %v reason %q", d, tc.want, tc.business, tc.reason)
			}
		})
	}
	if _, err := runDay(cal, time.Time{}, london, 1, "auto"); err == nil {
		t.Error("auto without --at: want an error")
	}
}

// TestCalendarCommand: the output files Argo reads as the step's output parameters, and the
// exit codes (a holiday is an answer, exit 0; an unresolved Argo variable is a usage error).
func TestCalendarCommand(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		files map[string]string
	}{
		{"business day", []string{"--at=2026-12-08T01:30:00Z", "--time-zone=Europe/London"}, ExitOK,
			map[string]string{"business-day": "true", "cob-date": "2026-12-07", "reason": ""}},
		{"holiday", []string{"--at=2026-05-02T00:30:00Z", "--time-zone=Europe/London"}, ExitOK,
			map[string]string{"business-day": "false", "cob-date": "2026-05-01", "reason": "Labour Day"}},
		{"unresolved variable", []string{"--at={{workflow.scheduledTime}}"}, ExitUsage, nil},
		{"bad time zone", []string{"--at=2026-12-08T01:30:00Z", "--time-zone=Europe/Lndon"}, ExitUsage, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			code, stdout, stderr := run(t, append([]string{"calendar", "--data-dir", dir, "--out-dir", out}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, stdout, stderr)
			}
			for name, want := range tc.files {
				b, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Fatal(err)
				}
				if string(b) != want {
					t.Errorf("%s = %q, want %q", name, b, want)
				}
			}
			if tc.code == ExitOK {
				var d Day
				if err := json.Unmarshal([]byte(stdout), &d); err != nil || d.Calendar != "target2" {
					t.Errorf("stdout %q: %v", stdout, err)
				}
			}
		})
	}
}

// TestWaitInput: waits until the _SUCCESS marker appears; without it, exit 4 once --timeout
// has passed on the (injected) clock.
func TestWaitInput(t *testing.T) {
	dir := t.TempDir()
	genInput(t, dir, "var_es", cob, 100)
	marker := filepath.Join(dir, "input", "var_es", "cob_date=2026-03-02", "_SUCCESS")
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 3, 3, 1, 0, 0, 0, time.UTC)
	oldNow, oldSleep := now, sleep
	t.Cleanup(func() { now, sleep = oldNow, oldSleep })
	now = func() time.Time { return clock }
	sleeps := 0
	sleep = func(_ context.Context, d time.Duration) error {
		clock = clock.Add(d)
		sleeps++
		if sleeps == 3 {
			if err := os.WriteFile(marker, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	}
	args := []string{"wait-input", "--data-dir", dir, "--dataset", "var_es", "--cob-date", "2026-03-02", "--timeout", "10m", "--poll", "1m"}
	code, out, errs := run(t, args...)
	if code != ExitOK || sleeps != 3 || !strings.Contains(out, "input ready") {
		t.Fatalf("exit %d after %d polls, want 0 after 3\n%s%s", code, sleeps, out, errs)
	}

	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	sleeps = -100 // the marker never comes back
	start := clock
	code, out, errs = run(t, args...)
	if code != ExitInputNotReady || !strings.Contains(errs, "var_es") {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitInputNotReady, out, errs)
	}
	if waited := clock.Sub(start); waited != 10*time.Minute {
		t.Errorf("waited %s, want the 10m timeout exactly", waited)
	}
}

// TestVerify: a published date verifies; a date never published, or a dataset whose database
// lost its rows, is exit 5 naming it.
func TestVerify(t *testing.T) {
	dir := t.TempDir()
	genInput(t, dir, "var_es", cob, 500)
	if code, out, errs := run(t, "publish", "--data-dir", dir, "--dataset", "var_es", "--cob-date", "2026-03-02"); code != ExitOK {
		t.Fatalf("publish: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := run(t, "verify", "--data-dir", dir, "--dataset", "var_es", "--cob-date", "2026-03-02")
	if code != ExitOK || !strings.Contains(out, "var_es 2026-03-02: verified") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = run(t, "verify", "--data-dir", dir, "--dataset", "var_es", "--cob-date", "2026-03-03")
	if code != ExitVerificationFailed || !strings.Contains(errs, "var_es: not published in iceberg") {
		t.Fatalf("verify an unpublished date: exit %d, want %d\n%s", code, ExitVerificationFailed, errs)
	}
	code, _, errs = run(t, "verify", "--data-dir", dir, "--dataset", "drc", "--cob-date", "2026-03-02")
	if code != ExitVerificationFailed || !strings.Contains(errs, "drc: no iceberg table") {
		t.Fatalf("verify a dataset never published: exit %d, want %d\n%s", code, ExitVerificationFailed, errs)
	}
}

// TestReport: the exit handler's outcome (skipped on a holiday), Argo's doubly quoted
// workflow.failures, the push (POST, so the last success survives a failed run) and a webhook
// whose URL (a secret) appears in no output.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var pushes []string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		pushes = append(pushes, r.Method+" "+r.URL.Path+"\n"+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer gw.Close()
	var hooked []RunOutcome
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != "s3cr3t" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		var o RunOutcome
		_ = json.NewDecoder(r.Body).Decode(&o)
		mu.Lock()
		hooked = append(hooked, o)
		mu.Unlock()
	}))
	defer hook.Close()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("input: {uri: "+dir+"}\niceberg: {catalog: {type: sql, name: lakeport, dialect: sqlite, uri: "+filepath.Join(dir, "c.db")+"}, warehouse: "+dir+", namespace: risk}\ndatabase: {driver: none}\nmetrics: {pushgateway: "+gw.URL+"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LAKEPORT_ENVIRONMENT", "risk-dev")
	t.Setenv(EnvPipelineWebhook, hook.URL+"/hook?token=s3cr3t")
	failures := `"[{\"displayName\":\"publish-drc(0)\",\"message\":\"Error (exit code 3)\",\"templateName\":\"publish\",\"phase\":\"Failed\",\"podName\":\"p\"}]"`
	for _, tc := range []struct {
		name, status, at, failures, outcome string
		failed                              int
	}{
		{"succeeded", "Succeeded", "2026-12-08T01:30:00Z", "null", "succeeded", 0},
		{"holiday", "Succeeded", "2026-05-02T00:30:00Z", `"null"`, "skipped", 0},
		{"contract violation", "Failed", "2026-12-08T01:30:00Z", failures, "failed", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pushes, hooked = nil, nil
			code, out, errs := run(t, "report", "--config", cfg, "--workflow", "nightly-x", "--status", tc.status,
				"--at", tc.at, "--time-zone", "Europe/London", "--duration", "12.5", "--failures", tc.failures)
			if code != ExitOK {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			if strings.Contains(out+errs, "s3cr3t") {
				t.Errorf("the webhook's URL was printed:\n%s%s", out, errs)
			}
			var got RunOutcome
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if got.Outcome != tc.outcome || len(got.Failures) != tc.failed || got.Environment != "risk-dev" {
				t.Errorf("outcome %+v, want %s with %d failures", got, tc.outcome, tc.failed)
			}
			if len(pushes) != 1 || len(hooked) != 1 || hooked[0].Outcome != tc.outcome {
				t.Fatalf("pushes %d, webhook calls %v", len(pushes), hooked)
			}
			p := pushes[0]
			if !strings.HasPrefix(p, "POST /metrics/job/lakeport_pipeline/pipeline/risk-dev") {
				t.Errorf("push %q: want POST to the pipeline's group", strings.SplitN(p, "\n", 2)[0])
			}
			if !strings.Contains(p, "lakeport_pipeline_last_run_outcome") {
				t.Error("no outcome metric pushed")
			}
			if (tc.outcome == "failed") == strings.Contains(p, "lakeport_pipeline_last_success_timestamp_seconds") {
				t.Errorf("last success pushed on a %s run: %v", tc.outcome, strings.Contains(p, "last_success"))
			}
		})
	}
	t.Run("webhook refuses", func(t *testing.T) {
		t.Setenv(EnvPipelineWebhook, hook.URL+"/hook?token=wrong")
		code, out, errs := run(t, "report", "--config", cfg, "--workflow", "w", "--status", "Failed", "--at", "2026-12-08T01:30:00Z")
		if code != ExitError || !strings.Contains(errs, "403") || strings.Contains(out+errs, "token=wrong") {
			t.Fatalf("exit %d, want 1 naming the status and not the URL\n%s%s", code, out, errs)
		}
	})
	t.Run("bad status", func(t *testing.T) {
		if code, _, _ := run(t, "report", "--config", cfg, "--workflow", "w", "--status", "Running"); code != ExitUsage {
			t.Fatalf("exit %d, want 2", code)
		}
	})
}

// TestPipelineMetricsExported holds charts/observability/exported/distribution.yaml, the list the
// chart's dashboards and alerts may read, to the metrics the exit handler pushes: a succeeded run
// pushes every one of them.
func TestPipelineMetricsExported(t *testing.T) {
	mfs, err := outcomeRegistry(RunOutcome{Outcome: "succeeded", CobDate: "2026-12-07", FinishedAt: time.Now()}).Gather()
	if err != nil {
		t.Fatal(err)
	}
	const path = "../../../charts/observability/exported/distribution.yaml"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n  - lakeport_pipeline_"); len(mfs) < 6 || n != len(mfs) {
		t.Errorf("%s lists %d lakeport_pipeline_ metrics; the exit handler pushes %d", path, n, len(mfs))
	}
	for _, mf := range mfs {
		if !strings.Contains(string(b), "\n  - "+mf.GetName()+"\n") {
			t.Errorf("%s does not list %s, which the exit handler pushes", path, mf.GetName())
		}
	}
}

package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestFromWorkflow reads Workflows as the real workflow-controller v3.7.6 left them
// (cli/internal/cmd/testdata/pipeline, captured from charts/workflows/pipeline_test.go's runs).
func TestFromWorkflow(t *testing.T) {
	for _, tc := range []struct {
		fixture, outcome, cob, reason string
		steps, retries                int
		failed                        []Failure
	}{
		{"risk-pipeline", OutcomeSucceeded, "2026-12-07", "", 12, 0, nil},
		{"risk-pipeline-holiday", OutcomeSkipped, "2026-05-01", "Labour Day", 2, 0, nil},
		{"risk-pipeline-violation", OutcomeFailed, "2026-12-07", "", 9, 0, []Failure{{Step: "publish-var-es(0)", Phase: "Failed", ExitCode: "3", Message: "main: Error (exit code 3)"}}},
		{"risk-pipeline-retry", OutcomeSucceeded, "2026-12-07", "", 12, 1, []Failure{{Step: "publish-drc(0)", Phase: "Failed", ExitCode: "1", Message: "main: Error (exit code 1)"}}},
		// Three workers of var_es, publish-var-es(i:i)(0): none of them a retry.
		{"risk-pipeline-shards", OutcomeSucceeded, "2026-12-07", "", 11, 0, nil},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "internal", "cmd", "testdata", "pipeline", tc.fixture+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var w unstructured.Unstructured
			if err := json.Unmarshal(raw, &w.Object); err != nil {
				t.Fatal(err)
			}
			r := FromWorkflow(&w)
			if r.Outcome != tc.outcome || r.CobDate != tc.cob || r.Reason != tc.reason || r.Steps != tc.steps || r.Retries != tc.retries {
				t.Errorf("got outcome %s cob %s reason %q steps %d retries %d, want %s %s %q %d %d",
					r.Outcome, r.CobDate, r.Reason, r.Steps, r.Retries, tc.outcome, tc.cob, tc.reason, tc.steps, tc.retries)
			}
			if len(r.Failed) != len(tc.failed) {
				t.Fatalf("failed %+v, want %+v", r.Failed, tc.failed)
			}
			for i := range tc.failed {
				if r.Failed[i] != tc.failed[i] {
					t.Errorf("failed[%d] = %+v, want %+v", i, r.Failed[i], tc.failed[i])
				}
			}
			if r.Pipeline != "distribution" || r.Duration() <= 0 || r.Scheduled == nil {
				t.Errorf("pipeline %q, duration %s, scheduled %v", r.Pipeline, r.Duration(), r.Scheduled)
			}
		})
	}
	t.Run("running", func(t *testing.T) {
		w := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "x"}, "status": map[string]any{"phase": "Running"}}}
		if r := FromWorkflow(w); r.Outcome != OutcomeRunning || r.Duration() != 0 {
			t.Errorf("got %+v", r)
		}
	})
}

// TestNewer: runs are ordered by the scheduled time the cron controller stamps, then by creation.
func TestNewer(t *testing.T) {
	mk := func(name, sched, created string) *unstructured.Unstructured {
		w := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": name, "creationTimestamp": created}}}
		if sched != "" {
			w.SetAnnotations(map[string]string{"workflows.argoproj.io/scheduled-time": sched})
		}
		return w
	}
	last := mk("a", "2026-12-08T01:30:00Z", "2026-12-08T01:30:01Z")
	rerun := mk("b", "2026-12-07T01:30:00Z", "2026-12-08T09:00:00Z")
	if !newer(last, rerun) || newer(rerun, last) {
		t.Error("the later scheduled run must win")
	}
	if !newer(mk("c", "", "2026-12-08T02:00:00Z"), mk("d", "", "2026-12-08T01:00:00Z")) {
		t.Error("without a scheduled time, the later created run must win")
	}
}

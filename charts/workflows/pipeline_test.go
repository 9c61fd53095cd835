package workflows_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	lpipeline "github.com/lakeport/lakeport/cli/pkg/pipeline"
	"github.com/lakeport/lakeport/hack/testenv/wfexec"
)

// The nightly pipeline (charts/distribution/templates/workflowtemplate.yaml) on the real
// workflow-controller. kwok runs no container, so wfexec plays each step's main container: the
// calendar and the exit handler run the real distribution binary with the arguments the
// controller resolved ({{workflow.scheduledTime}}, {{workflow.status}}, {{workflow.failures}}),
// the other steps exit with the codes a test chooses per attempt.

// distBinary builds the distribution binary once per package run.
var distBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "lakeport-wf-dist-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "distribution")
	cmd := exec.Command("go", "build", "-o", bin, "./jobs/cmd/distribution")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./jobs/cmd/distribution: %v\n%s", err, out)
	}
	return bin, nil
})

// pipeline plays the main containers of one workflow's pods.
type pipeline struct {
	t      *testing.T
	bin    string
	dir    string
	config string
	// codes are the exit codes of a task's attempts, in order (0 once they run out).
	codes map[string][]int32
	// shards: the coordinator (--shard-index=0) of a sharded task stays running until every
	// worker of its task has started, as jobs/internal/publish/shard.go waits for their results.
	shards int

	mu       sync.Mutex
	attempts map[string]int
	started  map[string]map[string]bool // task → shard indexes started
	reports  []map[string]any
	args     map[string][]string // pod → arguments of its main container
	view     lpipeline.Run       // what `lakeport pipeline` shows of the run
}

func newPipeline(t *testing.T, codes map[string][]int32, shards int) *pipeline {
	t.Helper()
	bin, err := distBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The calendar and the report read the configuration's calendar (TARGET2, the chart's);
	// nothing here reaches a store.
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("calendar: target2\ninput: {uri: "+dir+"}\n"+
		"iceberg: {catalog: {type: sql, name: lakeport, dialect: sqlite, uri: "+filepath.Join(dir, "c.db")+"}, warehouse: "+dir+", namespace: risk}\n"+
		"database: {driver: none}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &pipeline{t: t, bin: bin, dir: dir, config: cfg, codes: codes, shards: shards,
		attempts: map[string]int{}, started: map[string]map[string]bool{}, args: map[string][]string{}}
}

// taskOf is the DAG task of a node name: "<wf>.publish-var-es(0:0)(1)" → "publish-var-es".
func taskOf(node string) string {
	_, n, _ := strings.Cut(node, ".")
	n, _, _ = strings.Cut(n, "(")
	if n == "onExit" { // the exit handler's node (Argo names it after the hook, not the template)
		return "report"
	}
	return n
}

// mainArgs are the arguments of the pod's main container after the program (the emissary
// executor runs `argoexec emissary -- <command> <args>`).
func mainArgs(p *corev1.Pod) []string {
	for _, c := range p.Spec.Containers {
		if c.Name != wfexec.MainContainer {
			continue
		}
		all := append(slices.Clone(c.Command), c.Args...)
		if i := slices.Index(all, "--"); i >= 0 {
			all = all[i+1:]
		}
		if len(all) > 0 {
			return all[1:]
		}
	}
	return nil
}

func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// exec runs the real distribution binary with the pod's arguments, the configuration and the
// output folder replaced by the test's.
func (p *pipeline) exec(args []string, outDir string) (int32, string) {
	var run []string
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "--config="):
			a = "--config=" + p.config
		case strings.HasPrefix(a, "--out-dir="):
			a = "--out-dir=" + outDir
		}
		run = append(run, a)
	}
	cmd := exec.Command(p.bin, run...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "LAKEPORT_ENVIRONMENT=test")
	err := cmd.Run()
	code := int32(0)
	if ee, ok := err.(*exec.ExitError); ok {
		code = int32(ee.ExitCode())
	} else if err != nil {
		p.t.Errorf("run distribution %v: %v", run, err)
		code = 1
	}
	if code != 0 {
		p.t.Logf("distribution %s: exit %d: %s", args[0], code, stderr.String())
	}
	return code, stdout.String()
}

func (p *pipeline) run(pod *corev1.Pod) wfexec.Exit {
	task := taskOf(pod.Annotations[wfexec.AnnotationNodeName])
	args := mainArgs(pod)
	p.mu.Lock()
	defer p.mu.Unlock()
	if idx := flagValue(args, "--shard-index"); idx != "" {
		if p.started[task] == nil {
			p.started[task] = map[string]bool{}
		}
		p.started[task][idx] = true
		if idx == "0" && len(p.started[task]) < p.shards {
			return wfexec.Exit{Pending: true}
		}
	}
	p.args[pod.Name] = args
	switch task {
	case "calendar":
		out := filepath.Join(p.dir, pod.Name)
		code, _ := p.exec(args, out)
		params := map[string]string{}
		for _, name := range []string{"business-day", "cob-date", "reason"} {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil && code == 0 {
				p.t.Errorf("calendar wrote no %s: %v", name, err)
			}
			params[name] = string(b)
		}
		return wfexec.Exit{Code: code, Parameters: params}
	case "report":
		code, out := p.exec(args, "")
		var r map[string]any
		if err := json.Unmarshal([]byte(out), &r); err != nil && code == 0 {
			p.t.Errorf("report printed %q: %v", out, err)
		}
		p.reports = append(p.reports, r)
		return wfexec.Exit{Code: code}
	}
	attempt := p.attempts[task]
	p.attempts[task]++
	if codes := p.codes[task]; attempt < len(codes) {
		return wfexec.Exit{Code: codes[attempt]}
	}
	return wfexec.Exit{}
}

// runPipeline deploys the work tree's chart with staging's values (and values on top) into ns,
// runs one workflow scheduled at `at` and returns the result and the steps' player.
func runPipeline(t *testing.T, ns string, at time.Time, values map[string]any, codes map[string][]int32, shards int) (*wfexec.Result, *pipeline) {
	t.Helper()
	c := needCluster(t)
	// Generous: on a cold CI machine this runs beside the compiler (a run takes 20-60 s when warm).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p := newPipeline(t, codes, shards)
	cron := c.deploy(t, ctx, ns, renderStaging(t, "", "", ns, values))
	name := c.submitAt(t, ctx, cron, at)
	start := time.Now()
	res, err := wfexec.Run(ctx, wfexec.Options{Config: c.cfg, Run: p.run}, ns, name)
	if res != nil {
		t.Logf("workflow %s/%s: %s after %s (%s)", ns, name, res.Phase, time.Since(start).Round(10*time.Millisecond), res.Message)
		for _, s := range res.Steps {
			t.Logf("  %-40s exit %d  %s", s.NodeName, s.ExitCode, strings.Join(p.args[s.Pod], " "))
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		if s.ReportErr != nil {
			t.Errorf("%s: the wait container could not report: %v", s.NodeName, s.ReportErr)
		}
		checkPodSpec(t, s)
	}
	// What `lakeport pipeline` shows of this run: cli/pkg/pipeline reads the Workflow the real
	// controller wrote.
	runs, err := lpipeline.LastRuns(ctx, c.dyn, []lpipeline.Target{{Env: "staging", Namespace: ns}})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Workflow != name {
		t.Fatalf("lakeport pipeline's view: %+v, want the run %s", runs, name)
	}
	p.view = runs[0]
	t.Logf("lakeport pipeline's view: %+v", p.view)
	if dir := os.Getenv("LAKEPORT_CAPTURE_WORKFLOWS"); dir != "" {
		// Fixtures of cli/internal/cmd's golden tests: the Workflows as the real controller left them.
		wf, err := c.dyn.Resource(wfexec.WorkflowsResource).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.MarshalIndent(wf.Object, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ns+".json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return res, p
}

// steps groups a result's pods by task.
func steps(res *wfexec.Result) map[string][]wfexec.Step {
	out := map[string][]wfexec.Step{}
	for _, s := range res.Steps {
		out[taskOf(s.NodeName)] = append(out[taskOf(s.NodeName)], s)
	}
	return out
}

// sparkValues turn the Spark calculation on (spark-submit never runs here: wfexec plays it).
var sparkValues = map[string]any{"enabled": true, "master": "spark://spark-master:7077",
	"mainClass": "com.bank.risk.Calculation", "application": "local:///opt/risk/calculation.jar"}

var datasets = []string{"var-es", "frtb-sensitivities", "drc"}

// TestPipelineRunsInOrder: on a business day every step runs, each after the ones it depends
// on: calendar → migrate and spark → wait per dataset → publish per dataset → verify → maintain,
// then the exit handler; the calendar's cob date reaches every step and the report.
func TestPipelineRunsInOrder(t *testing.T) {
	at := time.Date(2026, 12, 8, 1, 30, 0, 0, time.UTC) // Tuesday night: Monday's results
	res, p := runPipeline(t, "risk-pipeline", at, map[string]any{"workflow": map[string]any{"spark": sparkValues}}, nil, 0)
	if res.Phase != "Succeeded" {
		t.Fatalf("workflow %s: %s", res.Phase, res.Message)
	}
	by := steps(res)
	want := []string{"calendar", "migrate", "spark", "verify", "maintain", "report"}
	for _, d := range datasets {
		want = append(want, "wait-"+d, "publish-"+d)
	}
	for _, task := range want {
		if len(by[task]) != 1 {
			t.Errorf("task %s ran %d times, want once", task, len(by[task]))
		}
	}
	if len(by) != len(want) {
		t.Errorf("tasks %v, want %v", slices.Sorted(maps.Keys(by)), want)
	}
	if t.Failed() {
		return
	}
	one := func(task string) wfexec.Step { return by[task][0] }
	after := func(task string, deps ...string) {
		for _, d := range deps {
			if one(task).Seen.Before(one(d).Finished) {
				t.Errorf("%s started before %s finished", task, d)
			}
		}
	}
	after("migrate", "calendar")
	after("spark", "calendar")
	var publishes []string
	for _, d := range datasets {
		after("wait-"+d, "spark")
		after("publish-"+d, "wait-"+d, "migrate")
		publishes = append(publishes, "publish-"+d)
		if got := flagValue(p.args[one("publish-"+d).Pod], "--cob-date"); got != "2026-12-07" {
			t.Errorf("publish-%s --cob-date=%s, want the calendar's 2026-12-07", d, got)
		}
	}
	after("verify", publishes...)
	after("maintain", "verify")
	after("report", "maintain")

	spark := strings.Join(p.args[one("spark").Pod], " ")
	for _, w := range []string{"--master spark://spark-master:7077", "--deploy-mode cluster", "--class com.bank.risk.Calculation",
		"--conf spark.standalone.submit.waitAppCompletion=true", "local:///opt/risk/calculation.jar --cob-date 2026-12-07"} {
		if !strings.Contains(spark, w) {
			t.Errorf("spark-submit %q lacks %q", spark, w)
		}
	}
	if len(p.reports) != 1 || p.reports[0]["outcome"] != "succeeded" || p.reports[0]["cobDate"] != "2026-12-07" {
		t.Errorf("the exit handler recorded %v, want succeeded for 2026-12-07", p.reports)
	}
	if v := p.view; v.Outcome != lpipeline.OutcomeSucceeded || v.CobDate != "2026-12-07" || v.Steps != len(want) || v.Retries != 0 {
		t.Errorf("lakeport pipeline shows %+v, want succeeded, 2026-12-07, %d steps", v, len(want))
	}
}

// TestPipelineContractViolationFailsWithoutRetry: a publication exiting 3 (contract violation)
// is not retried, the run fails, nothing after it runs, and the exit handler records the failure
// with the failed step (from Argo's workflow.failures).
//
// The failure still waits out the first backoff: Argo Workflows v3.7.6's processNodeRetries
// (workflow/controller/operator.go) returns "Backoff for …" until the backoff has passed, and
// only then evaluates retryStrategy.expression. The chart's README says so; this test holds it,
// with a 5 s backoff instead of the chart's 1 m.
func TestPipelineContractViolationFailsWithoutRetry(t *testing.T) {
	at := time.Date(2026, 12, 8, 1, 30, 0, 0, time.UTC)
	const backoff = 5 * time.Second
	values := map[string]any{"workflow": map[string]any{"backoff": map[string]any{"duration": "5s", "factor": 2, "maxDuration": "1m"}}}
	res, p := runPipeline(t, "risk-pipeline-violation", at, values, map[string][]int32{"publish-var-es": {3, 0, 0}}, 0)
	if res.Phase != "Failed" {
		t.Fatalf("workflow %s, want Failed", res.Phase)
	}
	by := steps(res)
	if n := len(by["publish-var-es"]); n != 1 {
		t.Errorf("publish-var-es ran %d times, want once: exit 3 is never retried", n)
	}
	if len(by["publish-var-es"]) == 1 && len(by["report"]) == 1 {
		// Less a second: the controller counts from the pod's finishedAt, kept in whole seconds.
		if gap := by["report"][0].Seen.Sub(by["publish-var-es"][0].Finished); gap < backoff-time.Second {
			t.Errorf("the exit handler started %s after publish-var-es exited 3, within the %s backoff: Argo now fails it at once (update the chart's README)", gap, backoff)
		}
	}
	for _, task := range []string{"verify", "maintain"} {
		if len(by[task]) != 0 {
			t.Errorf("%s ran after a failed publication", task)
		}
	}
	if len(by["report"]) != 1 || len(p.reports) != 1 {
		t.Fatalf("the exit handler ran %d times", len(by["report"]))
	}
	r := p.reports[0]
	if r["outcome"] != "failed" || r["status"] != "Failed" {
		t.Errorf("report %v, want outcome failed", r)
	}
	failures, _ := r["failures"].([]any)
	if !slices.ContainsFunc(failures, func(f any) bool {
		m, _ := f.(map[string]any)
		return strings.HasPrefix(fmt.Sprint(m["displayName"]), "publish-var-es")
	}) {
		t.Errorf("report failures %v do not name publish-var-es", failures)
	}
	if v := p.view; v.Outcome != lpipeline.OutcomeFailed || len(v.Failed) != 1 || !strings.HasPrefix(v.Failed[0].Step, "publish-var-es") || v.Failed[0].ExitCode != "3" {
		t.Errorf("lakeport pipeline shows %+v, want failed at publish-var-es with exit 3", v)
	}
}

// TestPipelineTransientFailureRetried: exit 1 is retried after the backoff, and the run
// succeeds on the second attempt.
func TestPipelineTransientFailureRetried(t *testing.T) {
	at := time.Date(2026, 12, 8, 1, 30, 0, 0, time.UTC)
	values := map[string]any{"workflow": map[string]any{"backoff": map[string]any{"duration": "3s", "factor": 2, "maxDuration": "1m"}}}
	res, p := runPipeline(t, "risk-pipeline-retry", at, values, map[string][]int32{"publish-drc": {1}}, 0)
	if res.Phase != "Succeeded" {
		t.Fatalf("workflow %s: %s", res.Phase, res.Message)
	}
	tries := steps(res)["publish-drc"]
	if len(tries) != 2 || tries[0].ExitCode != 1 || tries[1].ExitCode != 0 {
		t.Fatalf("publish-drc attempts %+v, want exit 1 then 0", tries)
	}
	if gap := tries[1].Seen.Sub(tries[0].Finished); gap < 2500*time.Millisecond {
		t.Errorf("retried %s after the failure, want the 3s backoff", gap)
	}
	if p.reports[0]["outcome"] != "succeeded" {
		t.Errorf("report %v", p.reports[0])
	}
	if v := p.view; v.Outcome != lpipeline.OutcomeSucceeded || v.Retries != 1 || len(v.Failed) != 1 || v.Failed[0].ExitCode != "1" {
		t.Errorf("lakeport pipeline shows %+v, want succeeded after one retry of an exit 1", v)
	}
}

// TestPipelineHolidaySkipped: on 1 May (a TARGET2 holiday) the calendar says so, every other
// step is skipped and the run Succeeds; the exit handler records it as skipped.
func TestPipelineHolidaySkipped(t *testing.T) {
	at := time.Date(2026, 5, 2, 0, 30, 0, 0, time.UTC) // Saturday 01:30 in London: Friday 1 May
	res, p := runPipeline(t, "risk-pipeline-holiday", at, map[string]any{"workflow": map[string]any{"spark": sparkValues}}, nil, 0)
	if res.Phase != "Succeeded" {
		t.Fatalf("workflow %s: %s, want Succeeded (skipped, not failed)", res.Phase, res.Message)
	}
	var ran []string
	for _, s := range res.Steps {
		ran = append(ran, taskOf(s.NodeName))
	}
	if fmt.Sprint(ran) != "[calendar report]" {
		t.Errorf("pods of %v, want only the calendar and the exit handler", ran)
	}
	for node, st := range res.Nodes {
		if (node == "migrate" || node == "spark") && !strings.HasPrefix(st, "Skipped") {
			t.Errorf("node %s: %s, want Skipped", node, st)
		}
	}
	if len(p.reports) != 1 || p.reports[0]["outcome"] != "skipped" || p.reports[0]["reason"] != "Labour Day" {
		t.Errorf("report %v, want skipped (Labour Day)", p.reports)
	}
	if v := p.view; v.Outcome != lpipeline.OutcomeSkipped || v.CobDate != "2026-05-01" || v.Reason != "Labour Day" {
		t.Errorf("lakeport pipeline shows %+v, want skipped on 2026-05-01 (Labour Day)", v)
	}
}

// TestPipelineShardsFanOut: a dataset with shards 3 runs three publish pods at once with the
// same run id, indexes 0..2, and pod 0 (the coordinator) finishes once the workers have run:
// the Indexed Job's worker/coordinator code, fanned out by the workflow.
func TestPipelineShardsFanOut(t *testing.T) {
	at := time.Date(2026, 12, 8, 1, 30, 0, 0, time.UTC)
	values := map[string]any{
		"datasets": []any{map[string]any{"name": "var_es", "shards": 3}, map[string]any{"name": "drc"}},
		"workflow": map[string]any{"parallelism": 4},
	}
	res, p := runPipeline(t, "risk-pipeline-shards", at, values, nil, 3)
	if res.Phase != "Succeeded" {
		t.Fatalf("workflow %s: %s", res.Phase, res.Message)
	}
	pods := steps(res)["publish-var-es"]
	if len(pods) != 3 {
		t.Fatalf("publish-var-es ran %d pods, want 3", len(pods))
	}
	var idx, runIDs []string
	var coordinator wfexec.Step
	for _, s := range pods {
		a := p.args[s.Pod]
		idx = append(idx, flagValue(a, "--shard-index"))
		runIDs = append(runIDs, flagValue(a, "--run-id"))
		if flagValue(a, "--shards") != "3" {
			t.Errorf("%s: --shards=%s, want 3", s.NodeName, flagValue(a, "--shards"))
		}
		if flagValue(a, "--shard-index") == "0" {
			coordinator = s
		}
	}
	slices.Sort(idx)
	if fmt.Sprint(idx) != "[0 1 2]" {
		t.Errorf("shard indexes %v, want 0 1 2", idx)
	}
	if slices.Sort(runIDs); runIDs[0] == "" || len(slices.Compact(slices.Clone(runIDs))) != 1 {
		t.Errorf("run ids %v, want one shared by the workers", runIDs)
	}
	for _, s := range pods {
		if s.Pod != coordinator.Pod && coordinator.Finished.Before(s.Seen) {
			t.Errorf("the coordinator finished before worker %s started", s.NodeName)
		}
	}
	if n := len(steps(res)["publish-drc"]); n != 1 {
		t.Errorf("publish-drc (not sharded) ran %d pods", n)
	}
}

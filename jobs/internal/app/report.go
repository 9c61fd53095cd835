package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
)

// EnvPipelineWebhook names the environment variable holding the exit handler's webhook URL
// (the chart fills it from a Secret: such URLs often carry a token, so it is never printed).
const EnvPipelineWebhook = "LAKEPORT_PIPELINE_WEBHOOK"

// RunOutcome is what the pipeline's exit handler records of a run.
type RunOutcome struct {
	Workflow    string `json:"workflow"`
	Environment string `json:"environment,omitempty"`
	// Status is Argo's workflow.status: Succeeded, Failed or Error.
	Status string `json:"status"`
	// Outcome is succeeded, skipped (not a business day), failed or error.
	Outcome         string       `json:"outcome"`
	CobDate         string       `json:"cobDate,omitempty"`
	Reason          string       `json:"reason,omitempty"`
	DurationSeconds float64      `json:"durationSeconds"`
	Failures        []FailedStep `json:"failures,omitempty"`
	FinishedAt      time.Time    `json:"finishedAt"`
}

// FailedStep is one entry of Argo's workflow.failures.
type FailedStep struct {
	DisplayName  string `json:"displayName"`
	Message      string `json:"message,omitempty"`
	TemplateName string `json:"templateName,omitempty"`
	Phase        string `json:"phase"`
	PodName      string `json:"podName,omitempty"`
}

// parseFailures reads Argo's workflow.failures: a JSON list ("null" when none), which Argo v3.7.6
// quotes once more (workflow/controller/operator.go, strconv.Quote "so that the escaped quotes are
// not removed during parameter substitution").
func parseFailures(s string) ([]FailedStep, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return nil, nil
	}
	if strings.HasPrefix(s, `"`) {
		u, err := strconv.Unquote(s)
		if err != nil {
			return nil, fmt.Errorf("--failures: %w", err)
		}
		s = u
	}
	var out []FailedStep
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("--failures: want Argo's workflow.failures JSON: %w", err)
	}
	return out, nil
}

// outcome maps Argo's status and the calendar's day to the recorded outcome.
func outcome(status string, d *Day) (string, error) {
	switch status {
	case "Succeeded":
		if d != nil && !d.BusinessDay {
			return "skipped", nil
		}
		return "succeeded", nil
	case "Failed":
		return "failed", nil
	case "Error":
		return "error", nil
	}
	return "", fmt.Errorf("--status %q: want Succeeded, Failed or Error (Argo's workflow.status)", status)
}

// runReport: `distribution report`, the pipeline's exit handler.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := &common{stderr: stderr}
	var f dayFlags
	var r RunOutcome
	var failures, duration string
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	o.bind(fs)
	f.bind(fs)
	fs.StringVar(&r.Workflow, "workflow", "", "the workflow's name (required)")
	fs.StringVar(&r.Status, "status", "", "Argo's workflow.status: Succeeded, Failed or Error (required)")
	fs.StringVar(&duration, "duration", "0", "the run's duration in seconds (Argo's workflow.duration)")
	fs.StringVar(&failures, "failures", "", "Argo's workflow.failures (JSON)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: distribution report --workflow NAME --status Succeeded|Failed|Error [--at RFC3339 ...]

The nightly pipeline's exit handler: records the run's outcome (succeeded, skipped when the
calendar says the cob date is not a business day, failed, error) as metrics in the Pushgateway
of the configuration (job="lakeport_pipeline", group pipeline=<environment>) and, when
$`+EnvPipelineWebhook+` is set, POSTs it as JSON to that URL. Prints the outcome as JSON.
Exit codes: 0 recorded, 1 the Pushgateway or the webhook refused it, 2 invalid usage.

Flags:`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := o.complete(); err != nil {
		return err
	}
	var errs []error
	var err error
	if r.Workflow == "" {
		errs = append(errs, errors.New("--workflow is required"))
	}
	if r.Failures, err = parseFailures(failures); err != nil {
		errs = append(errs, err)
	}
	if r.DurationSeconds, err = strconv.ParseFloat(duration, 64); err != nil {
		errs = append(errs, fmt.Errorf("--duration %q: want seconds", duration))
	}
	// The calendar's answer again (the same function as the calendar step): a run whose calendar
	// step never ran still gets its outcome recorded, only without a date.
	var day *Day
	if d, derr := f.day(o.cfg.Calendar); derr == nil {
		day = &d
		r.CobDate, r.Reason = d.CobDate, d.Reason
	} else if r.Status == "Succeeded" {
		errs = append(errs, derr)
	}
	if r.Outcome, err = outcome(r.Status, day); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	r.Environment = os.Getenv("LAKEPORT_ENVIRONMENT")
	r.FinishedAt = now().UTC().Truncate(time.Second)

	var failed []error
	if gw := o.cfg.Metrics.Pushgateway; gw != "" {
		if err := pushOutcome(ctx, gw, r); err != nil {
			failed = append(failed, err)
		} else {
			o.log.Info("outcome pushed", "outcome", r.Outcome, "pushgateway", gw)
		}
	}
	if hook := os.Getenv(EnvPipelineWebhook); hook != "" {
		if err := postOutcome(ctx, hook, r); err != nil {
			failed = append(failed, err)
		} else {
			o.log.Info("outcome posted to the webhook", "outcome", r.Outcome)
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	return errors.Join(failed...)
}

// outcomes are the values of the outcome label, all pushed so that the last run's is 1 and
// the others 0 (an alert reads lakeport_pipeline_last_run_outcome{outcome="failed"} == 1).
var outcomes = []string{"succeeded", "skipped", "failed", "error"}

// pushOutcome pushes the run's metrics with POST (push.Add): metrics of the group this push does
// not carry, such as the last success time after a failed run, keep their values.
func pushOutcome(ctx context.Context, gw string, r RunOutcome) error {
	p := push.New(gw, "lakeport_pipeline").Gatherer(outcomeRegistry(r))
	if r.Environment != "" {
		p = p.Grouping("pipeline", r.Environment)
	}
	if err := p.AddContext(ctx); err != nil {
		return fmt.Errorf("push the outcome to %s: %w", gw, err)
	}
	return nil
}

// outcomeRegistry holds the metrics of one run's outcome (the chart's LakeportPipelineFailed
// alert reads them; charts/observability/exported/distribution.yaml lists them).
func outcomeRegistry(r RunOutcome) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		reg.MustRegister(v)
		return v
	}
	g("lakeport_pipeline_last_run_timestamp_seconds", "Unix time the last pipeline run ended.").WithLabelValues().Set(float64(r.FinishedAt.Unix()))
	g("lakeport_pipeline_last_run_duration_seconds", "Duration of the last pipeline run.").WithLabelValues().Set(r.DurationSeconds)
	oc := g("lakeport_pipeline_last_run_outcome", "1 for the outcome of the last pipeline run (succeeded, skipped, failed, error), 0 for the others.", "outcome")
	for _, o := range outcomes {
		v := 0.0
		if o == r.Outcome {
			v = 1
		}
		oc.WithLabelValues(o).Set(v)
	}
	g("lakeport_pipeline_last_run_failed_steps", "Steps that failed in the last pipeline run.").WithLabelValues().Set(float64(len(r.Failures)))
	if r.Outcome == "succeeded" || r.Outcome == "skipped" {
		g("lakeport_pipeline_last_success_timestamp_seconds", "Unix time the last successful (or skipped) pipeline run ended.").WithLabelValues().Set(float64(r.FinishedAt.Unix()))
	}
	if r.Outcome == "succeeded" {
		if d, err := time.Parse(time.DateOnly, r.CobDate); err == nil {
			g("lakeport_pipeline_last_cob_date_timestamp_seconds", "Close-of-business date the last successful run published (unix time).").WithLabelValues().Set(float64(d.Unix()))
		}
	}
	return reg
}

// postOutcome POSTs the outcome to the webhook. Errors never carry the URL.
func postOutcome(ctx context.Context, hook string, r RunOutcome) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("$%s: not a URL", EnvPipelineWebhook)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook ($%s): %w", EnvPipelineWebhook, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook ($%s): %s", EnvPipelineWebhook, resp.Status)
	}
	return nil
}

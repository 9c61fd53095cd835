// Package metrics holds the distribution job's Prometheus metrics. A job run is short-lived, so
// the metrics are pushed to a Pushgateway and/or written for node-exporter's textfile collector
// at the end of the run, not scraped.
//
// What a run says is its last state, never a running count: a run is a fresh process, so a
// counter would always read 1 and rate() over it means nothing. Each dataset's run pushes two
// Pushgateway groups, both replaced whole (HTTP PUT) so that nothing from an earlier run stays:
//
//   - {job="lakeport_distribution", dataset, shard}: the last run (its timestamp, cob_date,
//     outcome as a state set, rows/bytes/durations per stage, contract violations per rule,
//     whether the stores diverged). A passing run therefore removes yesterday's violations.
//   - {job="lakeport_distribution", dataset, shard, result="success"}: pushed only by a
//     successful run (last success timestamp, its cob_date, its Iceberg snapshot), so that a
//     failed run does not erase when the dataset last succeeded.
//
// The keys never collide (two datasets, or two shards of one dataset, have their own groups) and
// never pile up (no group per cob_date or run id: a backfill replaces the dataset's group).
package metrics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// Job is the Pushgateway job name of every group the distribution job pushes.
const Job = "lakeport_distribution"

// Grouping labels of the pushed groups (they come from the group, not from the metrics).
const (
	LabelDataset = "dataset"
	LabelShard   = "shard"
	LabelResult  = "result"
)

// Outcomes of a run, the values of the outcome label of lakeport_distribution_last_run_outcome.
var Outcomes = []string{"success", "contract_violation", "input_not_ready", "verification_failed", "conflict", "error"}

// Metric names, for the dashboards and alerts (a test checks that each one they name is here).
const (
	NameRows           = "lakeport_distribution_rows"
	NameBytes          = "lakeport_distribution_bytes"
	NameStageDuration  = "lakeport_distribution_stage_duration_seconds"
	NameViolations     = "lakeport_distribution_contract_violations"
	NameLastRun        = "lakeport_distribution_last_run_timestamp_seconds"
	NameLastRunCobDate = "lakeport_distribution_last_run_cob_date_timestamp_seconds"
	NameLastOutcome    = "lakeport_distribution_last_run_outcome"
	NameDiverged       = "lakeport_distribution_stores_diverged"
	NameLastSuccess    = "lakeport_distribution_last_success_timestamp_seconds"
	NameCobDate        = "lakeport_distribution_cob_date_timestamp_seconds"
	NameSnapshot       = "lakeport_distribution_iceberg_snapshot_info"
)

// successFamilies are pushed in the "success" group only.
var successFamilies = []string{NameLastSuccess, NameCobDate, NameSnapshot}

// Metrics of one run.
type Metrics struct {
	Registry *prometheus.Registry

	Rows       *prometheus.GaugeVec // rows per dataset and stage
	Bytes      *prometheus.GaugeVec // bytes per dataset and stage
	Duration   *prometheus.GaugeVec // seconds per dataset and stage
	Violations *prometheus.GaugeVec // violated rows per dataset and rule

	lastRun     *prometheus.GaugeVec
	lastRunCob  *prometheus.GaugeVec
	lastOutcome *prometheus.GaugeVec
	diverged    *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	cobDate     *prometheus.GaugeVec
	snapshot    *prometheus.GaugeVec

	now func() time.Time
}

// New registers the metrics on a fresh registry.
func New() *Metrics {
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		Registry:    prometheus.NewRegistry(),
		Rows:        g(NameRows, "Rows handled by the last run, per dataset and stage (input, iceberg, database).", "dataset", "stage"),
		Bytes:       g(NameBytes, "Bytes handled by the last run, per dataset and stage.", "dataset", "stage"),
		Duration:    g(NameStageDuration, "Duration of each stage of the last run (input, validate, iceberg, database, trino, total).", "dataset", "stage"),
		Violations:  g(NameViolations, "Rows violating each contract rule in the last run (absent when the last run passed).", "dataset", "rule"),
		lastRun:     g(NameLastRun, "Unix time at which the last run ended, whatever its outcome.", "dataset"),
		lastRunCob:  g(NameLastRunCobDate, "Close-of-business date the last run published or tried to (unix time of its midnight UTC).", "dataset"),
		lastOutcome: g(NameLastOutcome, "Outcome of the last run: 1 for the outcome it had, 0 for the others (success, contract_violation, input_not_ready, verification_failed, conflict, error).", "dataset", "outcome"),
		diverged:    g(NameDiverged, "1 when the last run committed to Iceberg and then failed before the database was published: the stores disagree until a re-run converges them.", "dataset"),
		lastSuccess: g(NameLastSuccess, "Unix time of the last successful publication.", "dataset"),
		cobDate:     g(NameCobDate, "Close-of-business date of the last successful publication (unix time of its midnight UTC).", "dataset"),
		snapshot:    g(NameSnapshot, "The Iceberg snapshot the last successful publication committed, as a label (ids are 64-bit: a float sample would round them); the value is 1.", "dataset", "snapshot_id"),
		now:         time.Now,
	}
	m.Registry.MustRegister(m.Rows, m.Bytes, m.Duration, m.Violations, m.lastRun, m.lastRunCob, m.lastOutcome,
		m.diverged, m.lastSuccess, m.cobDate, m.snapshot)
	return m
}

// Run is the end of one dataset's run, as Finish records it.
type Run struct {
	Dataset  string
	CobDate  time.Time
	Outcome  string // one of Outcomes; anything else counts as "error"
	Duration time.Duration
	// SnapshotID is the Iceberg snapshot the run committed or found (0: none).
	SnapshotID int64
	// Diverged: Iceberg holds this run's snapshot but the database was not published.
	Diverged bool
}

// Finish records the end of a run: its time, cob_date, outcome, total duration, whether the
// stores diverged and, on success, the last-success gauges and the snapshot.
func (m *Metrics) Finish(r Run) {
	now := m.now()
	m.lastRun.WithLabelValues(r.Dataset).Set(unix(now))
	m.lastRunCob.WithLabelValues(r.Dataset).Set(float64(r.CobDate.Unix()))
	out := r.Outcome
	if !slices.Contains(Outcomes, out) {
		out = "error"
	}
	for _, o := range Outcomes {
		v := 0.0
		if o == out {
			v = 1
		}
		m.lastOutcome.WithLabelValues(r.Dataset, o).Set(v)
	}
	m.Duration.WithLabelValues(r.Dataset, "total").Set(r.Duration.Seconds())
	m.diverged.WithLabelValues(r.Dataset).Set(b2f(r.Diverged))
	if out == "success" {
		m.lastSuccess.WithLabelValues(r.Dataset).Set(unix(now))
		m.cobDate.WithLabelValues(r.Dataset).Set(float64(r.CobDate.Unix()))
		if r.SnapshotID != 0 {
			m.snapshot.WithLabelValues(r.Dataset, strconv.FormatInt(r.SnapshotID, 10)).Set(1)
		}
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Push replaces, on the Pushgateway at url, the groups of every dataset this run has metrics for
// (see the package comment): {dataset, shard} always, {dataset, shard, result="success"} when the
// dataset's run succeeded. shard is the run's shard index (0 when unsharded); labels are extra
// grouping labels of every group (namespace: the chart's release namespace).
func (m *Metrics) Push(ctx context.Context, url string, shard int, labels map[string]string) error {
	mfs, err := m.Registry.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	var errs []error
	for _, ds := range datasets(mfs) {
		run, success := split(mfs, ds)
		groups := []struct {
			fams  []*dto.MetricFamily
			extra bool
		}{{run, false}, {success, true}}
		for _, g := range groups {
			if len(g.fams) == 0 {
				continue
			}
			p := push.New(url, Job).Gatherer(fixed(g.fams)).
				Grouping(LabelDataset, ds).Grouping(LabelShard, strconv.Itoa(shard))
			for _, k := range slices.Sorted(maps.Keys(labels)) {
				p = p.Grouping(k, labels[k])
			}
			if g.extra {
				p = p.Grouping(LabelResult, "success")
			}
			if err := p.PushContext(ctx); err != nil {
				errs = append(errs, fmt.Errorf("push metrics of %s to %s: %w", ds, url, err))
			}
		}
	}
	return errors.Join(errs...)
}

type fixed []*dto.MetricFamily

func (f fixed) Gather() ([]*dto.MetricFamily, error) { return f, nil }

// datasets lists the dataset label values present, sorted.
func datasets(mfs []*dto.MetricFamily) []string {
	var out []string
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == LabelDataset && !slices.Contains(out, l.GetValue()) {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// split returns the run and success families of one dataset, without the dataset label (the
// group carries it: the Pushgateway refuses a pushed label that repeats a grouping label).
func split(mfs []*dto.MetricFamily, ds string) (run, success []*dto.MetricFamily) {
	for _, mf := range mfs {
		out := &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type}
		for _, mt := range mf.GetMetric() {
			keep := false
			var labels []*dto.LabelPair
			for _, l := range mt.GetLabel() {
				if l.GetName() == LabelDataset {
					keep = l.GetValue() == ds
					continue
				}
				labels = append(labels, l)
			}
			if keep {
				c := proto.Clone(mt).(*dto.Metric)
				c.Label = labels
				out.Metric = append(out.Metric, c)
			}
		}
		if len(out.Metric) == 0 {
			continue
		}
		if slices.Contains(successFamilies, mf.GetName()) {
			success = append(success, out)
		} else {
			run = append(run, out)
		}
	}
	return run, success
}

// WriteTextfile writes the metrics atomically in the text exposition format (for node-exporter's
// textfile collector, which keeps the file until the next run replaces it).
func (m *Metrics) WriteTextfile(path string) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := prometheus.WriteToTextfile(tmp, m.Registry); err != nil {
		return fmt.Errorf("write metrics %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write metrics %s: %w", path, err)
	}
	return nil
}

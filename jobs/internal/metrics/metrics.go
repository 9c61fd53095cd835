// Package metrics holds the distribution job's Prometheus metrics. A job run is short-lived, so
// the metrics are pushed to a Pushgateway and/or written for node-exporter's textfile collector
// at the end of the run, not scraped.
package metrics

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
)

// Metrics of one run.
type Metrics struct {
	Registry *prometheus.Registry

	Rows        *prometheus.GaugeVec // rows per dataset and stage
	Bytes       *prometheus.GaugeVec // bytes per dataset and stage
	Duration    *prometheus.GaugeVec // seconds per dataset and stage
	SnapshotID  *prometheus.GaugeVec // Iceberg snapshot id per dataset
	Violations  *prometheus.GaugeVec // violated rows per dataset and rule
	LastSuccess *prometheus.GaugeVec // unix time of the last successful publication per dataset
	CobDate     *prometheus.GaugeVec // published cob_date (unix time) per dataset
	Runs        *prometheus.CounterVec
}

// New registers the metrics on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Rows: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lakeport_distribution_rows", Help: "Rows handled by the last run, per dataset and stage (input, iceberg, database, trino).",
		}, []string{"dataset", "stage"}),
		Bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lakeport_distribution_bytes", Help: "Bytes handled by the last run, per dataset and stage.",
		}, []string{"dataset", "stage"}),
		Duration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lakeport_distribution_stage_duration_seconds", Help: "Duration of each stage of the last run.",
		}, []string{"dataset", "stage"}),
		SnapshotID: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lakeport_distribution_iceberg_snapshot_id", Help: "Iceberg snapshot id committed by the last run (float64: exact below 2^53).",
		}, []string{"dataset"}),
		Violations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lakeport_distribution_contract_violations", Help: "Rows violating each contract rule in the last run.",
		}, []string{"dataset", "rule"}),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lakeport_distribution_last_success_timestamp_seconds", Help: "Unix time of the last successful publication.",
		}, []string{"dataset"}),
		CobDate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lakeport_distribution_cob_date_timestamp_seconds", Help: "Close-of-business date of the last successful publication (unix time).",
		}, []string{"dataset"}),
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lakeport_distribution_runs_total", Help: "Runs by outcome (success, contract_violation, input_not_ready, verification_failed, error).",
		}, []string{"dataset", "outcome"}),
	}
	m.Registry.MustRegister(m.Rows, m.Bytes, m.Duration, m.SnapshotID, m.Violations, m.LastSuccess, m.CobDate, m.Runs)
	return m
}

// Push sends the metrics to a Pushgateway under job="lakeport_distribution", one group per
// dataset (grouping label "publication": the metrics carry "dataset" themselves, and a grouping
// label may not repeat a metric label), so that each dataset's CronJob replaces only its own group.
func (m *Metrics) Push(ctx context.Context, url, dataset string) error {
	p := push.New(url, "lakeport_distribution").Gatherer(m.Registry)
	if dataset != "" {
		p = p.Grouping("publication", dataset)
	}
	if err := p.AddContext(ctx); err != nil {
		return fmt.Errorf("push metrics to %s: %w", url, err)
	}
	return nil
}

// WriteTextfile writes the metrics atomically in the text exposition format.
func (m *Metrics) WriteTextfile(path string) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := prometheus.WriteToTextfile(tmp, m.Registry); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

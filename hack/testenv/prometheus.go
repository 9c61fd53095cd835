package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Pushgateway is a running Prometheus Pushgateway. Stop it when done.
type Pushgateway struct {
	// URL is its http base URL (push to URL/metrics/job/...); Addr is host:port, a scrape target.
	URL, Addr string
	// Dir holds pushgateway.log; Stop removes it.
	Dir string

	g *group
}

// StartPushgateway starts the Pushgateway (hack/ensure.sh pushgateway) on 127.0.0.1 and a free
// port, without persistence, and waits until it is ready.
func StartPushgateway() (*Pushgateway, error) {
	bin, err := LookupTool("pushgateway")
	if err != nil {
		return nil, err
	}
	dir, err := mkTempDir("", "lakeport-pushgateway-")
	if err != nil {
		return nil, err
	}
	pg := &Pushgateway{Dir: dir, g: &group{dir: dir}}
	ports, err := freePorts(1)
	if err != nil {
		pg.Stop()
		return nil, err
	}
	pg.Addr = hostPort(ports[0])
	pg.URL = "http://" + pg.Addr
	p, err := startProc(procSpec{
		name: "pushgateway", path: bin, dir: dir, logPath: filepath.Join(dir, "pushgateway.log"),
		args: []string{"--web.listen-address=" + pg.Addr, "--log.level=info"},
	})
	if err != nil {
		pg.Stop()
		return nil, fmt.Errorf("start pushgateway: %w", err)
	}
	pg.g.add(p)
	c := &http.Client{Timeout: 5 * time.Second}
	if err := waitFor(p, "pushgateway ready", time.Minute, func(ctx context.Context) error {
		return getOK(ctx, c, pg.URL+"/-/ready", "")
	}); err != nil {
		pg.Stop()
		return nil, fmt.Errorf("start pushgateway: %w", err)
	}
	return pg, nil
}

// Stop ends the Pushgateway and removes Dir. It is safe to call more than once.
func (p *Pushgateway) Stop() {
	if p != nil && p.g != nil {
		p.g.stop()
	}
}

// PrometheusOptions are what StartPrometheus scrapes and evaluates.
type PrometheusOptions struct {
	// Targets are host:port addresses scraped at /metrics by one job, "pushgateway", with
	// honor_labels (as a ServiceMonitor with honorLabels: true scrapes a Pushgateway).
	Targets []string
	// RuleFiles are Prometheus rule files (groups:) evaluated every Interval.
	RuleFiles []string
	// Interval is the scrape and evaluation interval; default 1s.
	Interval time.Duration
}

// Prometheus is a running Prometheus server (hack/ensure.sh prometheus). Stop it when done.
type Prometheus struct {
	// URL is its http base URL (the HTTP API is URL/api/v1/...).
	URL string
	// Dir holds prometheus.yml, the TSDB and prometheus.log; Stop removes it.
	Dir string

	g *group
}

// StartPrometheus starts Prometheus on 127.0.0.1 and a free port over a fresh TSDB, scraping
// o.Targets and evaluating o.RuleFiles, and waits until it is ready.
func StartPrometheus(o PrometheusOptions) (*Prometheus, error) {
	bin, err := LookupTool("prometheus")
	if err != nil {
		return nil, err
	}
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	dir, err := mkTempDir("", "lakeport-prometheus-")
	if err != nil {
		return nil, err
	}
	pr := &Prometheus{Dir: dir, g: &group{dir: dir}}
	if err := pr.start(bin, o); err != nil {
		pr.Stop()
		return nil, fmt.Errorf("start prometheus: %w", err)
	}
	return pr, nil
}

func (pr *Prometheus) start(bin string, o PrometheusOptions) error {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n", o.Interval, o.Interval, o.Interval)
	if len(o.RuleFiles) > 0 {
		b.WriteString("rule_files:\n")
		for _, f := range o.RuleFiles {
			fmt.Fprintf(&b, "  - %q\n", f)
		}
	}
	if len(o.Targets) > 0 {
		b.WriteString("scrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets:\n")
		for _, t := range o.Targets {
			fmt.Fprintf(&b, "          - %q\n", t)
		}
	}
	cfg := filepath.Join(pr.Dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	addr := hostPort(ports[0])
	pr.URL = "http://" + addr
	p, err := startProc(procSpec{
		name: "prometheus", path: bin, dir: pr.Dir, logPath: filepath.Join(pr.Dir, "prometheus.log"),
		args: []string{
			"--config.file=" + cfg,
			"--storage.tsdb.path=" + filepath.Join(pr.Dir, "data"),
			"--web.listen-address=" + addr,
			"--web.enable-lifecycle",
			"--log.level=info",
		},
	})
	if err != nil {
		return err
	}
	pr.g.add(p)
	c := &http.Client{Timeout: 5 * time.Second}
	return waitFor(p, "prometheus ready", 2*time.Minute, func(ctx context.Context) error {
		return getOK(ctx, c, pr.URL+"/-/ready", "")
	})
}

// Stop ends Prometheus and removes Dir. It is safe to call more than once.
func (pr *Prometheus) Stop() {
	if pr != nil && pr.g != nil {
		pr.g.stop()
	}
}

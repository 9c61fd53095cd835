// Package config reads the distribution job's YAML configuration. String values may reference
// environment variables as ${NAME} (secrets come from the environment, never from the file); a
// referenced variable that is unset is an error. Without a file, Default gives the embedded
// default: everything under one local folder, SQLite for the catalog and the database.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/jobs/internal/calendar"
	"github.com/lakeport/lakeport/jobs/internal/lake"
	"github.com/lakeport/lakeport/jobs/internal/objstore"
	"github.com/lakeport/lakeport/jobs/internal/tracing"
)

// Input is where the Spark output is.
type Input struct {
	// URI is a local folder, file:///folder or s3://bucket/prefix holding <dataset>/cob_date=<date>/.
	URI string      `json:"uri"`
	S3  objstore.S3 `json:"s3,omitempty"`
	// AllowIncomplete publishes a folder without Spark's _SUCCESS marker.
	AllowIncomplete bool `json:"allowIncomplete,omitempty"`
}

// Database is the relational target.
type Database struct {
	// Driver is postgres, oracle, sqlite or none.
	Driver string `json:"driver"`
	// DSN: a pgx URL, an oracle:// URL (go-ora) or a SQLite file path.
	DSN string `json:"dsn"`
}

// Maintenance is the part of table maintenance that Trino does (compaction), run by
// `distribution maintain` under the dataset's maintenance lock, never after a publication.
type Maintenance struct {
	Optimize bool `json:"optimize,omitempty"`
	// OptimizeFileSizeThreshold: files below it are compacted (default 128MB).
	OptimizeFileSizeThreshold string `json:"optimizeFileSizeThreshold,omitempty"`
	// OptimizeManifests rewrites the manifests (Trino 471+), which nightly overwrites multiply.
	OptimizeManifests bool `json:"optimizeManifests,omitempty"`
	// ExpireSnapshotsRetention is refused: snapshot expiry is maintenance.expireSnapshotsOlderThan,
	// done by the job itself so that it keeps the publications' tags.
	ExpireSnapshotsRetention string `json:"expireSnapshotsRetention,omitempty"`
	// RemoveOrphanFilesRetention is refused: see maintenance.removeOrphanFilesOlderThan.
	RemoveOrphanFilesRetention string `json:"removeOrphanFilesRetention,omitempty"`
}

// TableMaintenance is the one maintenance of the Iceberg tables (`distribution maintain`, under the
// dataset's lock, which every publication holds shared) and the retention of the publications'
// tags.
type TableMaintenance struct {
	// TagRetention is the regulatory period for which every publication's snapshot stays
	// reproducible: its tag run-<cob_date>-<run id> carries it as max-ref-age (default 3653d,
	// ten years; "forever" never expires the tags).
	TagRetention string `json:"tagRetention,omitempty"`
	// ExpireSnapshotsOlderThan expires untagged snapshots older than this (default 7d; "off"
	// disables expiry).
	ExpireSnapshotsOlderThan string `json:"expireSnapshotsOlderThan,omitempty"`
	// RetainLast keeps at least this many snapshots of main whatever their age (default 1).
	RetainLast int `json:"retainLast,omitempty"`
	// RemoveOrphanFilesOlderThan removes unreferenced files older than this (default 3d; "off"
	// disables it). It must exceed the longest publication (its files are unreferenced until its
	// commit).
	RemoveOrphanFilesOlderThan string `json:"removeOrphanFilesOlderThan,omitempty"`
	// RewriteManifests merges manifests (default true).
	RewriteManifests *bool `json:"rewriteManifests,omitempty"`
	// PublishWait is how long a publication waits for a running maintenance of its dataset before
	// it gives up with exit code 6 (default 30m).
	PublishWait string `json:"publishWait,omitempty"`
}

// Resolved are the maintenance settings as durations (0: off / for ever).
type ResolvedMaintenance struct {
	TagRetention, ExpireOlderThan, OrphansOlderThan, PublishWait time.Duration
	RetainLast                                                   int
	RewriteManifests                                             bool
}

// Resolve applies the defaults and parses the durations (Validate reports bad ones).
func (m TableMaintenance) Resolve() (ResolvedMaintenance, error) {
	r := ResolvedMaintenance{RetainLast: max(m.RetainLast, 1), RewriteManifests: m.RewriteManifests == nil || *m.RewriteManifests}
	var errs []error
	for _, f := range []struct {
		key, val, def string
		off           string
		out           *time.Duration
	}{
		{"maintenance.tagRetention", m.TagRetention, "3653d", "forever", &r.TagRetention},
		{"maintenance.expireSnapshotsOlderThan", m.ExpireSnapshotsOlderThan, "7d", "off", &r.ExpireOlderThan},
		{"maintenance.removeOrphanFilesOlderThan", m.RemoveOrphanFilesOlderThan, "3d", "off", &r.OrphansOlderThan},
		{"maintenance.publishWait", m.PublishWait, "30m", "", &r.PublishWait},
	} {
		v := f.val
		if v == "" {
			v = f.def
		}
		if f.off != "" && v == f.off {
			continue
		}
		d, err := ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s %q: want a positive duration like 7d, 36h or 90m%s", f.key, v, offHint(f.off)))
			continue
		}
		*f.out = d
	}
	if m.RetainLast < 0 {
		errs = append(errs, fmt.Errorf("maintenance.retainLast %d: want >= 1", m.RetainLast))
	}
	return r, errors.Join(errs...)
}

func offHint(off string) string {
	if off == "" {
		return ""
	}
	return ", or " + off
}

// ParseDuration parses a Go duration or a number of days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int64
		if _, err := fmt.Sscanf(n, "%d", &days); err != nil || fmt.Sprint(days) != n {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// Trino is the optional query engine used to verify and maintain the tables.
type Trino struct {
	// URL is http(s)://user[:password]@host:port (trino-go-client DSN); empty disables Trino.
	URL         string      `json:"url,omitempty"`
	Catalog     string      `json:"catalog,omitempty"` // default "iceberg"
	Schema      string      `json:"schema,omitempty"`  // default: the Iceberg namespace
	Timeout     string      `json:"timeout,omitempty"` // per query, default 10m
	Maintenance Maintenance `json:"maintenance,omitempty"`
}

// Metrics says where the run's metrics go.
type Metrics struct {
	// Pushgateway URL; the job replaces, per dataset, the groups job="lakeport_distribution",
	// {dataset, shard} and (after a success) {dataset, shard, result="success"}.
	Pushgateway string `json:"pushgateway,omitempty"`
	// Textfile is a path for node-exporter's textfile collector.
	Textfile string `json:"textfile,omitempty"`
	// Labels are extra grouping labels of every pushed group (the chart sets namespace, so that
	// environments sharing a Pushgateway never replace each other's groups).
	Labels map[string]string `json:"labels,omitempty"`
}

// Config is the whole configuration.
type Config struct {
	Input    Input       `json:"input"`
	Iceberg  lake.Config `json:"iceberg"`
	Database Database    `json:"database"`
	Trino    Trino       `json:"trino,omitempty"`
	// Maintenance is the tables' maintenance (`distribution maintain`) and tag retention.
	Maintenance TableMaintenance `json:"maintenance,omitempty"`
	Metrics     Metrics          `json:"metrics,omitempty"`
	// Tracing exports OpenTelemetry spans (OTLP/HTTP).
	Tracing tracing.Config `json:"tracing,omitempty"`
	// WorkDir receives downloaded input (default: a temporary folder).
	WorkDir string `json:"workDir,omitempty"`
	// BatchRows is the Arrow batch size while streaming (default 65536).
	BatchRows int64 `json:"batchRows,omitempty"`
	// Calendar is the holiday calendar of business days ("previous-business-day"): target2
	// (default), gb, de, us or none (weekends only); see package calendar.
	Calendar string `json:"calendar,omitempty"`
}

// Default is the embedded default rooted at dir: input in dir/input, a SQLite Iceberg catalog in
// dir/catalog.db, the warehouse in dir/warehouse and the relational target in dir/risk.db.
func Default(dir string) *Config {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return &Config{
		Input: Input{URI: filepath.Join(abs, "input")},
		Iceberg: lake.Config{
			Catalog:   lake.CatalogConfig{Type: "sql", Name: "lakeport", URI: filepath.Join(abs, "catalog.db"), Dialect: "sqlite"},
			Warehouse: filepath.Join(abs, "warehouse"),
			Namespace: "risk",
		},
		Database: Database{Driver: "sqlite", DSN: filepath.Join(abs, "risk.db")},
	}
}

// Load reads a file, expands ${VAR} references and validates the result.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, os.LookupEnv)
}

// Parse parses YAML with lookup resolving ${VAR} references.
func Parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	missing := map[string]bool{}
	expand(reflect.ValueOf(&c).Elem(), lookup, missing)
	if len(missing) > 0 {
		var names []string
		for n := range missing {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("config references unset environment variables: %s", strings.Join(names, ", "))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func expand(v reflect.Value, lookup func(string) (string, bool), missing map[string]bool) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(varRE.ReplaceAllStringFunc(v.String(), func(m string) string {
				name := varRE.FindStringSubmatch(m)[1]
				val, ok := lookup(name)
				if !ok {
					missing[name] = true
				}
				return val
			}))
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				expand(v.Field(i), lookup, missing)
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			expand(v.Elem(), lookup, missing)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			s := v.MapIndex(k)
			if s.Kind() == reflect.String {
				n := reflect.New(s.Type()).Elem()
				n.SetString(s.String())
				expand(n, lookup, missing)
				v.SetMapIndex(k, n)
			}
		}
	}
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Input.URI == "" {
		errs = append(errs, errors.New("input.uri is required"))
	}
	if c.Iceberg.Catalog.URI == "" {
		errs = append(errs, errors.New("iceberg.catalog.uri is required"))
	}
	if c.Iceberg.Warehouse == "" && !strings.EqualFold(c.Iceberg.Catalog.Type, "rest") {
		errs = append(errs, errors.New("iceberg.warehouse is required for a sql catalog"))
	}
	switch c.Database.Driver {
	case "none":
	case "postgres", "oracle", "sqlite":
		if c.Database.DSN == "" {
			errs = append(errs, fmt.Errorf("database.dsn is required for driver %s", c.Database.Driver))
		}
	default:
		errs = append(errs, fmt.Errorf("database.driver %q: want postgres, oracle, sqlite or none", c.Database.Driver))
	}
	if _, err := calendar.New(c.Calendar); err != nil {
		errs = append(errs, err)
	}
	if c.Trino.Maintenance.ExpireSnapshotsRetention != "" {
		errs = append(errs, errors.New("trino.maintenance.expireSnapshotsRetention: snapshot expiry moved to maintenance.expireSnapshotsOlderThan (run by `distribution maintain` under the dataset's lock, keeping the publications' tags)"))
	}
	if c.Trino.Maintenance.RemoveOrphanFilesRetention != "" {
		errs = append(errs, errors.New("trino.maintenance.removeOrphanFilesRetention: orphan removal moved to maintenance.removeOrphanFilesOlderThan (run by `distribution maintain` under the dataset's lock)"))
	}
	if _, err := c.Maintenance.Resolve(); err != nil {
		errs = append(errs, err)
	}
	if c.Trino.Timeout != "" {
		if _, err := time.ParseDuration(c.Trino.Timeout); err != nil {
			errs = append(errs, fmt.Errorf("trino.timeout: %w", err))
		}
	}
	return errors.Join(errs...)
}

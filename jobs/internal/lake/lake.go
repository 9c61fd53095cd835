// Package lake writes the datasets as Iceberg tables with apache/iceberg-go: one table per
// dataset, partitioned by identity on cob_date, each publication replacing exactly one date's
// partition in a single overwrite commit that carries the run id and the input checksums in its
// snapshot summary.
//
// Catalogs: the SQL catalog on PostgreSQL (the iceberg_tables / iceberg_namespace_properties layout
// that Trino's JDBC Iceberg catalog reads, schema version V1 with the iceberg_type column), on
// SQLite for the embedded default, or a REST catalog. Warehouses: a local folder or S3.
package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // s3:// warehouses
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" database/sql driver
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/objstore"
)

// Snapshot summary keys written by every publication.
const (
	SummaryRunID           = "lakeport.run-id"
	SummaryCobDate         = "lakeport.cob-date"
	SummaryInputChecksum   = "lakeport.input-sha256"
	SummaryInputFiles      = "lakeport.input-files"
	SummaryInputChecksums  = "lakeport.input-file-sha256" // name=sha256 per file, ';'-separated (omitted past 16 KiB)
	SummaryContentChecksum = "lakeport.content-checksum"
	SummaryContract        = "lakeport.contract"
	SummaryRows            = "lakeport.rows"
)

// CatalogConfig selects and reaches the Iceberg catalog.
type CatalogConfig struct {
	// Type is "sql" (default) or "rest".
	Type string `json:"type,omitempty"`
	// Name is the catalog name stored in every catalog row; Trino's
	// iceberg.jdbc-catalog.catalog-name must be the same.
	Name string `json:"name,omitempty"`
	// URI is the database URL (sql: postgres://..., or a SQLite file path) or the REST endpoint.
	URI string `json:"uri"`
	// Dialect is "postgres" or "sqlite" for the SQL catalog (default: from URI).
	Dialect string `json:"dialect,omitempty"`
	// SchemaVersion of the JDBC catalog tables: "V1" (default; iceberg_type column, what Trino
	// writes with iceberg.jdbc-catalog.schema-version=V1) or "V0" (legacy, left as found).
	SchemaVersion string `json:"schemaVersion,omitempty"`
	// Properties are passed to the catalog as they are (REST: credential, token, scope, ...).
	Properties map[string]string `json:"properties,omitempty"`
}

// Config is the Iceberg side of a publication.
type Config struct {
	Catalog CatalogConfig `json:"catalog"`
	// Warehouse is the root of table locations: a local folder, file:///folder or s3://bucket/prefix.
	Warehouse string `json:"warehouse"`
	// Namespace holds the dataset tables (default "risk").
	Namespace string `json:"namespace,omitempty"`
	// S3 reaches an s3:// warehouse.
	S3 objstore.S3 `json:"s3,omitempty"`
	// TableProperties are set on tables the job creates.
	TableProperties map[string]string `json:"tableProperties,omitempty"`
}

// Lake is an open catalog.
type Lake struct {
	cfg    Config
	cat    catalog.Catalog
	db     *sql.DB
	awsCfg *aws.Config
}

// Open connects to the catalog (creating the SQL catalog tables when missing).
func Open(ctx context.Context, cfg Config) (*Lake, error) {
	if cfg.Namespace == "" {
		cfg.Namespace = "risk"
	}
	if cfg.Catalog.Name == "" {
		cfg.Catalog.Name = "lakeport"
	}
	wh, err := normaliseWarehouse(cfg.Warehouse)
	if err != nil {
		return nil, err
	}
	cfg.Warehouse = wh
	l := &Lake{cfg: cfg}
	props := iceberg.Properties{}
	if strings.HasPrefix(wh, "s3://") || strings.HasPrefix(wh, "s3a://") {
		awsCfg, err := cfg.S3.AWSConfig(ctx)
		if err != nil {
			return nil, err
		}
		l.awsCfg = &awsCfg
		for k, v := range cfg.S3.IcebergProps() {
			props[k] = v
		}
	}
	for k, v := range cfg.Catalog.Properties {
		props[k] = v
	}
	if wh != "" {
		props["warehouse"] = wh
	}
	ctx = l.ctx(ctx)
	switch strings.ToLower(cfg.Catalog.Type) {
	case "", "sql":
		if err := l.openSQL(props); err != nil {
			return nil, err
		}
	case "rest":
		opts := []rest.Option{}
		if wh != "" {
			opts = append(opts, rest.WithWarehouseLocation(wh))
		}
		if c := props["credential"]; c != "" {
			opts = append(opts, rest.WithCredential(c))
		}
		if t := props["token"]; t != "" {
			opts = append(opts, rest.WithOAuthToken(t))
		}
		opts = append(opts, rest.WithAdditionalProps(props))
		cat, err := rest.NewCatalog(ctx, cfg.Catalog.Name, cfg.Catalog.URI, opts...)
		if err != nil {
			return nil, fmt.Errorf("rest catalog %s: %w", cfg.Catalog.URI, err)
		}
		l.cat = cat
	default:
		return nil, fmt.Errorf("catalog type %q: want sql or rest", cfg.Catalog.Type)
	}
	return l, nil
}

func normaliseWarehouse(wh string) (string, error) {
	if wh == "" {
		return "", nil
	}
	u, err := url.Parse(wh)
	if err != nil {
		return "", fmt.Errorf("warehouse %q: %w", wh, err)
	}
	switch u.Scheme {
	case "":
		abs, err := filepath.Abs(wh)
		if err != nil {
			return "", err
		}
		return "file://" + filepath.ToSlash(abs), nil
	case "file", "s3", "s3a":
		return strings.TrimSuffix(wh, "/"), nil
	}
	return "", fmt.Errorf("warehouse %q: unsupported scheme %q", wh, u.Scheme)
}

// Dialect guesses the SQL dialect from a catalog URI.
func Dialect(uri string) string {
	if strings.HasPrefix(uri, "postgres://") || strings.HasPrefix(uri, "postgresql://") || strings.Contains(uri, "host=") {
		return "postgres"
	}
	return "sqlite"
}

func (l *Lake) openSQL(props iceberg.Properties) error {
	c := l.cfg.Catalog
	dialect := c.Dialect
	if dialect == "" {
		dialect = Dialect(c.URI)
	}
	var (
		db  *sql.DB
		err error
		d   sqlcat.SupportedDialect
	)
	switch dialect {
	case "postgres":
		db, err = sql.Open("pgx", c.URI)
		d = sqlcat.Postgres
	case "sqlite":
		db, err = sql.Open(sqliteshim.ShimName, SQLiteDSN(c.URI))
		d = sqlcat.SQLite
		if err == nil {
			db.SetMaxOpenConns(1)
		}
	default:
		return fmt.Errorf("catalog dialect %q: want postgres or sqlite", dialect)
	}
	if err != nil {
		return fmt.Errorf("open catalog database: %w", err)
	}
	sv := c.SchemaVersion
	if sv == "" {
		sv = sqlcat.SchemaVersionV1
	}
	if strings.EqualFold(sv, sqlcat.SchemaVersionV1) {
		props[sqlcat.SchemaVersionKey] = sqlcat.SchemaVersionV1
	}
	// iceberg-go creates its tables with CREATE TABLE IF NOT EXISTS, which races in PostgreSQL when
	// several processes open a fresh catalog at once (the workers of a sharded publication): the
	// losers see 23505 on pg_type or 42710/42P07. The tables exist by then: open again.
	var cat *sqlcat.Catalog
	for attempt := 1; ; attempt++ {
		cat, err = sqlcat.NewCatalog(c.Name, db, d, props)
		if err == nil || attempt == 5 || !concurrentCreate(err) {
			break
		}
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("sql catalog %s: %w", c.Name, err)
	}
	l.cat, l.db = cat, db
	return nil
}

// concurrentCreate reports a PostgreSQL error of two sessions creating the same table at once.
func concurrentCreate(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "23505" || pg.Code == "42710" || pg.Code == "42P07")
}

// SQLiteDSN turns a path into a modernc SQLite DSN with WAL and a busy timeout (kept as is when it
// already is a file: URI).
func SQLiteDSN(p string) string {
	if strings.HasPrefix(p, "file:") {
		return p
	}
	return "file:" + p + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"
}

// Close releases the catalog.
func (l *Lake) Close() error {
	var errs []error
	if c, ok := l.cat.(catalog.Closer); ok {
		errs = append(errs, c.Close())
	}
	if l.db != nil {
		errs = append(errs, l.db.Close())
	}
	return errors.Join(errs...)
}

// Catalog is the underlying iceberg-go catalog.
func (l *Lake) Catalog() catalog.Catalog { return l.cat }

// Namespace is the namespace of the dataset tables.
func (l *Lake) Namespace() string { return l.cfg.Namespace }

// ctx carries the S3 configuration (credentials, retry policy) to iceberg-go's FileIO.
func (l *Lake) ctx(ctx context.Context) context.Context {
	if l.awsCfg != nil {
		return utils.WithAwsConfig(ctx, l.awsCfg)
	}
	return ctx
}

// Ident is the table identifier of a dataset.
func (l *Lake) Ident(c *contract.Contract) table.Identifier {
	return table.Identifier{l.cfg.Namespace, c.Table}
}

// DefaultTableProperties are set on the tables the job creates: format v2 (what Trino reads and
// writes), zstd Parquet, and commit retries for concurrent writers.
var DefaultTableProperties = map[string]string{
	"format-version":                             "2",
	"write.format.default":                       "parquet",
	"write.parquet.compression-codec":            "zstd",
	"write.target-file-size-bytes":               "268435456",
	"commit.retry.num-retries":                   "8",
	"write.metadata.delete-after-commit.enabled": "true",
	"write.metadata.previous-versions-max":       "50",
}

// Table loads the dataset's table, creating the namespace and the table when missing and checking
// that an existing table matches the contract.
func (l *Lake) Table(ctx context.Context, c *contract.Contract) (*table.Table, error) {
	ctx = l.ctx(ctx)
	ident := l.Ident(c)
	ns := table.Identifier{l.cfg.Namespace}
	exists, err := l.cat.CheckNamespaceExists(ctx, ns)
	if err != nil {
		return nil, fmt.Errorf("check namespace %s: %w", l.cfg.Namespace, err)
	}
	if !exists {
		if err := l.cat.CreateNamespace(ctx, ns, iceberg.Properties{"comment": "Lakeport market-risk results"}); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
			return nil, fmt.Errorf("create namespace %s: %w", l.cfg.Namespace, err)
		}
	}
	tbl, err := l.cat.LoadTable(ctx, ident)
	if err == nil {
		return tbl, checkSchema(tbl, c)
	}
	if !errors.Is(err, catalog.ErrNoSuchTable) {
		return nil, fmt.Errorf("load table %s: %w", strings.Join(ident, "."), err)
	}
	props := iceberg.Properties{}
	for k, v := range DefaultTableProperties {
		props[k] = v
	}
	for k, v := range l.cfg.TableProperties {
		props[k] = v
	}
	props["comment"] = strings.TrimSpace(c.Description)
	props["lakeport.contract"] = fmt.Sprintf("%s/v%d", c.Name, c.Version)
	spec := c.PartitionSpec()
	tbl, err = l.cat.CreateTable(ctx, ident, c.IcebergSchema(), catalog.WithPartitionSpec(&spec), catalog.WithProperties(props))
	if errors.Is(err, catalog.ErrTableAlreadyExists) {
		tbl, err = l.cat.LoadTable(ctx, ident)
	}
	if err != nil {
		return nil, fmt.Errorf("create table %s: %w", strings.Join(ident, "."), err)
	}
	return tbl, checkSchema(tbl, c)
}

// checkSchema refuses to write a table whose columns differ from the contract: changing a
// published schema is a decision (a new contract version and a table migration), not a side effect.
func checkSchema(tbl *table.Table, c *contract.Contract) error {
	sc := tbl.Schema()
	var errs []error
	for _, col := range c.Columns {
		f, ok := sc.FindFieldByName(col.Name)
		if !ok {
			errs = append(errs, fmt.Errorf("column %s missing from the table", col.Name))
			continue
		}
		if !f.Type.Equals(contract.IcebergType(col.Type)) {
			errs = append(errs, fmt.Errorf("column %s is %s in the table, %s in the contract", col.Name, f.Type, col.Type))
		}
	}
	if len(sc.Fields()) != len(c.Columns) {
		errs = append(errs, fmt.Errorf("table has %d columns, contract %d", len(sc.Fields()), len(c.Columns)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("table %s does not match contract %s v%d: %w", strings.Join(tbl.Identifier(), "."), c.Name, c.Version, err)
	}
	return nil
}

func dateOf(t time.Time) iceberg.Date {
	return iceberg.Date(t.UTC().Truncate(24*time.Hour).Unix() / 86400)
}

// PartitionStats are the row and file counts of one date in the current snapshot.
type PartitionStats struct {
	CobDate time.Time
	Rows    int64
	Files   int
	Bytes   int64
}

// Partitions returns the per-date statistics of the current snapshot from the manifests (no data
// file is read), sorted by date.
func (l *Lake) Partitions(ctx context.Context, tbl *table.Table, c *contract.Contract, filter iceberg.BooleanExpression) ([]PartitionStats, error) {
	if tbl.CurrentSnapshot() == nil {
		return nil, nil
	}
	opts := []table.ScanOption{}
	if filter != nil {
		opts = append(opts, table.WithRowFilter(filter))
	}
	tasks, err := tbl.Scan(opts...).PlanFiles(l.ctx(ctx))
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", strings.Join(tbl.Identifier(), "."), err)
	}
	spec := tbl.Spec()
	fieldID := spec.Field(0).FieldID
	by := map[int32]*PartitionStats{}
	for _, t := range tasks {
		d, ok := partitionDate(t.File.Partition()[fieldID])
		if !ok {
			return nil, fmt.Errorf("data file %s has no %s partition value", t.File.FilePath(), c.PartitionBy)
		}
		s := by[d]
		if s == nil {
			s = &PartitionStats{CobDate: time.Unix(int64(d)*86400, 0).UTC()}
			by[d] = s
		}
		s.Rows += t.File.Count()
		s.Files++
		s.Bytes += t.File.FileSizeBytes()
	}
	out := make([]PartitionStats, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sortStats(out)
	return out, nil
}

func sortStats(s []PartitionStats) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].CobDate.Before(s[j-1].CobDate); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func partitionDate(v any) (int32, bool) {
	switch v := v.(type) {
	case iceberg.Date:
		return int32(v), true
	case int32:
		return v, true
	case int:
		return int32(v), true
	case int64:
		return int32(v), true
	}
	return 0, false
}

// PreviousRows is the row count of the latest date before cob, or nil when there is none.
func (l *Lake) PreviousRows(ctx context.Context, tbl *table.Table, c *contract.Contract, cob time.Time) (*int64, time.Time, error) {
	stats, err := l.Partitions(ctx, tbl, c, iceberg.LessThan(iceberg.Reference(c.PartitionBy), dateOf(cob)))
	if err != nil || len(stats) == 0 {
		return nil, time.Time{}, err
	}
	last := stats[len(stats)-1]
	return &last.Rows, last.CobDate, nil
}

// Commit describes a publication's snapshot.
type Commit struct {
	SnapshotID       int64
	ParentSnapshotID *int64
	// SequenceNumber orders the table's snapshots (a later commit has a higher one).
	SequenceNumber   int64
	MetadataLocation string
	AddedFiles       int64
	AddedRows        int64
	AddedBytes       int64
	DeletedFiles     int64
	DeletedRows      int64
	Duration         time.Duration
}

// Reload reads the table's current metadata again.
func (l *Lake) Reload(ctx context.Context, c *contract.Contract) (*table.Table, error) {
	return l.cat.LoadTable(l.ctx(ctx), l.Ident(c))
}

// Context returns ctx with what iceberg-go needs to reach the warehouse (for callers that use the
// table's FileIO directly).
func (l *Lake) Context(ctx context.Context) context.Context { return l.ctx(ctx) }

package lake

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/lakeport/lakeport/jobs/internal/publock"
)

// Locker returns the publication lock that fits the catalog: an advisory lock in the SQL
// catalog's PostgreSQL database, a file lock next to a SQLite catalog, and for a REST catalog a
// lease object in the S3 warehouse (a file lock for a local warehouse).
func (l *Lake) Locker(ctx context.Context) (publock.Locker, error) {
	c := l.cfg.Catalog
	switch strings.ToLower(c.Type) {
	case "", "sql":
		dialect := c.Dialect
		if dialect == "" {
			dialect = Dialect(c.URI)
		}
		if dialect == "postgres" {
			return publock.NewPostgres(c.URI), nil
		}
		p := strings.TrimPrefix(c.URI, "file:")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return publock.NewFile(filepath.Join(filepath.Dir(p), "locks")), nil
	}
	u, err := url.Parse(l.cfg.Warehouse)
	if err != nil {
		return nil, fmt.Errorf("warehouse %q: %w", l.cfg.Warehouse, err)
	}
	if u.Scheme == "file" {
		return publock.NewFile(filepath.Join(u.Path, "_lakeport", "locks")), nil
	}
	cl, err := l.cfg.S3.Client(ctx)
	if err != nil {
		return nil, fmt.Errorf("publication lock on s3://%s: %w", u.Host, err)
	}
	return &publock.S3{Client: cl, Bucket: u.Host, Prefix: strings.Trim(u.Path, "/") + "/_lakeport/locks"}, nil
}

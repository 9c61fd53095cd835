package publish_test

import (
	"sync"
	"testing"

	"github.com/lakeport/lakeport/jobs/internal/lake"
)

// TestWorkersOpenAFreshCatalogTogether: the pods of a sharded publication open the SQL catalog at
// the same instant; on a database where iceberg-go has not created its tables yet, its
// CREATE TABLE IF NOT EXISTS races in PostgreSQL (SQLSTATE 42710 'type "iceberg_tables" already
// exists', seen with 4 workers in make bench-jobs) and the losers failed to start.
func TestWorkersOpenAFreshCatalogTogether(t *testing.T) {
	servers(t)
	for round := 0; round < 3; round++ {
		dsn := newDatabase(t)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		start := make(chan struct{})
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				l, err := lake.Open(t.Context(), lake.Config{Catalog: lake.CatalogConfig{Type: "sql", Name: "fresh", URI: dsn}, Warehouse: t.TempDir()})
				if err == nil {
					_ = l.Close()
				}
				errs[i] = err
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, worker %d: %v", round, i, err)
			}
		}
	}
}

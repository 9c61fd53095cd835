package relational

import (
	"context"
	"database/sql"
	"errors"
)

var errNoOracle = errors.New("oracle: not built into this binary yet")

// OpenOracle is not available yet.
func OpenOracle(ctx context.Context, dsn string) (Loader, error) { return nil, errNoOracle }

// OpenOracleDB is not available yet.
func OpenOracleDB(dsn string) (*sql.DB, error) { return nil, errNoOracle }

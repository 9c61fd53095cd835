package app

import (
	"context"
	"database/sql"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" database/sql driver for migrations and queries

	"github.com/lakeport/lakeport/jobs/internal/config"
	"github.com/lakeport/lakeport/jobs/internal/relational"
)

// openLoader opens the relational target of the configuration (nil for driver none).
func openLoader(ctx context.Context, db config.Database) (relational.Loader, error) {
	switch db.Driver {
	case "none":
		return nil, nil
	case "postgres":
		return relational.OpenPostgres(ctx, db.DSN)
	case "sqlite":
		return relational.OpenSQLite(db.DSN)
	case "oracle":
		return relational.OpenOracle(ctx, db.DSN)
	}
	return nil, fmt.Errorf("database driver %q", db.Driver)
}

// openSQL opens the relational target through database/sql (migrations, queries).
func openSQL(db config.Database) (*sql.DB, error) {
	switch db.Driver {
	case "postgres":
		return sql.Open("pgx", db.DSN)
	case "sqlite":
		return relational.OpenSQLiteDB(db.DSN)
	case "oracle":
		return relational.OpenOracleDB(db.DSN)
	}
	return nil, fmt.Errorf("database driver %q has no SQL connection", db.Driver)
}

// tableName is how a dataset table is named in SQL on the target.
func tableName(driver, table string) string {
	if driver == "postgres" {
		return relational.PostgresSchema + "." + table
	}
	return table
}

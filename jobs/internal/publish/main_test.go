package publish_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lakeport/lakeport/hack/testenv"
	"github.com/lakeport/lakeport/jobs/internal/app"
)

// childArgsEnv, when set, makes the test binary run the distribution command with these
// arguments (separated by \x1f) instead of the tests: the crash tests kill that process.
const childArgsEnv = "LAKEPORT_TEST_CHILD_ARGS"

// The servers of this package, started once in TestMain.
var (
	pg    *testenv.Postgres
	s3srv *testenv.S3
	pgErr error
	s3Err error
	dbSeq atomic.Int64
)

func TestMain(m *testing.M) {
	if args := os.Getenv(childArgsEnv); args != "" {
		// A child process of a crash test: run the command, as the container would.
		os.Exit(app.Main(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	pg, pgErr = testenv.StartPostgres()
	s3srv, s3Err = testenv.StartS3()
	code := m.Run()
	pg.Stop()
	s3srv.Stop()
	os.Exit(code)
}

// servers fails (or, outside CI, skips) the test when a server could not start.
func servers(t *testing.T) {
	t.Helper()
	testenv.NeedServer(t, pgErr)
	testenv.NeedServer(t, s3Err)
}

// newDatabase creates a fresh database for one test and returns its DSN.
func newDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(pg.DSN, "/"+pg.Database+"?", "/"+name+"?", 1)
}

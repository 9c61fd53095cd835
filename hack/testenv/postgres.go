package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PostgresDatabase is the database StartPostgres creates.
const PostgresDatabase = "lakeport"

// Postgres is a running PostgreSQL server. Stop it when done.
type Postgres struct {
	// DSN is a URL for pgx (and lib/pq, psql):
	// postgres://postgres@127.0.0.1:<port>/lakeport?sslmode=disable.
	// Authentication is "trust": no password.
	DSN string
	// Host and Port are where it listens (127.0.0.1 only; no Unix socket
	// outside Dir).
	Host string
	Port int
	// User is the superuser, "postgres"; Database is PostgresDatabase.
	User, Database string
	// Dir holds the cluster (data/), the socket and postgres.log; Stop
	// removes it.
	Dir string

	g *group
}

// StartPostgres initialises a throwaway cluster (initdb) and starts postgres
// on 127.0.0.1 and a free port, with fsync off, then creates the database
// PostgresDatabase. It uses the newest /usr/lib/postgresql/<ver>/bin from
// Debian's packages (hack/apt.sh).
//
// PostgreSQL refuses to run as root; when the caller is root the server runs
// as the "postgres" user (set as the process credential, like runuser) in a
// folder under /tmp that user can reach.
func StartPostgres() (*Postgres, error) {
	bins := map[string]string{}
	for _, n := range []string{"initdb", "postgres", "createdb"} {
		p, err := LookupTool(n)
		if err != nil {
			return nil, err
		}
		bins[n] = p
	}
	var cred *syscall.Credential
	base := "" // os.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("start postgres: running as root needs the postgres user (hack/apt.sh creates it): %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// TMPDIR may point into root's home, which postgres cannot traverse.
		base = "/tmp"
	}
	dir, err := mkTempDir(base, "lakeport-pg-")
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Dir: dir, Host: "127.0.0.1", User: "postgres", Database: PostgresDatabase, g: &group{dir: dir}}
	if err := pg.start(bins, cred); err != nil {
		pg.Stop()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	return pg, nil
}

// Stop shuts postgres down (fast mode: open sessions are ended) and removes
// Dir. It is safe to call more than once.
func (pg *Postgres) Stop() {
	if pg != nil && pg.g != nil {
		pg.g.stop()
	}
}

func (pg *Postgres) start(bins map[string]string, cred *syscall.Credential) error {
	if cred != nil {
		if err := os.Chown(pg.Dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", pg.Dir, err)
		}
	}
	data := filepath.Join(pg.Dir, "data")
	initdb, err := startProc(procSpec{
		name: "initdb", path: bins["initdb"], dir: pg.Dir, cred: cred,
		logPath: filepath.Join(pg.Dir, "initdb.log"),
		args: []string{"-D", data, "-U", "postgres", "--auth=trust",
			"--no-locale", "--encoding=UTF8", "--no-sync", "--no-instructions"},
		env: []string{"LC_ALL=C", "TZ=UTC"},
	})
	if err != nil {
		return err
	}
	select {
	case <-initdb.done:
	case <-time.After(2 * time.Minute):
	}
	timedOut := !initdb.exited()
	initdb.stop() // also closes its log
	if timedOut {
		return initdb.failure(errors.New("initdb timed out after 2m"))
	}
	if initdb.waitErr != nil {
		return initdb.failure(errors.New("initdb failed"))
	}

	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	pg.Port = ports[0]
	srv, err := startProc(procSpec{
		name: "postgres", path: bins["postgres"], dir: pg.Dir, cred: cred,
		logPath: filepath.Join(pg.Dir, "postgres.log"),
		// SIGINT is postgres's "fast" shutdown; SIGTERM ("smart") would
		// wait for every client a test left connected.
		stopSig: syscall.SIGINT,
		args: []string{"-D", data,
			"-c", "listen_addresses=127.0.0.1",
			"-p", strconv.Itoa(pg.Port),
			"-k", pg.Dir,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "max_connections=200",
		},
		env: []string{"LC_ALL=C", "TZ=UTC"},
	})
	if err != nil {
		return err
	}
	pg.g.add(srv)
	if err := waitFor(srv, "postgres ready", time.Minute, func(context.Context) error {
		return postmasterReady(filepath.Join(data, "postmaster.pid"))
	}); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins["createdb"], "-h", pg.Host, "-p", strconv.Itoa(pg.Port), "-U", pg.User, pg.Database) //nolint:gosec // our own binary and arguments
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	if out, err := cmd.CombinedOutput(); err != nil {
		return srv.failure(fmt.Errorf("createdb %s: %w: %s", pg.Database, err, bytes.TrimSpace(out)))
	}
	pg.DSN = fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", pg.User, hostPort(pg.Port), pg.Database)
	return nil
}

// postmasterReady reads postmaster.pid, whose 8th line is the server status
// ("ready" once it accepts connections); this is what pg_ctl -w checks.
func postmasterReady(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return errNotYet
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) >= 8 && strings.TrimSpace(lines[7]) == "ready" {
		return nil
	}
	return errNotYet
}

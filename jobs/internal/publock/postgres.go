package publock

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
)

// Postgres takes session-level advisory locks in a PostgreSQL database (the Iceberg SQL catalog's).
// Every lock has its own connection, held for the lock's life: the lock is a property of the
// session, so it must not go back to a pool where another statement could release or reuse it.
type Postgres struct {
	dsn string
}

// NewPostgres returns a Locker on the database of dsn (a pgx URL or keyword/value DSN).
func NewPostgres(dsn string) *Postgres { return &Postgres{dsn: dsn} }

// Close implements Locker.
func (p *Postgres) Close() error { return nil }

type pgLock struct {
	conn *pgx.Conn
	id   int64 // the date's lock (exclusive); 0 for maintenance
	ds   int64 // the dataset-wide lock: shared with id != 0, exclusive for maintenance
	lost chan struct{}
	once sync.Once
	stop chan struct{}
	done chan struct{}
	err  error
}

func (p *Postgres) connect(ctx context.Context, what, app string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(p.dsn)
	if err != nil {
		return nil, fmt.Errorf("lock %s: parse dsn: %w", what, err)
	}
	cfg.RuntimeParams["application_name"] = app
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("lock %s: connect: %w", what, err)
	}
	return conn, nil
}

// TryAcquire implements Locker with pg_try_advisory_lock_shared on the dataset's lock, then
// pg_try_advisory_lock on the date's, both held by one session.
func (p *Postgres) TryAcquire(ctx context.Context, key Key, owner string) (Lock, error) {
	conn, err := p.connect(ctx, key.String(), "lakeport-publish "+key.String()+" "+owner)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (Lock, error) {
		_ = conn.Close(context.WithoutCancel(ctx)) // the session's locks go with it
		return nil, err
	}
	ds, id := datasetID64(key.Dataset), key.id64()
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock_shared($1)`, ds).Scan(&ok); err != nil {
		return fail(fmt.Errorf("lock %s: pg_try_advisory_lock_shared(%d): %w", key, ds, err))
	}
	if !ok {
		return fail(&BusyError{Key: key, Holder: holderOf(ctx, conn, ds), Maintenance: true})
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, id).Scan(&ok); err != nil {
		return fail(fmt.Errorf("lock %s: pg_try_advisory_lock(%d): %w", key, id, err))
	}
	if !ok {
		return fail(&BusyError{Key: key, Holder: holderOf(ctx, conn, id)})
	}
	l := &pgLock{conn: conn, id: id, ds: ds, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.watch()
	return l, nil
}

// TryAcquireMaintenance implements Locker with pg_try_advisory_lock on the dataset's lock, which
// every publication of the dataset holds shared.
func (p *Postgres) TryAcquireMaintenance(ctx context.Context, dataset, owner string) (Lock, error) {
	conn, err := p.connect(ctx, dataset, "lakeport-maintain "+dataset+" "+owner)
	if err != nil {
		return nil, err
	}
	ds := datasetID64(dataset)
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, ds).Scan(&ok); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("maintenance lock %s: pg_try_advisory_lock(%d): %w", dataset, ds, err)
	}
	if !ok {
		holder := holderOf(ctx, conn, ds)
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, &BusyError{Key: Key{Dataset: dataset}, Holder: holder, Maintenance: true}
	}
	l := &pgLock{conn: conn, ds: ds, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.watch()
	return l, nil
}

// holderOf names the session that holds advisory lock id (its application_name carries the run).
func holderOf(ctx context.Context, conn *pgx.Conn, id int64) string {
	var pid int32
	var app string
	// A bigint advisory lock shows as classid = high 32 bits, objid = low 32 bits, objsubid = 1.
	err := conn.QueryRow(ctx, `SELECT l.pid, coalesce(a.application_name, '')
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.pid <> pg_backend_pid()
  AND l.classid::bigint = (($1::bigint >> 32) & 4294967295) AND l.objid::bigint = ($1::bigint & 4294967295)
LIMIT 1`, id).Scan(&pid, &app)
	if err != nil {
		return fmt.Sprintf("postgres advisory lock %d", id)
	}
	return fmt.Sprintf("postgres advisory lock %d held by backend %d, %q", id, pid, app)
}

// watch pings the session: if it dies, so did the lock.
func (l *pgLock) watch() {
	defer close(l.done)
	t := newTicker()
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
			err := l.conn.Ping(ctx)
			cancel()
			if err != nil {
				l.err = err
				close(l.lost)
				return
			}
		}
	}
}

func (l *pgLock) Lost() <-chan struct{} { return l.lost }

func (l *pgLock) Release(ctx context.Context) error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done // the connection is not safe for concurrent use: wait for the last ping
		var ok bool
		switch {
		case l.id == 0: // maintenance: the dataset's lock, exclusive
			if qerr := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, l.ds).Scan(&ok); qerr != nil {
				err = qerr
			} else if !ok {
				err = errors.New("advisory lock was not held")
			}
		default:
			if qerr := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1), pg_advisory_unlock_shared($2)`, l.id, l.ds).Scan(&ok, new(bool)); qerr != nil {
				err = qerr
			} else if !ok {
				err = errors.New("advisory lock was not held")
			}
		}
		if cerr := l.conn.Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = cerr
		}
	})
	return err
}

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
	id   int64
	lost chan struct{}
	once sync.Once
	stop chan struct{}
	done chan struct{}
	err  error
}

// TryAcquire implements Locker with pg_try_advisory_lock(bigint).
func (p *Postgres) TryAcquire(ctx context.Context, key Key, owner string) (Lock, error) {
	cfg, err := pgx.ParseConfig(p.dsn)
	if err != nil {
		return nil, fmt.Errorf("lock %s: parse dsn: %w", key, err)
	}
	cfg.RuntimeParams["application_name"] = "lakeport-publish " + key.String() + " " + owner
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("lock %s: connect: %w", key, err)
	}
	id := key.id64()
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, id).Scan(&ok); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("lock %s: pg_try_advisory_lock(%d): %w", key, id, err)
	}
	if !ok {
		holder := holderOf(ctx, conn, id)
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, &BusyError{Key: key, Holder: holder}
	}
	l := &pgLock{conn: conn, id: id, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
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
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
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
		if qerr := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, l.id).Scan(&ok); qerr != nil {
			err = qerr
		} else if !ok {
			err = errors.New("advisory lock was not held")
		}
		if cerr := l.conn.Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = cerr
		}
	})
	return err
}

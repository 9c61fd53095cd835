// Package wait lets the distribution jobs start before the services they need. Argo CD syncs the
// kit's Applications in no particular order (an ApplicationSet does not order the Applications it
// generates), so the migration Job or a nightly run may start while the database, S3 or Trino is
// still being created. Before doing any work a command waits until every endpoint it needs accepts
// a TCP connection, retrying with exponential backoff up to a deadline and logging, at each
// attempt, what it waits for and why the last try failed.
//
// Only reachability is checked: authentication, TLS and the protocol are left to the clients,
// whose errors are clear once the peer is there.
package wait

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// Target is one endpoint a command needs.
type Target struct {
	// Name says what it is, for the logs ("database", "trino", "S3 warehouse").
	Name string
	// Addr is host:port.
	Addr string
}

func (t Target) String() string { return t.Name + " at " + t.Addr }

// Options bound the wait. Zero values take the defaults.
type Options struct {
	// Timeout is the longest the whole wait may take (default 5m).
	Timeout time.Duration
	// Initial is the first pause between attempts (default 1s); it doubles up to Max (default 30s).
	Initial, Max time.Duration
	// DialTimeout bounds one connection attempt (default 5s).
	DialTimeout time.Duration
	// Log receives one line per failed attempt (default: discarded).
	Log *slog.Logger
	// Dial and Sleep are replaced in tests.
	Dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Initial <= 0 {
		o.Initial = time.Second
	}
	if o.Max <= 0 {
		o.Max = 30 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Dial == nil {
		d := &net.Dialer{}
		o.Dial = d.DialContext
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// UnreachableError says which target never answered, for how long it was tried and the last
// error.
type UnreachableError struct {
	Target   Target
	Attempts int
	Waited   time.Duration
	Err      error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s still unreachable after %d attempts over %s, giving up: %v", e.Target, e.Attempts, e.Waited.Round(time.Second), e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// For waits until every target accepts a TCP connection, in order, sharing one deadline. It
// returns nil at once for targets already up, an *UnreachableError when the deadline passes, and
// the context's error when it is cancelled.
func For(ctx context.Context, o Options, targets ...Target) error {
	o = o.withDefaults()
	start := o.Now()
	deadline := start.Add(o.Timeout)
	for _, t := range targets {
		delay := o.Initial
		for attempt := 1; ; attempt++ {
			err := probe(ctx, o, t.Addr)
			if err == nil {
				if attempt > 1 {
					o.Log.Info("reachable now", "target", t.Name, "addr", t.Addr, "attempts", attempt, "waited", o.Now().Sub(start).Round(time.Millisecond).String())
				}
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("waiting for %s: %w", t, ctx.Err())
			}
			left := deadline.Sub(o.Now())
			if left <= 0 {
				return &UnreachableError{Target: t, Attempts: attempt, Waited: o.Now().Sub(start), Err: err}
			}
			pause := min(delay, left)
			o.Log.Warn(fmt.Sprintf("waiting for %s (attempt %d, next in %s, giving up in %s): %v", t, attempt, pause.Round(time.Millisecond), left.Round(time.Second), err),
				"target", t.Name, "addr", t.Addr, "attempt", attempt)
			if err := o.Sleep(ctx, pause); err != nil {
				return fmt.Errorf("waiting for %s: %w", t, err)
			}
			delay = min(delay*2, o.Max)
		}
	}
	return nil
}

func probe(ctx context.Context, o Options, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	c, err := o.Dial(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// defaultPort is the port of a scheme the jobs' configuration uses ("" when unknown).
func defaultPort(scheme string) string {
	switch strings.ToLower(scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	case "postgres", "postgresql":
		return "5432"
	case "oracle":
		return "1521"
	}
	return ""
}

// ErrNoHost is returned by Addr for a URL without a network host (a file path, a SQLite file).
var ErrNoHost = errors.New("no network host")

// Addr is the host:port a URL connects to, the port defaulting by scheme (http 80, https 443,
// postgres 5432, oracle 1521).
func Addr(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only its reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("parse %q: %w", redact(raw), err)
	}
	host := u.Hostname()
	if host == "" || u.Scheme == "" || u.Scheme == "file" {
		return "", fmt.Errorf("%q: %w", redact(raw), ErrNoHost)
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	if port == "" {
		return "", fmt.Errorf("%q: no port and no default port for scheme %s", redact(raw), u.Scheme)
	}
	return net.JoinHostPort(host, port), nil
}

// redact drops the user information of a URL (DSNs carry passwords).
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	if i := strings.Index(raw, "@"); i >= 0 {
		return "…" + raw[i:]
	}
	return raw
}

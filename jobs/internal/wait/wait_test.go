package wait

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeClock advances only when the code under test sleeps.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
	// onSleep runs after each sleep (1-based count).
	onSleep func(n int)
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	if c.onSleep != nil {
		c.onSleep(len(c.sleeps))
	}
	return nil
}

// freeAddr reserves a loopback port and releases it: nothing listens there until the test says.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func listen(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
}

func TestForTargetAlreadyUp(t *testing.T) {
	addr := freeAddr(t)
	listen(t, addr)
	var logs bytes.Buffer
	clock := &fakeClock{now: time.Unix(0, 0)}
	err := For(context.Background(), Options{Log: slog.New(slog.NewTextHandler(&logs, nil)), Sleep: clock.Sleep, Now: clock.Now}, Target{"database", addr})
	if err != nil || len(clock.sleeps) != 0 || logs.Len() != 0 {
		t.Fatalf("err %v, sleeps %v, logs %q: want an immediate success", err, clock.sleeps, logs.String())
	}
}

// TestForTargetComesUp: a real listener that opens after the third failed attempt; every failed
// attempt is logged with the target, the attempt, the next pause and the deadline.
func TestForTargetComesUp(t *testing.T) {
	up, late := freeAddr(t), freeAddr(t)
	listen(t, up)
	var logs bytes.Buffer
	clock := &fakeClock{now: time.Unix(0, 0)}
	clock.onSleep = func(n int) {
		if n == 3 {
			listen(t, late)
		}
	}
	err := For(context.Background(), Options{Log: slog.New(slog.NewTextHandler(&logs, nil)), Sleep: clock.Sleep, Now: clock.Now},
		Target{"S3 (warehouse)", up}, Target{"trino", late})
	if err != nil {
		t.Fatalf("err %v\n%s", err, logs.String())
	}
	if got, want := clock.sleeps, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !equal(got, want) {
		t.Errorf("pauses %v, want %v", got, want)
	}
	for _, want := range []string{
		"waiting for trino at " + late + " (attempt 1, next in 1s, giving up in 5m0s): dial tcp " + late,
		"attempt 3, next in 4s, giving up in 4m57s",
		"reachable now",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "S3 (warehouse)") {
		t.Errorf("a target that was up is logged:\n%s", logs.String())
	}
}

// TestForGivesUp: the pauses double up to Max, the last one is cut to the deadline, and the error
// names the target, the attempts, the time and the last dial error.
func TestForGivesUp(t *testing.T) {
	addr := freeAddr(t)
	clock := &fakeClock{now: time.Unix(0, 0)}
	err := For(context.Background(), Options{Timeout: time.Minute, Max: 20 * time.Second, Sleep: clock.Sleep, Now: clock.Now}, Target{"database", addr})
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("err %v (%T), want *UnreachableError", err, err)
	}
	if got, want := clock.sleeps, []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 20 * time.Second, 9 * time.Second}; !equal(got, want) {
		t.Errorf("pauses %v, want %v", got, want)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "database at "+addr+" still unreachable after 8 attempts over 1m0s, giving up: dial tcp") || !strings.Contains(msg, "refused") {
		t.Errorf("message %q", msg)
	}
}

func TestForCancelled(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := For(ctx, Options{}, Target{"database", addr})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for database at "+addr) {
		t.Fatalf("err %v", err)
	}
}

func TestAddr(t *testing.T) {
	for _, tc := range []struct {
		in, want, wantErr string
	}{
		{"postgres://distribution:s3cret@pg.risk-dev.svc/risk?sslmode=verify-full", "pg.risk-dev.svc:5432", ""},
		{"postgresql://u@10.0.0.7:6432/db", "10.0.0.7:6432", ""},
		{"oracle://scott:tiger@ora.bank:1522/RISK", "ora.bank:1522", ""},
		{"https://trino:8443", "trino:8443", ""},
		{"https://distribution@trino.risk-prod.svc", "trino.risk-prod.svc:443", ""},
		{"http://minio:9000", "minio:9000", ""},
		{"http://[::1]:9000", "[::1]:9000", ""},
		{"/var/lib/lakeport/risk.db", "", "no network host"},
		{"file:///data/warehouse", "", "no network host"},
		{"thrift://hms", "", "no default port for scheme thrift"},
		{"postgres://u:p4ss@h:bad/x", "", "parse"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Addr(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Addr = %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "p4ss") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Addr = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

package view

import (
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/health"
)

// TestHealthProgressTTY: on a terminal the wait redraws one table in place (cursor up, clear),
// and removes it before the final table goes to stdout.
func TestHealthProgressTTY(t *testing.T) {
	var b strings.Builder
	p := NewHealthProgress(&b, true, output.NewStyles(false))
	r := &health.Report{Applications: []health.AppHealth{{Name: "dev-trino", Sync: "Synced", Health: "Healthy", State: health.StateWaiting, Reason: "Argo CD compared 1, waiting for 2"}}}
	p.Update(r, 2*time.Second)
	p.Update(r, 4*time.Second)
	p.Warn("cannot refresh")
	p.Update(r, 6*time.Second)
	p.Done()
	got := b.String()
	for _, want := range []string{"waiting: 0/1 ready after 2s\n", "\x1b[3A\x1b[J", "warning: cannot refresh\n", "0/1 ready after 6s"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress output lacks %q:\n%q", want, got)
		}
	}
	if !strings.HasSuffix(got, "\x1b[3A\x1b[J") {
		t.Errorf("the live table is not cleared at the end:\n%q", got)
	}
}

// Command lakeport renders, checks, diffs, promotes and health-checks the Lakeport GitOps kit.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/lakeport/lakeport/cli/internal/cmd"
	"github.com/lakeport/lakeport/cli/internal/iostreams"
)

func main() {
	// Argo CD's packages log through logrus' global logger; lakeport reports through its own output.
	logrus.SetOutput(io.Discard)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Main(ctx, iostreams.System(), os.Args[1:])
	stop()
	os.Exit(code)
}

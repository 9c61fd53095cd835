// Command imagebuild builds the OCI image an image definition (jobs/image/*.yaml) describes, from
// the Go toolchain alone, into an OCI image layout and per-platform tarballs. `make image` runs
// it; see jobs/README.md.
//
//	imagebuild -definition jobs/image/distribution.yaml -version 0.1.0 -revision $(git rev-parse HEAD) \
//	  -created $(git log -1 --format=%ct) -platforms linux/amd64,linux/arm64 -out out/image
//
// Exit codes: 0 built, 1 build failed, 2 invalid usage or definition.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lakeport/lakeport/hack/imagebuild"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is an invalid flag or definition (exit 2).
type usageError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := build(ctx, args, stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "imagebuild:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "imagebuild:", err)
		return 1
	}
}

func build(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		defFile   = fs.String("definition", "", "image definition file, e.g. jobs/image/distribution.yaml (required)")
		moduleDir = fs.String("module-dir", ".", "the Go module root where go build runs")
		outDir    = fs.String("out", "out/image", "output folder: <name>/ (OCI layout) and <name>-<os>-<arch>.tar")
		version   = fs.String("version", "", "image version: the tag and org.opencontainers.image.version (required)")
		revision  = fs.String("revision", "", "source revision, org.opencontainers.image.revision (e.g. git rev-parse HEAD)")
		registry  = fs.String("registry", "", "registry the image is meant for; prefixes the tarballs' tag")
		created   = fs.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "Unix time of every timestamp in the image (default $SOURCE_DATE_EPOCH, else 0)")
		platforms = fs.String("platforms", "", "comma-separated linux/<arch> list (default: the host's architecture)")
		caCerts   = fs.String("ca-certificates", "", "PEM bundle to install at /etc/ssl/certs/ca-certificates.crt (default: none)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if *defFile == "" || *version == "" {
		return usageError{errors.New("-definition and -version are required")}
	}
	def, err := imagebuild.LoadDefinition(*defFile)
	if err != nil {
		return usageError{err}
	}
	plats, err := imagebuild.ParsePlatforms(*platforms)
	if err != nil {
		return usageError{fmt.Errorf("-platforms: %w", err)}
	}
	var when time.Time
	if *created != "" {
		sec, err := strconv.ParseInt(*created, 10, 64)
		if err != nil {
			return usageError{fmt.Errorf("-created %q: want Unix seconds", *created)}
		}
		when = time.Unix(sec, 0)
	}
	start := time.Now()
	b, err := imagebuild.Build(ctx, imagebuild.Options{
		Definition: def, ModuleDir: *moduleDir, Registry: *registry, Version: *version,
		Revision: *revision, Created: when, Platforms: plats, CACertificates: *caCerts, Stderr: stderr,
	})
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(filepath.Base(*defFile), filepath.Ext(*defFile))
	layoutDir := filepath.Join(*outDir, base)
	if err := b.WriteLayout(layoutDir); err != nil {
		return err
	}
	tars, err := b.WriteTarballs(*outDir, base)
	if err != nil {
		return err
	}
	digest, err := b.Index.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n  index   %s\n  layout  %s\n", b.Ref, digest, layoutDir)
	for i, pi := range b.Images {
		d, err := pi.Image.Digest()
		if err != nil {
			return err
		}
		size, err := imagebuild.CompressedSize(pi.Image)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  %-13s %s  %.1f MB compressed  %s\n", pi.Platform, d, float64(size)/1e6, tars[i])
	}
	fmt.Fprintf(stdout, "  built in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

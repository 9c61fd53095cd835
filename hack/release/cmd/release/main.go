// Command release builds Lakeport's release artefacts (see package hack/release): `make release
// VERSION=vX.Y.Z [PLATFORMS=linux/amd64,...]` runs it.
//
//	release -version v1.2.3 -commit $(git rev-parse HEAD) -date $(git log -1 --format=%ct) \
//	  -platforms linux/amd64,darwin/arm64 -sbom-tool .tools/bin/cyclonedx-gomod -out out/release/v1.2.3
//
// Exit codes: 0 built, 1 build failed, 2 invalid usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lakeport/lakeport/hack/release"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is an invalid flag (exit 2).
type usageError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := build(ctx, args, stdout, stderr)
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "release:", err)
		return 2
	default:
		fmt.Fprintln(stderr, err)
		return 1
	}
}

func build(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		version   = fs.String("version", "", "release version, a tag such as v1.2.3 (required)")
		commit    = fs.String("commit", "", "full commit SHA the release is built from (required)")
		date      = fs.String("date", os.Getenv("SOURCE_DATE_EPOCH"), "commit time in Unix seconds: every timestamp in the release (default $SOURCE_DATE_EPOCH)")
		platforms = fs.String("platforms", "", "comma-separated os/arch list, or host (default: linux and darwin on amd64 and arm64)")
		out       = fs.String("out", "", "output folder; must not exist or be empty (required)")
		sbomTool  = fs.String("sbom-tool", "", "cyclonedx-gomod binary (hack/ensure.sh cyclonedx-gomod)")
		noSBOM    = fs.Bool("no-sbom", false, "skip the SBOMs")
		images    = fs.Bool("images", true, "build the OCI images of the linux platforms")
		registry  = fs.String("registry", "", "registry prefix of the images' names (e.g. ghcr.io)")
		extra     = fs.String("extra", "", "comma-separated files every tarball carries beside the binary (e.g. LICENSE,README.md)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	plats, err := release.ParsePlatforms(*platforms)
	if err != nil {
		return usageError{fmt.Errorf("-platforms: %w", err)}
	}
	var when time.Time
	if *date != "" {
		sec, err := strconv.ParseInt(*date, 10, 64)
		if err != nil {
			return usageError{fmt.Errorf("-date %q: want Unix seconds", *date)}
		}
		when = time.Unix(sec, 0).UTC()
	}
	var extras []string
	for _, e := range strings.Split(*extra, ",") {
		if e = strings.TrimSpace(e); e != "" {
			extras = append(extras, e)
		}
	}
	start := time.Now()
	res, err := release.Build(ctx, release.Options{
		ModuleDir: ".", OutDir: *out, Version: *version, Commit: *commit, Date: when,
		Platforms: plats, Images: *images, Registry: *registry, SBOMTool: *sbomTool, NoSBOM: *noSBOM,
		Extra: extras, Progress: stderr,
	})
	if err != nil {
		return err
	}
	for _, a := range res.Archives {
		fmt.Fprintf(stdout, "%s/%s\n", *out, a)
	}
	for _, s := range res.SBOMs {
		fmt.Fprintf(stdout, "%s/%s\n", *out, s)
	}
	for _, i := range res.Images {
		fmt.Fprintf(stdout, "%s/%s/\n", *out, i)
	}
	fmt.Fprintf(stdout, "%s/%s\n", *out, res.Sums)
	fmt.Fprintf(stderr, "release: %s built in %s\n", *version, time.Since(start).Round(time.Second))
	return nil
}

// Package release builds Lakeport's release artefacts: stripped, reproducible binaries of the
// lakeport CLI and the distribution job for each platform, one tarball per binary and platform,
// a CycloneDX SBOM per binary and platform (cyclonedx-gomod, from the binary's build info), a
// SHA256SUMS file over them, and an OCI image per binary (a multi-arch index of the linux
// platforms, built by hack/imagebuild from the same binaries). `make release` runs it through
// cmd/release.
//
// Reproducible means: the same commit, toolchain and module sources give the same bytes, on any
// machine and in any folder. The binaries are built with CGO_ENABLED=0 -trimpath -buildvcs=false
// and -ldflags "-s -w -buildid=" plus the version variables; every timestamp (tar headers, gzip
// header, image config) is the commit's time, never the build's; file order, owners and modes in
// the tarballs are fixed; the SBOMs carry neither a serial number nor a timestamp.
//
// The package is build tooling: neither the CLI nor the job binaries import it.
package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/lakeport/lakeport/hack/imagebuild"
)

// Binary is one program the release ships.
type Binary struct {
	// Name is the binary's file name and the first part of its artefacts' names.
	Name string
	// Main is the Go main package, relative to the module root.
	Main string
	// Image is the image definition file (relative to the module root) of its OCI image.
	Image string
	// VersionVariable, CommitVariable and DateVariable are the package-qualified string
	// variables set with -ldflags -X (empty: not set).
	VersionVariable, CommitVariable, DateVariable string
}

// DefaultBinaries are what `make release` ships: the CLI and the distribution job, each with its
// own dependencies (neither links the other's).
func DefaultBinaries() []Binary {
	return []Binary{
		{
			Name: "lakeport", Main: "./cli/cmd/lakeport", Image: "cli/image/lakeport.yaml",
			VersionVariable: "github.com/lakeport/lakeport/cli/internal/version.Version",
			CommitVariable:  "github.com/lakeport/lakeport/cli/internal/version.Commit",
			DateVariable:    "github.com/lakeport/lakeport/cli/internal/version.Date",
		},
		{
			Name: "distribution", Main: "./jobs/cmd/distribution", Image: "jobs/image/distribution.yaml",
			VersionVariable: "github.com/lakeport/lakeport/jobs/internal/app.Version",
		},
	}
}

// DefaultPlatforms are the release's platforms when none are named.
func DefaultPlatforms() []imagebuild.Platform {
	return []imagebuild.Platform{
		{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"},
		{OS: "darwin", Arch: "amd64"}, {OS: "darwin", Arch: "arm64"},
	}
}

// ParsePlatforms parses a comma-separated os/arch list (linux or darwin; amd64 or arm64). Empty
// means DefaultPlatforms; "host" means the machine's own platform.
func ParsePlatforms(s string) ([]imagebuild.Platform, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return DefaultPlatforms(), nil
	case "host":
		return []imagebuild.Platform{{OS: runtime.GOOS, Arch: runtime.GOARCH}}, nil
	}
	return imagebuild.ParsePlatformList(s, func(p imagebuild.Platform) error {
		if (p.OS != "linux" && p.OS != "darwin") || (p.Arch != "amd64" && p.Arch != "arm64") {
			return errors.New("want linux or darwin / amd64 or arm64 (e.g. linux/amd64)")
		}
		return nil
	})
}

// Options are the inputs of one release build.
type Options struct {
	// ModuleDir is the module root; OutDir receives the artefacts (it must not exist or be empty).
	ModuleDir, OutDir string
	// Version is the release version (vX.Y.Z); Commit the full commit SHA it is built from;
	// Date the commit's time: every timestamp in the artefacts.
	Version, Commit string
	Date            time.Time
	Platforms       []imagebuild.Platform
	// Binaries to ship (default: DefaultBinaries()).
	Binaries []Binary
	// Images builds the OCI images of the linux platforms (skipped when there is none).
	Images bool
	// Registry prefixes the images' names (e.g. ghcr.io); may be empty.
	Registry string
	// SBOMTool is the cyclonedx-gomod binary; empty skips the SBOMs (an error unless NoSBOM).
	SBOMTool string
	NoSBOM   bool
	// Extra files every tarball carries next to the binary (relative to ModuleDir, e.g.
	// LICENSE); a missing one is an error.
	Extra []string
	// GoCommand is the go binary (default "go"); Progress receives go's output and one line per
	// step (default io.Discard).
	GoCommand string
	Progress  io.Writer
}

// Result lists what Build wrote, relative to OutDir.
type Result struct {
	Archives []string // <name>_<version>_<os>_<arch>.tar.gz
	SBOMs    []string // <name>_<version>_<os>_<arch>.cdx.json
	Images   []string // images/<name>: OCI image layouts
	Sums     string   // SHA256SUMS
}

// Build compiles every binary for every platform and writes the release under OutDir. Nothing
// is left half written: the artefacts are assembled in a sibling temp folder that is renamed to
// OutDir at the end.
func Build(ctx context.Context, o Options) (*Result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if len(o.Binaries) == 0 {
		o.Binaries = DefaultBinaries()
	}
	if o.GoCommand == "" {
		o.GoCommand = "go"
	}
	out, err := filepath.Abs(o.OutDir)
	if err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("release: %s is not empty; remove it or choose another OUT", o.OutDir)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	stage, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := os.Chmod(stage, 0o755); err != nil { // MkdirTemp makes it 0700
		return nil, fmt.Errorf("release: %w", err)
	}
	bins := filepath.Join(stage, ".bin")
	res := &Result{}
	for _, b := range o.Binaries {
		linux := map[imagebuild.Platform]string{}
		for _, p := range o.Platforms {
			bin, err := o.goBuild(ctx, b, p, filepath.Join(bins, b.Name+"_"+p.OS+"_"+p.Arch, b.Name))
			if err != nil {
				return nil, err
			}
			base := fmt.Sprintf("%s_%s_%s_%s", b.Name, o.Version, p.OS, p.Arch)
			notice := filepath.Join(filepath.Dir(bin), "NOTICE")
			if err := o.writeNotice(ctx, bin, notice); err != nil {
				return nil, err
			}
			if err := o.writeArchive(filepath.Join(stage, base+".tar.gz"), base, bin, notice); err != nil {
				return nil, err
			}
			res.Archives = append(res.Archives, base+".tar.gz")
			if !o.NoSBOM {
				if err := o.writeSBOM(ctx, filepath.Join(stage, base+".cdx.json"), bin); err != nil {
					return nil, err
				}
				res.SBOMs = append(res.SBOMs, base+".cdx.json")
			}
			if p.OS == "linux" {
				linux[p] = bin
			}
		}
		if o.Images && len(linux) > 0 {
			// The image carries what the tarball does beside the binary: the extra files
			// (LICENSE) and the binary's NOTICE.
			docs := map[imagebuild.Platform][]string{}
			for p, bin := range linux {
				for _, e := range o.Extra {
					docs[p] = append(docs[p], filepath.Join(o.ModuleDir, e))
				}
				docs[p] = append(docs[p], filepath.Join(filepath.Dir(bin), "NOTICE"))
			}
			if err := o.writeImage(ctx, b, linux, docs, filepath.Join(stage, "images", b.Name)); err != nil {
				return nil, err
			}
			res.Images = append(res.Images, filepath.Join("images", b.Name))
		}
	}
	if err := os.RemoveAll(bins); err != nil {
		return nil, err
	}
	if err := writeSums(stage, append(append([]string{}, res.Archives...), res.SBOMs...)); err != nil {
		return nil, err
	}
	res.Sums = "SHA256SUMS"
	_ = os.Remove(out) // an empty folder from an earlier attempt
	if err := os.Rename(stage, out); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	return res, nil
}

func (o Options) validate() error {
	var errs []error
	if !strings.HasPrefix(o.Version, "v") || strings.ContainsAny(o.Version, " /_") {
		errs = append(errs, fmt.Errorf("version %q: want a tag such as v1.2.3", o.Version))
	}
	if len(o.Commit) != 40 {
		errs = append(errs, fmt.Errorf("commit %q: want the full 40-character SHA", o.Commit))
	}
	if o.Date.IsZero() {
		errs = append(errs, errors.New("date: the commit time is required (every timestamp in the release)"))
	}
	if len(o.Platforms) == 0 {
		errs = append(errs, errors.New("no platform"))
	}
	if o.SBOMTool == "" && !o.NoSBOM {
		errs = append(errs, errors.New("no SBOM tool: build it with `bash hack/ensure.sh cyclonedx-gomod`"))
	}
	if o.OutDir == "" {
		errs = append(errs, errors.New("no output folder"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}

// LDFlags are the linker flags of b's release build.
func (o Options) LDFlags(b Binary) string {
	flags := []string{"-s", "-w", "-buildid="}
	set := func(variable, value string) {
		if variable != "" {
			flags = append(flags, "-X", variable+"="+value)
		}
	}
	set(b.VersionVariable, o.Version)
	set(b.CommitVariable, o.Commit)
	set(b.DateVariable, o.Date.UTC().Format(time.RFC3339))
	return strings.Join(flags, " ")
}

// goBuild compiles b for p at out.
func (o Options) goBuild(ctx context.Context, b Binary, p imagebuild.Platform, out string) (string, error) {
	fmt.Fprintf(o.Progress, "release: go build %s for %s\n", b.Main, p)
	start := time.Now()
	cmd := exec.CommandContext(ctx, o.GoCommand, "build", "-trimpath", "-buildvcs=false", "-ldflags="+o.LDFlags(b), "-o", out, b.Main)
	cmd.Dir = o.ModuleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOFLAGS=")
	cmd.Stdout, cmd.Stderr = o.Progress, o.Progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("release: go build %s for %s: %w", b.Main, p, err)
	}
	fmt.Fprintf(o.Progress, "release: built %s for %s in %s\n", b.Name, p, time.Since(start).Round(100*time.Millisecond))
	return out, nil
}

// writeArchive writes a gzipped tar of the binary, the extra files and the NOTICE in folder
// base/, with fixed owners, modes and times.
func (o Options) writeArchive(path, base, bin, notice string) error {
	type entry struct {
		name string
		src  string
		mode int64
	}
	entries := []entry{{name: filepath.Base(bin), src: bin, mode: 0o755}}
	for _, e := range o.Extra {
		entries = append(entries, entry{name: filepath.Base(e), src: filepath.Join(o.ModuleDir, e), mode: 0o644})
	}
	entries = append(entries, entry{name: "NOTICE", src: notice, mode: 0o644})
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression) // best compression saves ~3% and costs minutes under the race detector (make test)
	if err != nil {
		return err
	}
	gz.ModTime = o.Date.UTC() // gzip's header carries a time and a name: fixed time, no name
	tw := tar.NewWriter(gz)
	hdr := func(name string, mode, size int64, typ byte) *tar.Header {
		return &tar.Header{Name: name, Mode: mode, Size: size, Typeflag: typ, ModTime: o.Date.UTC(), Format: tar.FormatPAX}
	}
	if err := tw.WriteHeader(hdr(base+"/", 0o755, 0, tar.TypeDir)); err != nil {
		return err
	}
	for _, e := range entries {
		data, err := os.ReadFile(e.src)
		if err != nil {
			return fmt.Errorf("release: archive %s: %w", filepath.Base(path), err)
		}
		if err := tw.WriteHeader(hdr(base+"/"+e.name, e.mode, int64(len(data)), tar.TypeReg)); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// isNotice says whether a file name is a module's NOTICE (Apache-2.0 section 4(d) requires that
// a redistribution carries the NOTICE of the work it includes).
func isNotice(name string) bool {
	return name == "NOTICE" || name == "NOTICE.txt" || name == "NOTICE.md"
}

// writeNotice writes the NOTICE of the binary: Lakeport's own line, then the NOTICE file of every
// module linked into it that has one, read from the module cache, in module path order.
func (o Options) writeNotice(ctx context.Context, bin, path string) error {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("release: NOTICE of %s: %w", filepath.Base(bin), err)
	}
	var mods []string
	for _, d := range info.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		if d.Version == "" || strings.HasPrefix(d.Path, ".") || strings.HasPrefix(d.Path, "/") {
			continue // a local replacement has no module cache copy
		}
		mods = append(mods, d.Path+"@"+d.Version)
	}
	sort.Strings(mods)
	cmd := exec.CommandContext(ctx, o.GoCommand, append([]string{"mod", "download", "-json"}, mods...)...)
	cmd.Dir = o.ModuleDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("release: NOTICE of %s: go mod download: %w\n%s", filepath.Base(bin), err, strings.TrimSpace(stderr.String()))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Lakeport\nLicensed under the Apache License, Version 2.0 (LICENSE).\n\n"+
		"%s links the modules below; the NOTICE file of each one that has one follows, as its licence requires.\n", filepath.Base(bin))
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m struct{ Path, Version, Dir string }
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("release: NOTICE of %s: %w", filepath.Base(bin), err)
		}
		entries, err := os.ReadDir(m.Dir)
		if err != nil {
			return fmt.Errorf("release: NOTICE of %s: %s@%s: %w", filepath.Base(bin), m.Path, m.Version, err)
		}
		for _, e := range entries {
			if e.IsDir() || !isNotice(e.Name()) {
				continue
			}
			text, err := os.ReadFile(filepath.Join(m.Dir, e.Name()))
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "\n---- %s %s (%s)\n\n%s\n", m.Path, m.Version, e.Name(), strings.TrimSpace(string(text)))
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeSBOM runs cyclonedx-gomod on the binary's build info: every module linked in, with its
// version and checksum, the Go toolchain, and the main module at the release version.
func (o Options) writeSBOM(ctx context.Context, path, bin string) error {
	cmd := exec.CommandContext(ctx, o.SBOMTool, "bin", "-json", "-noserial", "-notimestamp", "-std",
		"-version", o.Version, "-output", path, bin)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("release: SBOM of %s: %w\n%s", filepath.Base(bin), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// writeImage builds b's image from the linux binaries already built (one per platform, an index
// over them) into an OCI image layout.
func (o Options) writeImage(ctx context.Context, b Binary, linux map[imagebuild.Platform]string, docs map[imagebuild.Platform][]string, dir string) error {
	def, err := imagebuild.LoadDefinition(filepath.Join(o.ModuleDir, b.Image))
	if err != nil {
		return fmt.Errorf("release: image of %s: %w", b.Name, err)
	}
	var plats []imagebuild.Platform
	for p := range linux {
		plats = append(plats, p)
	}
	sort.Slice(plats, func(i, j int) bool { return plats[i].Arch < plats[j].Arch })
	built, err := imagebuild.Build(ctx, imagebuild.Options{
		Definition: def, ModuleDir: o.ModuleDir, Registry: o.Registry, Version: strings.TrimPrefix(o.Version, "v"),
		Revision: o.Commit, Created: o.Date, Platforms: plats, Binaries: linux, Docs: docs, Stderr: o.Progress,
	})
	if err != nil {
		return fmt.Errorf("release: image of %s: %w", b.Name, err)
	}
	if err := built.WriteLayout(dir); err != nil {
		return fmt.Errorf("release: image of %s: %w", b.Name, err)
	}
	fmt.Fprintf(o.Progress, "release: image %s (%d platforms)\n", built.Ref, len(plats))
	return nil
}

// writeSums writes SHA256SUMS in the format of sha256sum (and `sha256sum -c`), sorted by name.
func writeSums(dir string, names []string) error {
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), n)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}

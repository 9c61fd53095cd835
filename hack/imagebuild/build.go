package imagebuild

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The OCI annotation and label keys the builder sets (image-spec annotations.md).
const (
	LabelVersion     = "org.opencontainers.image.version"
	LabelRevision    = "org.opencontainers.image.revision"
	LabelSource      = "org.opencontainers.image.source"
	LabelCreated     = "org.opencontainers.image.created"
	LabelTitle       = "org.opencontainers.image.title"
	LabelDescription = "org.opencontainers.image.description"
	// AnnotationRefName is the tag of an image in an OCI layout's index.json.
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// annotationContainerdName is the full name containerd (`ctr import`, kind) gives an
	// image imported from an OCI archive.
	annotationContainerdName = "io.containerd.image.name"
)

// Platform is an OS/architecture pair such as linux/amd64.
type Platform struct {
	OS, Arch string
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// ParsePlatforms parses a comma-separated list such as "linux/amd64,linux/arm64"; empty means
// the host's linux platform.
func ParsePlatforms(s string) ([]Platform, error) {
	if strings.TrimSpace(s) == "" {
		return []Platform{{OS: "linux", Arch: runtime.GOARCH}}, nil
	}
	return ParsePlatformList(s, func(p Platform) error {
		if p.OS != "linux" {
			return errors.New("want linux/<arch> (e.g. linux/amd64, linux/arm64)")
		}
		return nil
	})
}

// ParsePlatformList parses a comma-separated os/arch list, each entry once, each accepted by
// check (whose error says what is wanted).
func ParsePlatformList(s string, check func(Platform) error) ([]Platform, error) {
	var out []Platform
	seen := map[Platform]bool{}
	for _, f := range strings.Split(s, ",") {
		goos, arch, ok := strings.Cut(strings.TrimSpace(f), "/")
		p := Platform{OS: goos, Arch: arch}
		if !ok || goos == "" || arch == "" || strings.Contains(arch, "/") {
			return nil, fmt.Errorf("platform %q: want <os>/<arch> (e.g. linux/amd64)", f)
		}
		if err := check(p); err != nil {
			return nil, fmt.Errorf("platform %q: %w", f, err)
		}
		if seen[p] {
			return nil, fmt.Errorf("platform %q is listed twice", f)
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}

// Options are the inputs of one build. The same Options (and the same Go toolchain and module
// sources) give the same digests.
type Options struct {
	Definition Definition
	// ModuleDir is where `go build` runs (the module root).
	ModuleDir string
	// Registry, when set, prefixes the repository in the tarballs' tag and the layout's
	// io.containerd.image.name (e.g. registry.risk.internal).
	Registry string
	// Version is the tag and org.opencontainers.image.version.
	Version string
	// Revision is the source revision (org.opencontainers.image.revision), e.g. a commit SHA.
	Revision string
	// Created is every timestamp of the image: config, history, files. Use the commit time (or
	// SOURCE_DATE_EPOCH) for reproducible builds; the zero value means the Unix epoch.
	Created time.Time
	// Platforms to build; at least one.
	Platforms []Platform
	// CACertificates, when set, is a PEM bundle copied to /etc/ssl/certs/ca-certificates.crt.
	CACertificates string
	// Binaries, when set, gives a prebuilt binary per platform instead of running go build
	// (tests use it).
	Binaries map[Platform]string
	// Docs, when set, gives per platform the files (host paths) copied next to the binary's
	// licence: into /usr/share/doc/<binary name>/ under their base names (the release's LICENSE
	// and the binary's NOTICE, which the licences of its dependencies require it to carry).
	Docs map[Platform][]string
	// GoCommand is the go binary (default "go"); Stderr receives its output (default os.Stderr).
	GoCommand string
	Stderr    io.Writer
}

// Built is the result of Build: an OCI image index with one image per platform.
type Built struct {
	// Ref is [registry/]repository:version.
	Ref   string
	Index v1.ImageIndex
	// Images are in the order of Options.Platforms.
	Images []PlatformImage
}

// PlatformImage is one platform's image.
type PlatformImage struct {
	Platform Platform
	Image    v1.Image
}

// certBundlePath is where Go's crypto/x509 looks first on Linux (root_linux.go certFiles).
const certBundlePath = "/etc/ssl/certs/ca-certificates.crt"

// Build compiles the definition's main package for every platform and assembles the images and
// their index in memory (layers are compressed once, here). Write them with WriteLayout and
// WriteTarballs.
func Build(ctx context.Context, o Options) (*Built, error) {
	d := o.Definition
	if o.Version == "" {
		return nil, errors.New("build image: a version is required (the tag and org.opencontainers.image.version)")
	}
	if len(o.Platforms) == 0 {
		return nil, errors.New("build image: no platform")
	}
	created := o.Created.UTC()
	if created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	var caPEM []byte
	if o.CACertificates != "" {
		b, err := os.ReadFile(o.CACertificates)
		if err != nil {
			return nil, fmt.Errorf("build image: CA certificates: %w", err)
		}
		caPEM = b
	}
	base, err := baseLayer(d, caPEM, created)
	if err != nil {
		return nil, err
	}
	ref := d.Repository + ":" + o.Version
	if o.Registry != "" {
		ref = strings.TrimSuffix(o.Registry, "/") + "/" + ref
	}
	annotations := map[string]string{
		LabelVersion: o.Version,
		LabelSource:  d.Source,
		LabelCreated: created.Format(time.RFC3339),
	}
	if o.Revision != "" {
		annotations[LabelRevision] = o.Revision
	}
	if d.Title != "" {
		annotations[LabelTitle] = d.Title
	}
	if d.Description != "" {
		annotations[LabelDescription] = d.Description
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	b := &Built{Ref: ref}
	for _, p := range o.Platforms {
		bin := o.Binaries[p]
		if bin == "" {
			if bin, err = goBuild(ctx, o, p); err != nil {
				return nil, err
			}
			// The layer holds the binary in memory: its temp folder can go.
			defer os.RemoveAll(filepath.Dir(bin))
		}
		img, err := platformImage(d, p, base, bin, o.Docs[p], created, annotations)
		if err != nil {
			return nil, fmt.Errorf("build image %s: %w", p, err)
		}
		b.Images = append(b.Images, PlatformImage{Platform: p, Image: img})
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}},
		})
	}
	idx, ok := mutate.Annotations(idx, annotations).(v1.ImageIndex)
	if !ok {
		return nil, errors.New("build image: annotating the index lost its type")
	}
	b.Index = idx
	return b, nil
}

// goBuild compiles the main package statically for p into a temp file and returns its path.
func goBuild(ctx context.Context, o Options, p Platform) (string, error) {
	d := o.Definition
	dir, err := os.MkdirTemp("", "imagebuild-")
	if err != nil {
		return "", fmt.Errorf("go build %s: %w", p, err)
	}
	out := filepath.Join(dir, path.Base(d.Binary))
	ldflags := "-s -w -buildid="
	if d.VersionVariable != "" {
		ldflags += " -X " + d.VersionVariable + "=" + o.Version
	}
	goCmd := o.GoCommand
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-buildvcs=false", "-ldflags="+ldflags, "-o", out, d.Main)
	cmd.Dir = o.ModuleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	cmd.Stdout = o.Stderr
	cmd.Stderr = o.Stderr
	if cmd.Stderr == nil {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Run(); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("go build %s for %s: %w", d.Main, p, err)
	}
	return out, nil
}

// platformImage is the empty base plus the base layer and the binary's layer, with the config
// the definition asks for.
func platformImage(d Definition, p Platform, base v1.Layer, bin string, docs []string, created time.Time, annotations map[string]string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	var files []file
	for _, dir := range parents(d.Binary) {
		files = append(files, file{name: dir, mode: 0o755, dir: true})
	}
	files = append(files, file{name: d.Binary, mode: 0o755, data: data})
	if len(docs) > 0 {
		dir := docDir(d)
		for _, p := range parents(dir + "/x") {
			if !slices.ContainsFunc(files, func(f file) bool { return f.name == p }) {
				files = append(files, file{name: p, mode: 0o755, dir: true})
			}
		}
		for _, doc := range docs {
			raw, err := os.ReadFile(doc)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", doc, err)
			}
			files = append(files, file{name: dir + "/" + filepath.Base(doc), mode: 0o644, data: raw})
		}
	}
	app, err := layer(files, created)
	if err != nil {
		return nil, fmt.Errorf("binary layer: %w", err)
	}
	env := make([]string, 0, len(d.Env))
	for _, k := range sortedKeys(d.Env) {
		env = append(env, k+"="+d.Env[k])
	}
	labels := map[string]string{}
	for k, v := range annotations {
		labels[k] = v
	}
	user := strconv.Itoa(d.User)
	cfg := &v1.ConfigFile{
		Architecture: p.Arch,
		OS:           p.OS,
		Created:      v1.Time{Time: created},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint: []string{d.Binary},
			Cmd:        d.Args,
			User:       user + ":" + user,
			WorkingDir: d.WorkingDir,
			Env:        env,
			Labels:     labels,
		},
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "imagebuild: base files (passwd, group, home, tmp, CA bundle)", Comment: "user " + user}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "imagebuild: go build -trimpath " + d.Main + " (CGO_ENABLED=0 GOOS=" + p.OS + " GOARCH=" + p.Arch + ")"}},
	)
	if err != nil {
		return nil, err
	}
	out, ok := mutate.Annotations(img, annotations).(v1.Image)
	if !ok {
		return nil, errors.New("annotating the image lost its type")
	}
	return out, nil
}

// docDir is where an image keeps its binary's LICENSE and NOTICE (Options.Docs).
func docDir(d Definition) string { return "/usr/share/doc/" + path.Base(d.Binary) }

// baseLayer holds what a distroless "static nonroot" base would: passwd and group entries for
// root and the user, the user's home, a world-writable /tmp and optionally the CA bundle.
func baseLayer(d Definition, caPEM []byte, created time.Time) (v1.Layer, error) {
	uid := strconv.Itoa(d.User)
	home := "/home/nonroot"
	files := []file{
		{name: "/etc", mode: 0o755, dir: true},
		{name: "/etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:" + uid + ":" + uid + ":nonroot:" + home + ":/sbin/nologin\n")},
		{name: "/etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:" + uid + ":\n")},
		{name: "/home", mode: 0o755, dir: true},
		{name: home, mode: 0o700, dir: true, uid: d.User},
		{name: "/tmp", mode: 0o1777, dir: true},
	}
	if caPEM != nil {
		files = append(files,
			file{name: "/etc/ssl", mode: 0o755, dir: true},
			file{name: "/etc/ssl/certs", mode: 0o755, dir: true},
			file{name: certBundlePath, mode: 0o644, data: caPEM})
	}
	l, err := layer(files, created)
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	return l, nil
}

// file is one entry of a layer.
type file struct {
	name string
	mode int64
	dir  bool
	uid  int
	data []byte
}

// layer writes files (sorted by name, owned by root unless uid says otherwise, every time
// Created) into a gzip-compressed tar: byte-for-byte the same for the same files.
func layer(files []file, created time.Time) (v1.Layer, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, f := range files {
		h := &tar.Header{
			Name:    strings.TrimPrefix(f.name, "/"),
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.uid,
			ModTime: created,
			Format:  tar.FormatPAX,
		}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	// compress/gzip writes no name and a zero mtime unless told to: the output depends on the
	// input only.
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	compressed := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// parents are the directories above p, outermost first ("/usr", "/usr/local", ...).
func parents(p string) []string {
	var out []string
	for dir := path.Dir(p); dir != "/" && dir != "."; dir = path.Dir(dir) {
		out = append([]string{dir}, out...)
	}
	return out
}

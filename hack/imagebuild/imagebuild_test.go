package imagebuild_test

import (
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lakeport/lakeport/hack/imagebuild"
)

const repoRoot = "../.."

func TestParseDefinition(t *testing.T) {
	good := "repository: lakeport/x\nsource: https://example.test/x\nmain: ./cmd/x\nbinary: /usr/local/bin/x\nuser: 65532\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error; none: valid
	}{
		{name: "valid", yaml: good},
		{name: "unknown key", yaml: good + "entrypoint: /bin/sh\n", want: []string{`x.yaml: line 6: unknown key "entrypoint"`}},
		{name: "root user", yaml: strings.Replace(good, "user: 65532", "user: 0", 1), want: []string{"x.yaml:5: user: 0: want a numeric non-root user id"}},
		{name: "every problem at once", yaml: "repository: Lakeport/X\nmain: cmd/x\nbinary: usr/bin/x\nuser: 65532\n", want: []string{
			"x.yaml:1: repository:", "x.yaml:2: main:", "x.yaml:3: binary:",
		}},
		{name: "bad env name", yaml: good + "env: {\"A-B\": x}\n", want: []string{`x.yaml:6: env: "A-B" is not an environment variable name`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := imagebuild.ParseDefinition("x.yaml", []byte(tc.yaml))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestDistributionDefinition keeps the shipped definition valid and as the chart expects it
// (runAsUser 65532, the job binary as the entrypoint).
func TestDistributionDefinition(t *testing.T) {
	d, err := imagebuild.LoadDefinition(filepath.Join(repoRoot, "jobs", "image", "distribution.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if d.User != 65532 || d.Main != "./jobs/cmd/distribution" || d.Repository != "lakeport/distribution" {
		t.Errorf("definition = %+v", d)
	}
}

func TestParsePlatforms(t *testing.T) {
	got, err := imagebuild.ParsePlatforms("linux/amd64, linux/arm64")
	if err != nil || len(got) != 2 || got[1].String() != "linux/arm64" {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, _ := imagebuild.ParsePlatforms(""); len(got) != 1 || got[0].Arch != runtime.GOARCH {
		t.Errorf("default = %v, want the host's", got)
	}
	for _, bad := range []string{"amd64", "darwin/arm64", "linux/amd64,linux/amd64"} {
		if _, err := imagebuild.ParsePlatforms(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// fakeOptions builds from prebuilt "binaries" (any bytes) so that no compiler runs.
func fakeOptions(t *testing.T, plats ...string) imagebuild.Options {
	t.Helper()
	d, err := imagebuild.ParseDefinition("x.yaml", []byte("repository: lakeport/x\nsource: https://example.test/x\nmain: ./cmd/x\nbinary: /usr/local/bin/x\nuser: 65532\nenv: {PATH: /usr/local/bin}\n"))
	if err != nil {
		t.Fatal(err)
	}
	o := imagebuild.Options{Definition: d, Version: "1.2.3", Revision: "abc", Created: time.Unix(1700000000, 0), Binaries: map[imagebuild.Platform]string{}}
	for _, s := range plats {
		p, err := imagebuild.ParsePlatforms(s)
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(t.TempDir(), "x")
		if err := os.WriteFile(bin, []byte("binary for "+s), 0o755); err != nil {
			t.Fatal(err)
		}
		o.Platforms = append(o.Platforms, p[0])
		o.Binaries[p[0]] = bin
	}
	return o
}

func TestSameInputsSameDigest(t *testing.T) {
	digest := func(o imagebuild.Options) string {
		b, err := imagebuild.Build(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		d, err := b.Index.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	o := fakeOptions(t, "linux/amd64")
	first := digest(o)
	if again := digest(o); again != first {
		t.Errorf("same inputs: %s then %s", first, again)
	}
	o.Created = o.Created.Add(time.Second)
	if other := digest(o); other == first {
		t.Error("a different Created time gave the same digest: timestamps are not in the image")
	}
}

// TestMultiArchLayoutAndTarballs writes an index of two platforms and reads it back the way
// crane and docker load would.
func TestMultiArchLayoutAndTarballs(t *testing.T) {
	o := fakeOptions(t, "linux/amd64", "linux/arm64")
	o.Registry = "registry.example.test"
	b, err := imagebuild.Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := b.WriteLayout(filepath.Join(dir, "x")); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(filepath.Join(dir, "x"))
	if err != nil {
		t.Fatal(err)
	}
	top, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].Annotations[imagebuild.AnnotationRefName] != "1.2.3" {
		t.Fatalf("index.json = %+v, want one index tagged 1.2.3", top.Manifests)
	}
	inner, err := idx.ImageIndex(top.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := inner.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, d := range m.Manifests {
		plats = append(plats, d.Platform.OS+"/"+d.Platform.Architecture)
		img, err := inner.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Architecture != d.Platform.Architecture || cfg.Config.User != "65532:65532" || cfg.Config.Labels[imagebuild.LabelRevision] != "abc" {
			t.Errorf("%s: config %+v", d.Platform, cfg.Config)
		}
	}
	if strings.Join(plats, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("platforms = %v", plats)
	}
	if m.Annotations[imagebuild.LabelVersion] != "1.2.3" {
		t.Errorf("index annotations = %v", m.Annotations)
	}
	tars, err := b.WriteTarballs(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range tars {
		img, err := tarball.ImageFromPath(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		// A docker-archive keeps the config and the layers, not the OCI manifest (a reader
		// synthesises a Docker one): compare what it keeps.
		got, _ := img.ConfigName()
		want, _ := b.Images[i].Image.ConfigName()
		if got != want {
			t.Errorf("%s: config %s, the index's image has %s", p, got, want)
		}
		gotL, _ := img.Layers()
		wantL, _ := b.Images[i].Image.Layers()
		if len(gotL) != len(wantL) {
			t.Fatalf("%s: %d layers, want %d", p, len(gotL), len(wantL))
		}
		for j := range gotL {
			g, _ := gotL[j].DiffID()
			w, _ := wantL[j].DiffID()
			if g != w {
				t.Errorf("%s: layer %d is %s, want %s", p, j, g, w)
			}
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "x", "index.json"))
	var probe map[string]any
	if err := json.Unmarshal(raw, &probe); err != nil || !strings.Contains(string(raw), "registry.example.test/lakeport/x:1.2.3") {
		t.Errorf("index.json lacks the containerd image name:\n%s", raw)
	}
}

// TestGoBuildIsStatic compiles a real main package (this builder's own command) the way make
// image does and checks that the binary in the layer is statically linked.
func TestGoBuildIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a binary")
	}
	o := fakeOptions(t)
	o.Definition.Main = "./hack/imagebuild/cmd/imagebuild"
	o.ModuleDir = repoRoot
	o.Platforms = []imagebuild.Platform{{OS: "linux", Arch: runtime.GOARCH}}
	o.GoCommand = filepath.Join(runtime.GOROOT(), "bin", "go")
	b, err := imagebuild.Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := imagebuild.Unpack(b.Images[0].Image, root); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(filepath.Join(root, "usr", "local", "bin", "x"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary asks for a dynamic loader: CGO_ENABLED=0 was not applied")
		}
	}
}

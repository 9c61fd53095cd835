package release_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/lakeport/lakeport/hack/imagebuild"
	"github.com/lakeport/lakeport/hack/release"
	"github.com/lakeport/lakeport/hack/testenv"
)

// TestParsePlatforms: the platform list is checked before anything is built.
func TestParsePlatforms(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "", want: "linux/amd64 linux/arm64 darwin/amd64 darwin/arm64"},
		{in: "linux/amd64", want: "linux/amd64"},
		{in: " darwin/arm64 , linux/arm64", want: "darwin/arm64 linux/arm64"},
		{in: "host", want: runtime.GOOS + "/" + runtime.GOARCH},
		{in: "windows/amd64", wantErr: `platform "windows/amd64": want linux or darwin`},
		{in: "linux/386", wantErr: `platform "linux/386"`},
		{in: "linux/amd64,linux/amd64", wantErr: "listed twice"},
	} {
		got, err := release.ParsePlatforms(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParsePlatforms(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		var names []string
		for _, p := range got {
			names = append(names, p.String())
		}
		if err != nil || strings.Join(names, " ") != tc.want {
			t.Errorf("ParsePlatforms(%q) = %v, %v; want %s", tc.in, names, err, tc.want)
		}
	}
}

// TestBuildRefusesBadInput: every missing input is named at once, before any build.
func TestBuildRefusesBadInput(t *testing.T) {
	_, err := release.Build(context.Background(), release.Options{Version: "1.2", Commit: "abc"})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{`version "1.2": want a tag such as v1.2.3`, `commit "abc": want the full 40-character SHA`,
		"date: the commit time is required", "no platform", "hack/ensure.sh cyclonedx-gomod", "no output folder"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestReleaseIsReproducibleAndRuns is what `make test` checks of `make release`, on the host
// platform only (the release workflow builds the others):
//   - two builds of the same commit give the same bytes (archives, SBOMs, SHA256SUMS, images);
//   - SHA256SUMS verifies every archive and SBOM;
//   - the archive's lakeport prints the version, commit and date it was built with, and renders
//     the kit exactly as a development build does;
//   - the SBOM is CycloneDX naming the main module at the release version and the Helm SDK;
//   - each image's config (user, entrypoint, working directory, labels) is what the README's
//     "Container images" table says.
func TestReleaseIsReproducibleAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries twice")
	}
	sbomTool := testenv.Tool(t, "cyclonedx-gomod")
	if sbomTool == "" {
		return
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	commit := strings.Repeat("ab", 20)
	date := time.Date(2026, 12, 1, 18, 30, 0, 0, time.UTC)
	// The release command as `make release` runs it, built without the race detector: the
	// compression and hashing of ~200 MB would take many minutes inside this (race) test binary.
	dir := t.TempDir()
	tool := filepath.Join(dir, "release")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tool, "./hack/release/cmd/release")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the release command: %v\n%s", err, o)
	}
	build := func(out string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, tool, "-version", "v9.8.7", "-commit", commit, "-date", strconv.FormatInt(date.Unix(), 10),
			"-platforms", runtime.GOOS+"/"+runtime.GOARCH, "-images="+strconv.FormatBool(runtime.GOOS == "linux"),
			"-registry", "ghcr.io", "-extra", "LICENSE", "-sbom-tool", sbomTool, "-out", out)
		cmd.Dir = root
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("release: %v\n%s", err, o)
		}
	}
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	build(a)
	build(b)
	archives, _ := filepath.Glob(filepath.Join(a, "*.tar.gz"))
	sboms, _ := filepath.Glob(filepath.Join(a, "*.cdx.json"))
	if len(archives) != 2 || len(sboms) != 2 {
		t.Fatalf("the release holds %d archives and %d SBOMs, want 2 each (lakeport, distribution)", len(archives), len(sboms))
	}

	// Reproducible: every file of the two releases is the same bytes.
	filesA, filesB := tree(t, a), tree(t, b)
	if len(filesA) == 0 || len(filesA) != len(filesB) {
		t.Fatalf("the two releases hold %d and %d files", len(filesA), len(filesB))
	}
	for name, sum := range filesA {
		if filesB[name] != sum {
			t.Errorf("%s differs between two builds of the same commit: not reproducible", name)
		}
	}

	// SHA256SUMS covers every archive and SBOM and verifies them.
	sums, err := os.ReadFile(filepath.Join(a, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || filesA[name] != sum {
			t.Errorf("SHA256SUMS line %q does not verify %s", line, name)
		}
		listed[name] = true
	}
	for _, p := range append(archives, sboms...) {
		if n := filepath.Base(p); !listed[n] {
			t.Errorf("SHA256SUMS does not list %s", n)
		}
	}

	// The archive's binary is the released lakeport.
	host := runtime.GOOS + "_" + runtime.GOARCH
	bin := extract(t, filepath.Join(a, "lakeport_v9.8.7_"+host+".tar.gz"), dir, []string{"lakeport", "LICENSE", "NOTICE"})
	// The NOTICE carries those of the Apache-2.0 modules linked in (prometheus/client_golang's,
	// for one).
	notice, err := os.ReadFile(filepath.Join(filepath.Dir(bin), "NOTICE"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(notice), "---- github.com/prometheus/client_golang ") || !strings.Contains(string(notice), "Prometheus instrumentation library for Go applications") {
		t.Errorf("the release's NOTICE does not carry prometheus/client_golang's NOTICE:\n%.600s", notice)
	}
	out := run(t, root, bin, "version")
	for _, want := range []string{"lakeport v9.8.7", "commit " + commit, "2026-12-01T18:30:00Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("the released `lakeport version` says %q, want it to contain %q", out, want)
		}
	}
	// A development build, as `make build` makes it: the release's compiler flags (so the packages
	// compiled for the release are reused) without its linker flags.
	dev := filepath.Join(dir, "lakeport-dev")
	cmd = exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", dev, "./cli/cmd/lakeport")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("development build: %v\n%s", err, o)
	}
	if got, want := run(t, root, bin, "render", "-o", "yaml"), run(t, root, dev, "render", "-o", "yaml"); got != want {
		t.Errorf("the released binary renders the kit differently from a development build (%d vs %d bytes)", len(got), len(want))
	}

	// install.sh installs the release from a download server, and refuses a tarball whose
	// checksum is not the one SHA256SUMS lists.
	if runtime.GOOS == "linux" {
		testInstallScript(t, root, a, "v9.8.7", "lakeport_v9.8.7_"+host+".tar.gz")
	}

	// The SBOM: CycloneDX, the main module at the release version, the Helm SDK among the components.
	var bom struct {
		BOMFormat string `json:"bomFormat"`
		Metadata  struct {
			Component struct{ Name, Version string } `json:"component"`
		} `json:"metadata"`
		Components []struct{ Name, Version string } `json:"components"`
	}
	raw, err := os.ReadFile(filepath.Join(a, "lakeport_v9.8.7_"+host+".cdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &bom); err != nil {
		t.Fatal(err)
	}
	if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Name != "github.com/lakeport/lakeport" || bom.Metadata.Component.Version != "v9.8.7" {
		t.Errorf("SBOM: format %q, main component %+v", bom.BOMFormat, bom.Metadata.Component)
	}
	helm := false
	for _, c := range bom.Components {
		helm = helm || c.Name == "helm.sh/helm/v3"
	}
	if !helm {
		t.Errorf("the SBOM of lakeport lists %d components and not helm.sh/helm/v3", len(bom.Components))
	}

	if runtime.GOOS != "linux" {
		return
	}
	// The images say what the README says.
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := imageTable(t, string(readme))
	for _, name := range []string{"lakeport", "distribution"} {
		want, ok := documented[name]
		if !ok {
			t.Errorf("README's container images table has no row for %s", name)
			continue
		}
		// The layout's index.json names the image's multi-arch index; it holds one image per
		// linux platform (here the host's).
		lp, err := layout.ImageIndexFromPath(filepath.Join(a, "images", name))
		if err != nil {
			t.Fatal(err)
		}
		top, err := lp.IndexManifest()
		if err != nil || len(top.Manifests) != 1 {
			t.Fatalf("%s layout: %v, %d manifests", name, err, len(top.Manifests))
		}
		idx, err := lp.ImageIndex(top.Manifests[0].Digest)
		if err != nil {
			t.Fatalf("%s: the layout does not name an image index: %v", name, err)
		}
		im, err := idx.IndexManifest()
		if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Platform == nil || im.Manifests[0].Platform.Architecture != runtime.GOARCH {
			t.Fatalf("%s index: %v, manifests %+v", name, err, im.Manifests)
		}
		img, err := idx.Image(im.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{
			"user":       cf.Config.User,
			"entrypoint": strings.Join(cf.Config.Entrypoint, " "),
			"workdir":    cf.Config.WorkingDir,
			"version":    cf.Config.Labels["org.opencontainers.image.version"],
			"source":     cf.Config.Labels["org.opencontainers.image.source"],
			"revision":   cf.Config.Labels["org.opencontainers.image.revision"],
		}
		want["version"] = "9.8.7" // the README writes <version>: the release's, without its v
		want["revision"] = commit // the README writes <commit>
		for k, w := range want {
			if got[k] != w {
				t.Errorf("image %s: %s is %q, the README says %q", name, k, got[k], w)
			}
		}
		if cf.Config.User == "0" || cf.Config.User == "" || cf.Config.User == "root" {
			t.Errorf("image %s runs as %q: want a non-root numeric user", name, cf.Config.User)
		}
		// The image carries the licence and the NOTICE its tarball carries.
		fs := t.TempDir()
		if err := imagebuild.Unpack(img, fs); err != nil {
			t.Fatal(err)
		}
		license, err := os.ReadFile(filepath.Join(root, "LICENSE"))
		if err != nil {
			t.Fatal(err)
		}
		docs := filepath.Join(fs, "usr", "share", "doc", name)
		if got, err := os.ReadFile(filepath.Join(docs, "LICENSE")); err != nil || !bytes.Equal(got, license) {
			t.Errorf("image %s: /usr/share/doc/%s/LICENSE is not the repository's LICENSE (%v)", name, name, err)
		}
		imageNotice, err := os.ReadFile(filepath.Join(docs, "NOTICE"))
		switch {
		case err != nil:
			t.Errorf("image %s: no NOTICE: %v", name, err)
		case name == "lakeport" && !bytes.Equal(imageNotice, notice):
			t.Errorf("image %s: its NOTICE is not the tarball's", name)
		case !strings.Contains(string(imageNotice), "---- github.com/"):
			t.Errorf("image %s: its NOTICE carries no dependency's NOTICE:\n%.300s", name, imageNotice)
		}
	}
}

// testInstallScript serves the release folder as GitHub serves releases (releases/latest
// redirects to releases/tag/<version>; files under releases/download/<version>/) and runs
// install.sh against it.
func testInstallScript(t *testing.T, root, rel, version, archive string) {
	t.Helper()
	var tampered atomic.Bool // set by the test, read by the server's goroutines
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/releases/latest":
			http.Redirect(w, r, "/releases/tag/"+version, http.StatusFound)
		case r.URL.Path == "/releases/tag/"+version:
			fmt.Fprintln(w, "release page")
		case strings.HasPrefix(r.URL.Path, "/releases/download/"+version+"/"):
			name := strings.TrimPrefix(r.URL.Path, "/releases/download/"+version+"/")
			b, err := os.ReadFile(filepath.Join(rel, filepath.Base(name)))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			if tampered.Load() && name == archive {
				b[len(b)/2] ^= 0xff
			}
			_, _ = w.Write(b)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	install := func(dir string) (string, error) {
		cmd := exec.Command("sh", filepath.Join(root, "install.sh"), "latest", dir)
		cmd.Env = append(os.Environ(), "LAKEPORT_DOWNLOAD_URL="+srv.URL+"/releases", "GITHUB_TOKEN=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	dir := filepath.Join(t.TempDir(), "bin")
	if out, err := install(dir); err != nil {
		t.Fatalf("install.sh latest: %v\n%s", err, out)
	}
	if out := run(t, root, filepath.Join(dir, "lakeport"), "version"); !strings.Contains(out, "lakeport "+version) {
		t.Errorf("install.sh installed a lakeport that says %q", out)
	}
	tampered.Store(true)
	dir2 := filepath.Join(t.TempDir(), "bin")
	out, err := install(dir2)
	if err == nil || !strings.Contains(out, "checksum mismatch for "+archive) {
		t.Errorf("install.sh with a tampered tarball: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir2, "lakeport")); !os.IsNotExist(err) {
		t.Errorf("install.sh left a lakeport after a checksum mismatch (stat: %v)", err)
	}
}

// tree maps every regular file under dir (relative, slash-separated) to its SHA-256.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(h[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// extract unpacks an archive into dir, checks it holds exactly the named files (in one folder,
// owned by root, with the release's time) and returns the path of the first.
func extract(t *testing.T, archive, dir string, want []string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	first := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || !h.ModTime.Equal(time.Date(2026, 12, 1, 18, 30, 0, 0, time.UTC)) {
			t.Errorf("%s: %s has owner %d:%d %q and time %s, want 0:0 and the commit's time", archive, h.Name, h.Uid, h.Gid, h.Uname, h.ModTime)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		names = append(names, filepath.Base(h.Name))
		p := filepath.Join(dir, "x", filepath.Base(h.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, os.FileMode(h.Mode)); err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = p
		}
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("%s holds %v, want %v", archive, names, want)
	}
	return first
}

// run runs a binary in dir and returns its stdout; a failure ends the test.
func run(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// imageTable reads the README's "Container images" table: one row per image, columns image,
// user, entrypoint, workdir, source (in backquotes); version and revision are placeholders.
func imageTable(t *testing.T, readme string) map[string]map[string]string {
	t.Helper()
	start := strings.Index(readme, "<!-- image-config -->")
	end := strings.Index(readme, "<!-- /image-config -->")
	if start < 0 || end < start {
		t.Fatal("README.md has no <!-- image-config --> table")
	}
	row := regexp.MustCompile("^\\| `([^`]+)` \\| `([^`]+)` \\| `([^`]+)` \\| `([^`]+)` \\| `([^`]+)` \\|")
	out := map[string]map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(readme[start:end]))
	for sc.Scan() {
		m := row.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := m[1][strings.LastIndex(m[1], "/")+1:]
		name, _, _ = strings.Cut(name, ":")
		out[name] = map[string]string{"user": m[2], "entrypoint": m[3], "workdir": m[4], "source": m[5]}
	}
	if len(out) == 0 {
		t.Fatal("the README's image-config table has no rows")
	}
	return out
}

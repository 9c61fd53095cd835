// Package imagebuild builds OCI images of Lakeport's Go binaries from the Go toolchain alone: a
// static binary (CGO_ENABLED=0) on an empty base with a passwd entry for a non-root numeric user,
// written as an OCI image layout (one index, one manifest per platform) and as per-platform
// tarballs that `docker load`, `crane push` and kind's image loader accept. No Docker daemon and
// no registry are involved, and the same inputs give the same digests: every timestamp is the
// build's Created time and file order, owners and modes are fixed.
//
// An image is described by a definition file (jobs/image/distribution.yaml is the first), so
// that another binary (the lakeport CLI) gets its image from the same builder with a second file.
//
// The package links go-containerregistry; only the hack/imagebuild command and tests import it,
// never the CLI or the job binaries.
package imagebuild

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Definition is the schema of an image definition file (jobs/image/*.yaml).
type Definition struct {
	// Repository is the image name without registry and tag, e.g. lakeport/distribution.
	Repository string `yaml:"repository"`
	// Title and Description become org.opencontainers.image.title and .description.
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	// Source is the source repository URL (org.opencontainers.image.source).
	Source string `yaml:"source"`
	// Main is the Go main package, relative to the module root (./jobs/cmd/distribution).
	Main string `yaml:"main"`
	// Binary is the absolute path of the binary in the image; it is the entrypoint.
	Binary string `yaml:"binary"`
	// VersionVariable, when set, is the package-qualified string variable set to the image
	// version with -ldflags -X.
	VersionVariable string `yaml:"versionVariable"`
	// Args is the image's default Cmd (appended to the entrypoint when a pod gives no args).
	Args []string `yaml:"args"`
	// User is the numeric user and group the process runs as (never 0).
	User int `yaml:"user"`
	// WorkingDir is the process's working directory; the image leaves it owned by root, so the
	// non-root user cannot write there.
	WorkingDir string `yaml:"workingDir"`
	// Env is the image's environment.
	Env map[string]string `yaml:"env"`
}

// LoadDefinition reads and validates a definition file. Unknown keys and invalid values are
// errors naming the file, the line and the key.
func LoadDefinition(file string) (Definition, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return Definition{}, fmt.Errorf("read image definition: %w", err)
	}
	return ParseDefinition(file, raw)
}

// ParseDefinition is LoadDefinition on bytes already read; file names them in errors.
func ParseDefinition(file string, raw []byte) (Definition, error) {
	var node yaml.Node
	if err := yaml.Unmarshal(raw, &node); err != nil {
		return Definition{}, fmt.Errorf("%s: %w", file, err)
	}
	var d Definition
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		return Definition{}, fmt.Errorf("%s: %w", file, cleanYAMLError(err))
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", file, lineOf(&node, key), key, fmt.Sprintf(format, args...)))
	}
	if !repositoryRE.MatchString(d.Repository) {
		bad("repository", "%q is not a repository name (lowercase path components like lakeport/distribution, no registry or tag)", d.Repository)
	}
	if !strings.HasPrefix(d.Main, "./") {
		bad("main", "%q: want a main package relative to the module root, like ./jobs/cmd/distribution", d.Main)
	}
	if !path.IsAbs(d.Binary) || path.Clean(d.Binary) != d.Binary || d.Binary == "/" {
		bad("binary", "%q: want a clean absolute file path, like /usr/local/bin/distribution", d.Binary)
	}
	if d.VersionVariable != "" && !versionVarRE.MatchString(d.VersionVariable) {
		bad("versionVariable", "%q: want import/path.Variable", d.VersionVariable)
	}
	if d.User <= 0 || d.User > 1<<31-1 {
		bad("user", "%d: want a numeric non-root user id (e.g. 65532)", d.User)
	}
	if d.WorkingDir == "" {
		d.WorkingDir = "/"
	}
	if !path.IsAbs(d.WorkingDir) {
		bad("workingDir", "%q: want an absolute path", d.WorkingDir)
	}
	for _, k := range sortedKeys(d.Env) {
		if !envNameRE.MatchString(k) {
			bad("env", "%q is not an environment variable name", k)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Definition{}, err
	}
	return d, nil
}

var (
	repositoryRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$`)
	versionVarRE = regexp.MustCompile(`^[A-Za-z0-9_./-]+\.[A-Za-z_][A-Za-z0-9_]*$`)
	envNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

var unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)

// cleanYAMLError turns yaml.v3's "field x not found in type imagebuild.Definition" into
// "unknown key".
func cleanYAMLError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = unknownFieldRE.ReplaceAllString(m, `line $1: unknown key "$2"`)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return err
}

// lineOf is the line of a top-level key (the document's first line when absent).
func lineOf(n *yaml.Node, key string) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return n.Line
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

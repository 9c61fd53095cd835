package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/lakeport/lakeport/cli/pkg/atomicfile"
)

// CacheEnv is the environment variable that turns the render cache on (the --cache flag wins).
const CacheEnv = "LAKEPORT_CACHE"

// cacheFormat names the entry format; a change of format changes every key.
const cacheFormat = "lakeport-render-cache/v1"

// Cache is the opt-in content-addressed render cache: a release's manifests and objects, keyed
// by everything Argo CD's repo server renders from (its own cache keys on the same inputs): the
// chart's files as the chart tree holds them (its dependencies included, under charts/), the
// value files' contents in order, the inline values, parameters and every other field of the
// Helm source, the release name and namespace, and lakeport's own build id, so that an upgraded
// lakeport never serves an older render. An entry is written atomically (package atomicfile)
// and carries a SHA-256 of its body: a truncated or edited entry is detected on read, reported
// as corrupt and rendered again, never used. Concurrent writers of one entry (two CI jobs, two
// processes) write the same bytes through their own temporary files; the last rename wins.
type Cache struct {
	dir   string
	build string

	hits, misses, corrupt atomic.Int64
}

// CacheStats counts what a cache served.
type CacheStats struct {
	Hits, Misses, Corrupt int64
}

// OpenCache opens (creating it) a cache directory.
func OpenCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("render cache %s: %w", dir, err)
	}
	id, err := buildID()
	if err != nil {
		return nil, fmt.Errorf("render cache %s: %w", dir, err)
	}
	return &Cache{dir: dir, build: id}, nil
}

// Stats returns the counts so far.
func (c *Cache) Stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Corrupt: c.corrupt.Load()}
}

var buildIDOnce = sync.OnceValues(func() (string, error) {
	// The executable's own bytes: a rebuilt lakeport (any change, any dependency) is another
	// id, even for a development build whose module version says (devel).
	exe, err := os.Executable()
	if err == nil {
		var f *os.File
		if f, err = os.Open(exe); err == nil {
			defer f.Close()
			h := sha256.New()
			if _, err = io.Copy(h, f); err == nil {
				return "exe:" + hex.EncodeToString(h.Sum(nil)), nil
			}
		}
	}
	// Fall back on the build information (module versions and VCS revision).
	if bi, ok := debug.ReadBuildInfo(); ok {
		sum := sha256.Sum256([]byte(bi.String()))
		return "buildinfo:" + hex.EncodeToString(sum[:]), nil
	}
	return "", fmt.Errorf("no build id: %w", err)
})

// buildID identifies the running lakeport build.
func buildID() (string, error) { return buildIDOnce() }

// cacheKey is the key of one release's render.
type cacheKey struct {
	Format      string                        `json:"format"`
	Build       string                        `json:"build"`
	Chart       string                        `json:"chart"` // SHA-256 of the chart's files
	ChartPath   string                        `json:"chartPath"`
	ValueFiles  []valueFileKey                `json:"valueFiles"`
	ReleaseName string                        `json:"releaseName"`
	Namespace   string                        `json:"namespace"`
	Helm        *argov1.ApplicationSourceHelm `json:"helm"`
	Extra       map[string]string             `json:"extra,omitempty"`
}

type valueFileKey struct {
	Path    string `json:"path"`
	Missing bool   `json:"missing,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

func (k *cacheKey) sum() (string, error) {
	b, err := json.Marshal(k)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// entry is what a cache file holds.
type cacheEntry struct {
	ChartName    string        `json:"chartName"`
	ChartVersion string        `json:"chartVersion"`
	ValueFiles   []string      `json:"valueFiles"`
	Manifest     string        `json:"manifest"`
	Objects      []cacheObject `json:"objects"`
}

type cacheObject struct {
	Source  string         `json:"source"`
	YAML    string         `json:"yaml"`
	Content map[string]any `json:"content"`
	// Exact is Object.exactJSON: Content decodes from JSON to the same map, so it stays exact.
	Exact bool `json:"exact,omitempty"`
}

func (c *Cache) path(key string) string { return filepath.Join(c.dir, key[:2], key) }

// get returns the entry of key, or nil on a miss; a corrupt entry is a miss (and counted).
func (c *Cache) get(key string) *cacheEntry {
	raw, err := os.ReadFile(c.path(key))
	if err != nil {
		c.misses.Add(1)
		return nil
	}
	header, body, ok := strings.Cut(string(raw), "\n")
	sum := sha256.Sum256([]byte(body))
	if !ok || header != cacheFormat+" sha256="+hex.EncodeToString(sum[:]) {
		c.corrupt.Add(1)
		c.misses.Add(1)
		return nil
	}
	var e cacheEntry
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		c.corrupt.Add(1)
		c.misses.Add(1)
		return nil
	}
	c.hits.Add(1)
	return &e
}

// put writes the entry of key atomically.
func (c *Cache) put(key string, e *cacheEntry) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	data := append([]byte(cacheFormat+" sha256="+hex.EncodeToString(sum[:])+"\n"), body...)
	if err := os.MkdirAll(filepath.Join(c.dir, key[:2]), 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteAll(c.dir, map[string][]byte{key[:2] + "/" + key: data}, nil); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("render cache %s: %w", c.dir, err)
	}
	return nil
}

func newCacheEntry(rel *Release) *cacheEntry {
	e := &cacheEntry{ChartName: rel.Chart.Name, ChartVersion: rel.Chart.Version, ValueFiles: rel.ValueFiles, Manifest: rel.Manifest}
	for _, o := range rel.Objects {
		e.Objects = append(e.Objects, cacheObject{Source: o.Source, YAML: o.YAML, Content: o.Content, Exact: o.exactJSON})
	}
	return e
}

// fill sets a release's render from an entry.
func (e *cacheEntry) fill(rel *Release) error {
	rel.Chart.Name, rel.Chart.Version = e.ChartName, e.ChartVersion
	rel.ValueFiles, rel.Manifest = e.ValueFiles, e.Manifest
	rel.Objects = make([]*Object, 0, len(e.Objects))
	for _, co := range e.Objects {
		o, err := newObject(co.Source, strings.TrimSuffix(co.YAML, "\n"), co.Content)
		if err != nil {
			return err
		}
		o.exactJSON = co.Exact
		rel.Objects = append(rel.Objects, o)
	}
	return nil
}

// chartDigest is the SHA-256 of a chart's files (names and contents, in order).
func chartDigest(files []*loader.BufferedFile) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.Name, len(f.Data))
		h.Write(f.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Package changecontrol is the change-control check of `lakeport check`: the files lakeport
// generates from the environments (CODEOWNERS, the AppProjects' sync windows) must match their
// source, and every image key a values file sets must be a declared release pin.
//
// An image key is a `tag` or `digest` next to a `repository` in the chart's default values (the
// charts prefer image.digest when it is set: charts/*/templates/_helpers.tpl). A values file that
// sets one that environments/lakeport.yaml imagePins does not declare is a pin promotion never
// moves: a digest-pinned prod would ignore every image promotion.
package changecontrol

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/lakeport/lakeport/cli/pkg/check/envcheck"
	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/cli/pkg/generate"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/yamledit"
)

// Rules.
const (
	RuleCodeOwners  = "codeowners_current"
	RuleSyncWindows = "sync_windows_rendered"
	RulePins        = "image_pins_declared"
)

// Load reads the kit from the snapshot; a snapshot without environments/lakeport.yaml (a test
// fixture of another check) gives a check that finds nothing.
func Load(snap source.Snapshot) (envcheck.Check, error) {
	if _, err := snap.ReadFile(kit.File); errors.Is(err, fs.ErrNotExist) {
		return &Check{}, nil
	}
	k, err := kit.Load(snap)
	if err != nil {
		return nil, err
	}
	files, err := generate.Files(snap, k)
	if err != nil {
		return nil, err
	}
	return &Check{snap: snap, kit: k, files: files}, nil
}

// Check is the change-control check of one kit.
type Check struct {
	snap  source.Snapshot
	kit   *kit.Kit
	files []*generate.File

	// keys remembers imageKeys per chart folder for every environment: the chart's values.yaml
	// is the snapshot's, the same for all (a fleet's 150 environments parsed each chart's again).
	keysMu sync.Mutex
	keys   map[string][]string
}

// imageKeys is imageKeys of the check's snapshot, remembered.
func (c *Check) imageKeys(chart string) ([]string, error) {
	c.keysMu.Lock()
	defer c.keysMu.Unlock()
	if keys, ok := c.keys[chart]; ok {
		return keys, nil
	}
	keys, err := imageKeys(c.snap, chart)
	if err != nil {
		return nil, err
	}
	if c.keys == nil {
		c.keys = map[string][]string{}
	}
	c.keys[chart] = keys
	return keys, nil
}

// Rules lists the rules of the check.
func (c *Check) Rules() []envcheck.Rule {
	return []envcheck.Rule{
		{ID: RuleCodeOwners, Severity: policy.Failure, Title: "CODEOWNERS is what the environments' owners give", Description: "The CODEOWNERS file is generated from environments/lakeport.yaml owners and each env.yaml changeControl.owners (`lakeport generate`); a hand edit or a forgotten regeneration lets a change to prod merge without its owners."},
		{ID: RuleSyncWindows, Severity: policy.Failure, Title: "Every AppProject's syncWindows are its environments' changeControl.syncWindows", Description: "Sync windows are declared once, in env.yaml, and rendered into the AppProject by `lakeport generate`; promote and health judge windows from env.yaml, Argo CD from the AppProject, so they must not drift."},
		{ID: RulePins, Severity: policy.Failure, Title: "Every image key a values file sets is a declared release pin", Description: "A values file setting a chart image key (tag or digest next to repository in the chart's values.yaml) that environments/lakeport.yaml imagePins does not declare: promotion never moves it, so the environment silently keeps its old image."},
	}
}

// Check evaluates one environment.
func (c *Check) Check(_ context.Context, in envcheck.Input) ([]envcheck.Finding, error) {
	if c.kit == nil || in.Environment == nil {
		return nil, nil
	}
	env := in.Environment
	first := len(c.kit.Environments) > 0 && c.kit.Environments[0].Name == env.Name
	var out []envcheck.Finding
	for _, f := range c.files {
		rule := RuleSyncWindows
		if f.Path == c.kit.CodeOwnersFile {
			rule = RuleCodeOwners
		}
		for _, p := range f.Problems {
			// A problem belongs to its environment; kit-wide ones are reported once, under the
			// first environment of the promotion graph.
			if p.Environment != env.Name && !(p.Environment == "" && first) {
				continue
			}
			file, line := f.Path, p.Line
			msg := fmt.Sprintf("%s %s", f.Path, p.Msg)
			if line == 0 {
				file, line = p.SourceFile, p.SourceLine
			}
			if p.SourceFile != "" && p.SourceFile != file {
				msg += fmt.Sprintf(" (source: %s:%d)", p.SourceFile, p.SourceLine)
			}
			out = append(out, envcheck.Finding{Rule: rule, Severity: policy.Failure, Message: msg, File: file, Line: line})
		}
	}
	pins, err := c.undeclaredPins(in)
	return append(out, pins...), err
}

// undeclaredPins finds image keys set in the environment's values files that are not pins.
func (c *Check) undeclaredPins(in envcheck.Input) ([]envcheck.Finding, error) {
	var out []envcheck.Finding
	for _, r := range in.Releases {
		keys, err := c.imageKeys(r.Chart.Path)
		if err != nil {
			return nil, err
		}
		declared := map[string]bool{}
		for _, k := range c.kit.ImagePins[r.Component] {
			declared[k] = true
		}
		for _, vf := range r.ValueFiles {
			raw, err := c.snap.ReadFile(vf)
			if err != nil {
				continue // a values file outside the snapshot (a chart's own) is not the environment's
			}
			for _, key := range keys {
				if declared[key] {
					continue
				}
				v, err := yamledit.Get(raw, yamledit.ParsePath(key))
				if err != nil || v == "" {
					continue
				}
				line, _ := yamledit.Line(raw, yamledit.ParsePath(key))
				out = append(out, envcheck.Finding{Rule: RulePins, Severity: policy.Failure, File: vf, Line: line,
					Message: fmt.Sprintf("%s: %s is set (%s) but %s imagePins.%s does not declare it: promotion never moves it, so %s keeps this image whatever is promoted; add %s to imagePins.%s", vf, key, v, kit.File, r.Component, env(in), key, r.Component)})
			}
		}
	}
	return out, nil
}

func env(in envcheck.Input) string { return in.Environment.Name }

// imageKeys are the tag and digest keys next to a repository key in a chart's default values.
func imageKeys(snap source.Snapshot, chart string) ([]string, error) {
	raw, err := snap.ReadFile(path.Join(chart, "values.yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path.Join(chart, "values.yaml"), err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path.Join(chart, "values.yaml"), err)
	}
	var keys []string
	var walk func(n *yaml.Node, prefix []string)
	walk = func(n *yaml.Node, prefix []string) {
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			n = n.Content[0]
		}
		if n.Kind != yaml.MappingNode {
			return
		}
		has := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			has[n.Content[i].Value] = n.Content[i+1].Kind == yaml.ScalarNode
		}
		if has["repository"] {
			for _, k := range []string{"tag", "digest"} {
				if _, ok := has[k]; ok {
					keys = append(keys, strings.Join(append(append([]string(nil), prefix...), k), "."))
				}
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], append(append([]string(nil), prefix...), n.Content[i].Value))
		}
	}
	walk(&root, nil)
	sort.Strings(keys)
	return keys, nil
}

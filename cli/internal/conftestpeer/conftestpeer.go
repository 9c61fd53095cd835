// Package conftestpeer lays out the kit's rendered objects and policy data the way conftest reads
// them, so that tests and benchmarks can hold lakeport check against the real conftest binary. It
// is test and benchmark tooling: the product never runs conftest.
package conftestpeer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/lakeport/lakeport/cli/pkg/check"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/render"
)

// Run is one `conftest test` invocation that evaluates the kit's policies on the same
// objects, with the same data, as lakeport check does for one environment.
type Run struct {
	Environment string
	// Data is the JSON file of PolicyData for the environment (conftest --data).
	Data string
	// Files are the rendered manifests, one per application (lakeport render -o dir layout).
	Files []string
}

// Args are conftest's arguments for the run, with the policies in policyDir.
func (r Run) Args(policyDir string, extra ...string) []string {
	args := append([]string{"test", "--no-color", "--policy", policyDir, "--data", r.Data}, extra...)
	return append(args, r.Files...)
}

// Inputs writes what conftest needs to check the releases the way lakeport check does:
// dir/manifests/<env>/<component>.yaml (as lakeport render -o dir writes them) and
// dir/data/<env>.json (PolicyData of the environment). The runs are in promotion order.
func Inputs(dir string, k *kit.Kit, rels []*render.Release) ([]Run, error) {
	manifests := filepath.Join(dir, "manifests")
	if err := render.WriteDir(manifests, rels); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	var runs []Run
	for _, env := range k.Environments {
		var envRels []*render.Release
		var files []string
		for _, r := range rels {
			if r.Environment == env.Name {
				envRels = append(envRels, r)
				files = append(files, filepath.Join(manifests, env.Name, r.Component+".yaml"))
			}
		}
		if len(envRels) == 0 {
			continue
		}
		sort.Strings(files)
		data, err := json.Marshal(check.PolicyData(env, envRels))
		if err != nil {
			return nil, fmt.Errorf("policy data of %s: %w", env.Name, err)
		}
		p := filepath.Join(dir, "data", env.Name+".json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, err
		}
		runs = append(runs, Run{Environment: env.Name, Data: p, Files: files})
	}
	return runs, nil
}

package cmd

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/docgen"
	"github.com/lakeport/lakeport/cli/internal/iostreams"
)

// The reference pages under docs/reference are generated from the code: the YAML schemas from
// the Go types the kit's validator decodes into (a field without a doc comment fails here), the
// command page from the commands themselves. -update rewrites them.
func TestReferenceDocs(t *testing.T) {
	root := "../../.."
	fsys := os.DirFS(root)
	read := func(p string) string {
		raw, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	pages := map[string][]byte{}
	settings, err := docgen.Schema(fsys, "cli/pkg/kit", "Settings")
	if err != nil {
		t.Fatalf("lakeport.yaml schema: %v", err)
	}
	pages["docs/reference/lakeport-yaml.md"] = docgen.SchemaPage("`environments/lakeport.yaml`",
		"The kit's settings: where the ApplicationSet and the AppProjects are, the promotion order and the image pins. Read by the lakeport CLI only (Argo CD does not read it). Unknown keys are refused with the file and line.",
		settings, read("environments/lakeport.yaml"), "environments/lakeport.yaml")
	env, err := docgen.Schema(fsys, "cli/pkg/kit", "Environment")
	if err != nil {
		t.Fatalf("env.yaml schema: %v", err)
	}
	pages["docs/reference/env-yaml.md"] = docgen.SchemaPage("`environments/<env>/env.yaml`",
		"One environment: its cluster and namespace, its Argo CD AppProject, what Helm renders for, its sync policy and its components with their chart release pins. Read by Argo CD (the ApplicationSet's git files generator passes every key to the template) and by the lakeport CLI, which refuses unknown keys with the file and line. Each component's Helm values are in `environments/<env>/<component>.yaml` beside it.",
		env, read("environments/prod/env.yaml"), "environments/prod/env.yaml")
	io, _, _ := iostreams.Test(nil)
	pages["docs/reference/commands.md"] = docgen.CommandsPage(NewRootCmd(&Factory{IO: io}))
	for p, got := range pages {
		checkGolden(t, filepath.Join(root, p), string(got))
	}
}

// Package crds embeds the CustomResourceDefinitions of the custom resources the Lakeport charts
// render - ServiceMonitor and PodMonitor (prometheus-operator), CronWorkflow and WorkflowTemplate
// (Argo Workflows) - so that rendered objects can be validated offline and the chart tests can
// install them into a real kube-apiserver. hack/crds.sh writes the files from the upstream Go
// modules (versions in VERSIONS), with descriptions stripped.
package crds

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed *.yaml VERSIONS
var files embed.FS

// FS holds the CRD YAML files (one CustomResourceDefinition each) and VERSIONS.
var FS fs.FS = files

// Files returns the names of the CRD files, sorted.
func Files() ([]string, error) {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// Package version reports the build's version and the versions of the engines it embeds.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is set at link time (-X github.com/lakeport/lakeport/cli/internal/version.Version=v1.2.3).
var Version = ""

// Info is what `lakeport version` prints.
type Info struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Helm      string `json:"helm"`
	ArgoCD    string `json:"argocd"`
	Platform  string `json:"platform"`
}

// Get reads the version from the link-time variable, else from the module build info.
func Get() Info {
	info := Info{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if info.Version == "" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" || info.Version == "(devel)" {
		info.Version = "dev"
	}
	for _, d := range bi.Deps {
		switch d.Path {
		case "helm.sh/helm/v3":
			info.Helm = d.Version
		case "github.com/argoproj/argo-cd/v3":
			info.ArgoCD = d.Version
		}
	}
	return info
}

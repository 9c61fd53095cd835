// Package version reports the build's version and the versions of the engines it embeds.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version, Commit and Date are set at link time by `make release` (hack/release):
//
//	-X github.com/lakeport/lakeport/cli/internal/version.Version=v1.2.3
//	-X github.com/lakeport/lakeport/cli/internal/version.Commit=<full commit SHA>
//	-X github.com/lakeport/lakeport/cli/internal/version.Date=<commit time, RFC 3339>
//
// The date is the commit's, not the build's, so that two builds of one commit are the same bytes.
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// Info is what `lakeport version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"goVersion"`
	Helm      string `json:"helm"`
	ArgoCD    string `json:"argocd"`
	Platform  string `json:"platform"`
}

// Get reads the version from the link-time variable, else from the module build info.
func Get() Info {
	info := Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
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
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && info.Commit == "":
			info.Commit = s.Value
		case s.Key == "vcs.time" && info.Date == "":
			info.Date = s.Value
		}
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

package diff

import "github.com/lakeport/lakeport/cli/pkg/diff/impact"

// DocumentAPIVersion versions the JSON and YAML shape of a diff.
const DocumentAPIVersion = "lakeport.dev/v1alpha1"

// Document is the stable, versioned JSON/YAML shape of a report (kind Diff). Fields are only
// ever added within an apiVersion; lists are never null.
type Document struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Mode       Mode     `json:"mode"`
	Base       SideInfo `json:"base"`
	Head       SideInfo `json:"head"`
	Summary    Summary  `json:"summary"`
	// Ignore lists the ignore rules applied (default ones included).
	Ignore  []string    `json:"ignore"`
	Secrets SecretsInfo `json:"secrets"`
	Context int         `json:"context"`
	Scope   *Scope      `json:"scope,omitempty"`
	Apps    []DocApp    `json:"apps"`
	// Impacts are the impacts of changed repository files (migrations, data contracts); each
	// resource carries its own.
	Impacts []impact.FileImpact `json:"impacts"`
}

// Summary is the verdict of a report.
type Summary struct {
	// Changed is true when anything changed that counts (what exit code 1 means).
	Changed     bool   `json:"changed"`
	Apps        int    `json:"apps"`
	AppsChanged int    `json:"appsChanged"`
	AppsAdded   int    `json:"appsAdded"`
	AppsRemoved int    `json:"appsRemoved"`
	NotRendered int    `json:"notRendered"`
	Resources   Counts `json:"resources"`
	// Impacts counts the impacts of resources and files by kind (sync-fails, data-at-risk,
	// security, restart, scale); empty when none or not computed.
	Impacts map[impact.Kind]int `json:"impacts"`
}

// SecretsInfo says how secret values were hidden.
type SecretsInfo struct {
	// Hash is the function (hmac-sha256, first 10 hex digits).
	Hash string `json:"hash"`
	// Salt is "random" (per run: hashes compare only within this document) or "flag" (--salt).
	Salt string `json:"salt"`
}

// DocApp is one application of a Document.
type DocApp struct {
	Name        string        `json:"name"`
	Component   string        `json:"component"`
	Environment string        `json:"environment"`
	Action      Action        `json:"action"`
	Base        *ReleaseInfo  `json:"base"`
	Head        *ReleaseInfo  `json:"head"`
	Counts      Counts        `json:"counts"`
	Resources   []DocResource `json:"resources"`
}

// DocResource is one resource of a DocApp.
type DocResource struct {
	APIVersion     string `json:"apiVersion"`
	BaseAPIVersion string `json:"baseApiVersion,omitempty"`
	Group          string `json:"group"`
	Kind           string `json:"kind"`
	Namespace      string `json:"namespace"`
	Name           string `json:"name"`
	Action         Action `json:"action"`
	Hook           string `json:"hook,omitempty"`
	// Paths are the changed paths; Ignored the differing paths an ignore rule hid.
	Paths   []string `json:"paths"`
	Ignored []string `json:"ignored"`
	// Diff is the unified diff (hunks) of the redacted YAML.
	Diff string `json:"diff"`
	// Impacts say what the change does once synced: [{kind, reason, paths}].
	Impacts []impact.Impact `json:"impacts"`
}

// Document returns the report's JSON/YAML shape. Every resource with ignored differences is
// included (action unchanged when nothing else differs), so that ignores can be audited.
func (r *Report) Document() Document {
	d := Document{
		APIVersion: DocumentAPIVersion, Kind: "Diff", Mode: r.Mode, Base: r.Base, Head: r.Head,
		Ignore:  []string{},
		Secrets: SecretsInfo{Hash: "hmac-sha256", Salt: r.SaltSource},
		Context: r.Context, Scope: r.Scope, Apps: []DocApp{}, Impacts: r.FileImpacts,
	}
	if d.Impacts == nil {
		d.Impacts = []impact.FileImpact{}
	}
	for _, rule := range r.Rules {
		d.Ignore = append(d.Ignore, rule.Spec)
	}
	d.Summary = Summary{Changed: r.Changed(), Apps: len(r.Apps) + skipped(r), NotRendered: skipped(r), Resources: r.Totals(), Impacts: r.ImpactCounts()}
	for i := range r.Apps {
		a := &r.Apps[i]
		switch a.Action {
		case Added:
			d.Summary.AppsAdded++
		case Removed:
			d.Summary.AppsRemoved++
		}
		if a.Action != Unchanged {
			d.Summary.AppsChanged++
		}
		da := DocApp{Name: a.Name, Component: a.Component, Environment: a.Environment, Action: a.Action,
			Base: a.Base, Head: a.Head, Counts: a.Counts, Resources: []DocResource{}}
		for _, rd := range a.Resources {
			da.Resources = append(da.Resources, DocResource{
				APIVersion: rd.APIVersion, BaseAPIVersion: rd.BaseAPIVersion, Group: rd.Key.Group, Kind: rd.Key.Kind,
				Namespace: rd.Key.Namespace, Name: rd.Key.Name, Action: rd.Action, Hook: rd.Hook,
				Paths: nonNil(rd.Paths), Ignored: nonNil(rd.Ignored), Diff: rd.Diff, Impacts: rd.Impacts,
			})
			if da.Resources[len(da.Resources)-1].Impacts == nil {
				da.Resources[len(da.Resources)-1].Impacts = []impact.Impact{}
			}
		}
		d.Apps = append(d.Apps, da)
	}
	return d
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

package kit

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"go.yaml.in/yaml/v3"
)

// DefaultCodeOwnersFile is where lakeport writes CODEOWNERS unless lakeport.yaml says otherwise.
const DefaultCodeOwnersFile = ".github/CODEOWNERS"

// ownerRE matches a CODEOWNERS owner: @user, @org/team or an e-mail address.
var ownerRE = regexp.MustCompile(`^(@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?|[^@\s]+@[^@\s]+\.[^@\s]+)$`)

// ChangeControl is the env.yaml `changeControl:` section.
type ChangeControl struct {
	// Owners own the environment's folder in CODEOWNERS (generated, `lakeport generate`).
	Owners []string `yaml:"owners"`
	// RequireChangeID refuses a promotion into the environment without a change id.
	RequireChangeID bool `yaml:"requireChangeId"`
	// SyncWindows are when Argo CD may (allow) or may not (deny) sync the environment. They are
	// rendered into the environment's AppProject `spec.syncWindows` (`lakeport generate`), and
	// `lakeport promote` refuses to target an environment inside a deny window.
	SyncWindows []SyncWindow `yaml:"syncWindows"`
}

// SyncWindow is one window, in Argo CD's own terms (AppProject spec.syncWindows, Argo CD v3.6.1
// pkg/apis/application/v1alpha1/types.go InlineSyncWindow): a cron schedule (minute hour
// day-of-month month day-of-week) at which the window opens, for duration, in timeZone.
type SyncWindow struct {
	// Kind is allow (Argo CD syncs only inside allow windows) or deny (never inside). Required.
	Kind string `yaml:"kind"`
	// Schedule is the cron schedule at which the window opens (minute hour day-of-month month
	// day-of-week). Required.
	Schedule string `yaml:"schedule"`
	// Duration is how long the window stays open (e.g. 4h, 30m). Required.
	Duration string `yaml:"duration"`
	// TimeZone is the schedule's IANA time zone (e.g. Europe/London). Default: UTC.
	TimeZone string `yaml:"timeZone"`
	// Description says why the window exists; health and promote --plan show it.
	Description string `yaml:"description"`
	// ManualSync lets a manual sync through a deny window (Argo CD's manualSync).
	ManualSync bool `yaml:"manualSync"`
	// SyncOverrun lets a sync that started before a deny window finish (Argo CD's syncOverrun).
	SyncOverrun bool `yaml:"syncOverrun"`
}

// validate checks the section; node is the env.yaml's tree, parsed when an error needs a line.
func (c *ChangeControl) validate(file string, node func() *yaml.Node) []error {
	var errs []error
	fe := func(keys []string, key, format string, args ...any) {
		errs = append(errs, &FieldError{File: file, Line: LineOf(node(), keys...), Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	for i, o := range c.Owners {
		if !ownerRE.MatchString(o) {
			fe([]string{"changeControl", "owners", strconv.Itoa(i)}, fmt.Sprintf("changeControl.owners[%d]", i), "%q is not a CODEOWNERS owner (@user, @org/team or an e-mail address)", o)
		}
	}
	for i, w := range c.SyncWindows {
		keys := []string{"changeControl", "syncWindows", strconv.Itoa(i)}
		key := fmt.Sprintf("changeControl.syncWindows[%d]", i)
		if w.TimeZone != "" {
			if _, err := time.LoadLocation(w.TimeZone); err != nil {
				fe(append(keys, "timeZone"), key+".timeZone", "%q is not an IANA time zone such as Europe/London", w.TimeZone)
				continue
			}
		}
		// Argo CD's own validation: kind allow|deny, a five-field cron schedule, a Go duration.
		aw := w.argo("ns")
		if err := aw.Validate(); err != nil {
			fe(keys, key, "%v", err)
			continue
		}
		if d, _ := time.ParseDuration(w.Duration); d <= 0 {
			fe(append(keys, "duration"), key+".duration", "%q must be a positive duration such as 3h", w.Duration)
		}
	}
	return errs
}

func (w *SyncWindow) argo(namespace string) *argov1.InlineSyncWindow {
	tz := w.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	return &argov1.InlineSyncWindow{
		Kind: w.Kind, Schedule: w.Schedule, Duration: w.Duration, TimeZone: tz, Description: w.Description,
		ManualSync: w.ManualSync, SyncOverrun: w.SyncOverrun,
		// A window applies to the Applications it matches (SyncWindows.Matches): the
		// environment's are exactly those deploying to its namespace.
		Namespaces: []string{namespace},
	}
}

// ArgoSyncWindows are the environment's windows as its AppProject's spec.syncWindows: the one
// rendering of env.yaml's changeControl.syncWindows, used for the AppProject, the promotion
// refusal and health alike (nil when it has none).
func (e *Environment) ArgoSyncWindows() argov1.SyncWindows {
	var out argov1.SyncWindows
	for i := range e.ChangeControl.SyncWindows {
		out = append(out, e.ChangeControl.SyncWindows[i].argo(e.Destination.Namespace))
	}
	return out
}

// Project returns the AppProject named name, or nil.
func (k *Kit) Project(name string) *argov1.AppProject {
	for i := range k.Projects {
		if k.Projects[i].Name == name {
			return &k.Projects[i]
		}
	}
	return nil
}

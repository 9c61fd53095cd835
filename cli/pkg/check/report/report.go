// Package report writes check reports in the formats CI systems read: JUnit XML, SARIF 2.1.0
// (GitHub code scanning and other viewers) and GitHub Actions workflow commands (annotations on
// the pull request). Like conftest's outputters, one function per format, each writing to an
// io.Writer.
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/lakeport/lakeport/cli/pkg/check"
)

// Options say which findings count (fail the check), as the command line does.
type Options struct {
	// FailOnWarn makes counted warnings fail.
	FailOnWarn bool
	// All counts unchanged findings in PR mode, not only new ones.
	All bool
	// Version is lakeport's version, for SARIF.
	Version string
}

func (o Options) fails(r *check.Report, f *check.Finding) bool {
	return r.Counts(f, o.All) && (f.Severity == check.Failure || o.FailOnWarn && f.Severity == check.Warning)
}

// --- JUnit ------------------------------------------------------------------------------------

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// JUnit writes one test suite per application and one test case per object: a case fails with
// every finding that fails the check, and lists the others (warnings, excepted, unchanged) in its
// system-out. Exception problems make a suite of their own.
func JUnit(w io.Writer, r *check.Report, o Options) error {
	type key struct{ env, app, kind, name string }
	byObject := map[key][]*check.Finding{}
	var fileFindings []*check.Finding
	for _, f := range r.Findings {
		if f.Status == check.StatusFixed {
			continue
		}
		if f.Object == nil || f.App == "" {
			fileFindings = append(fileFindings, f)
			continue
		}
		k := key{f.Environment, f.App, f.Object.Kind, f.Object.Name}
		byObject[k] = append(byObject[k], f)
	}
	out := junitSuites{Name: "lakeport check"}
	for _, a := range r.Applications {
		s := junitSuite{Name: a.Environment + "/" + a.App}
		for i, obj := range a.Objects {
			c := junitCase{Name: obj.String(), Classname: a.Environment + "." + a.Component}
			if i < len(a.Files) {
				c.File = a.Files[i]
			}
			fillCase(&c, r, o, byObject[key{a.Environment, a.App, obj.Kind, obj.Name}])
			if c.Failure != nil {
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		out.Suites = append(out.Suites, s)
	}
	if len(fileFindings) > 0 {
		s := junitSuite{Name: check.ExceptionsDir}
		for _, f := range fileFindings {
			c := junitCase{Name: fmt.Sprintf("%s:%d %s", f.File, f.Line, f.Object), Classname: "exceptions", File: f.File}
			fillCase(&c, r, o, []*check.Finding{f})
			if c.Failure != nil {
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		out.Suites = append(out.Suites, s)
	}
	for _, s := range out.Suites {
		out.Tests += s.Tests
		out.Failures += s.Failures
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func fillCase(c *junitCase, r *check.Report, o Options, fs []*check.Finding) {
	var fail, other []string
	for _, f := range fs {
		line := fmt.Sprintf("[%s %s] %s", f.Severity, f.Rule, f.Message)
		if f.Status != "" {
			line = fmt.Sprintf("[%s %s %s] %s", f.Status, f.Severity, f.Rule, f.Message)
		}
		switch {
		case f.Excepted():
			other = append(other, fmt.Sprintf("%s (excepted until %s: %s)", line, f.Exception.Expires, f.Exception.Reason))
		case o.fails(r, f):
			fail = append(fail, line)
		default:
			other = append(other, line)
		}
	}
	if len(fail) > 0 {
		msg := fail[0]
		if len(fail) > 1 {
			msg = fmt.Sprintf("%d findings", len(fail))
		}
		c.Failure = &junitMessage{Message: msg, Type: "failure", Text: strings.Join(fail, "\n")}
	}
	c.SystemOut = strings.Join(other, "\n")
}

// --- SARIF ------------------------------------------------------------------------------------

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string            `json:"id"`
	Name                 string            `json:"name"`
	ShortDescription     sarifText         `json:"shortDescription"`
	FullDescription      *sarifText        `json:"fullDescription,omitempty"`
	DefaultConfiguration sarifConfig       `json:"defaultConfiguration"`
	Properties           map[string]string `json:"properties,omitempty"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	BaselineState       string            `json:"baselineState,omitempty"`
	Suppressions        []sarifSuppress   `json:"suppressions,omitempty"`
	Properties          map[string]string `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifSuppress struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
}

func level(s check.Severity) string {
	if s == check.Failure {
		return "error"
	}
	return "warning"
}

// SARIF writes a SARIF 2.1.0 log: one rule per check or policy, one result per finding located
// at the chart template that rendered the object (or the exception file). Excepted findings carry
// an external suppression with the exception's reason; in PR mode results carry baselineState
// (new/unchanged) and fixed findings are left out.
func SARIF(w io.Writer, r *check.Report, o Options) error {
	driver := sarifDriver{Name: "lakeport", Version: strings.TrimPrefix(o.Version, "v"), InformationURI: "https://github.com/lakeport/lakeport"}
	index := map[string]int{}
	for _, ru := range r.Rules {
		if _, dup := index[ru.ID]; dup {
			continue
		}
		index[ru.ID] = len(driver.Rules)
		sr := sarifRule{
			ID:                   ru.ID,
			Name:                 ru.ID,
			ShortDescription:     sarifText{ru.Title},
			DefaultConfiguration: sarifConfig{level(ru.Severity)},
			Properties:           map[string]string{"check": ru.Check},
		}
		if ru.Description != "" {
			sr.FullDescription = &sarifText{ru.Description}
		}
		if ru.File != "" {
			sr.Properties["file"] = fmt.Sprintf("%s:%d", ru.File, ru.Line)
		}
		driver.Rules = append(driver.Rules, sr)
	}
	results := []sarifResult{}
	for _, f := range r.Findings {
		if f.Status == check.StatusFixed {
			continue
		}
		line := f.Line
		if line <= 0 {
			line = 1
		}
		msg := f.Message
		if f.App != "" {
			msg = fmt.Sprintf("%s (%s, %s)", f.Message, f.Environment, f.App)
		}
		res := sarifResult{
			RuleID:              f.Rule,
			RuleIndex:           index[f.Rule],
			Level:               level(f.Severity),
			Message:             sarifText{msg},
			Locations:           []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.File}, Region: sarifRegion{StartLine: line}}}},
			PartialFingerprints: map[string]string{"lakeportFinding/v1": fingerprint(f)},
			BaselineState:       string(f.Status),
		}
		if f.Object != nil && f.App != "" {
			res.Locations[0].LogicalLocations = []sarifLogical{{
				Name:               f.Object.Name,
				FullyQualifiedName: fmt.Sprintf("%s/%s/%s/%s", f.Environment, f.App, f.Object.Kind, f.Object.Name),
				Kind:               "object",
			}}
			res.Properties = map[string]string{"environment": f.Environment, "app": f.App}
		}
		if f.Excepted() {
			res.Suppressions = []sarifSuppress{{Kind: "external", Justification: fmt.Sprintf("%s (exception in %s:%d, expires %s)", f.Exception.Reason, f.Exception.File, f.Exception.Line, f.Exception.Expires)}}
		}
		results = append(results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}},
	})
}

func fingerprint(f *check.Finding) string {
	sum := sha256.Sum256([]byte(f.Key()))
	return hex.EncodeToString(sum[:16])
}

// --- GitHub -----------------------------------------------------------------------------------

// GitHub writes GitHub Actions workflow commands: an ::error or ::warning annotation per finding
// that fails the check or warns (in PR mode: new ones), grouped per application, a ::notice per
// fixed finding, then a summary line.
func GitHub(w io.Writer, r *check.Report, o Options) error {
	groups := map[string][]*check.Finding{}
	var names []string
	for _, f := range r.Findings {
		if f.Excepted() || (r.Base != "" && !o.All && f.Status == check.StatusUnchanged) {
			continue
		}
		g := f.Environment + "/" + f.App
		if f.App == "" {
			g = check.ExceptionsDir
		}
		if _, ok := groups[g]; !ok {
			names = append(names, g)
		}
		groups[g] = append(groups[g], f)
	}
	for _, g := range names {
		fmt.Fprintf(w, "::group::lakeport check %s\n", g)
		for _, f := range groups[g] {
			lvl := "warning"
			switch {
			case f.Status == check.StatusFixed:
				lvl = "notice"
			case o.fails(r, f):
				lvl = "error"
			}
			line := f.Line
			if line <= 0 {
				line = 1
			}
			title := f.Rule
			if f.Status != "" {
				title = fmt.Sprintf("%s (%s)", f.Rule, f.Status)
			}
			msg := f.Message
			if f.App != "" {
				msg = fmt.Sprintf("[%s] %s", f.App, msg)
			}
			fmt.Fprintf(w, "::%s file=%s,line=%d,title=%s::%s\n", lvl, escapeProperty(f.File), line, escapeProperty(title), escapeData(msg))
		}
		fmt.Fprintln(w, "::endgroup::")
	}
	s := r.Summary
	_, err := fmt.Fprintf(w, "%d applications, %d objects: %d failures, %d warnings, %d excepted%s\n",
		s.Applications, s.Objects, s.Failures, s.Warnings, s.Excepted, prSummary(r))
	return err
}

func prSummary(r *check.Report) string {
	if r.Base == "" {
		return ""
	}
	return fmt.Sprintf(" (against %s: %d new, %d fixed, %d unchanged)", r.Base, r.Summary.New, r.Summary.Fixed, r.Summary.Unchanged)
}

// escapeData and escapeProperty escape workflow command values as the GitHub runner expects.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// --- Markdown ---------------------------------------------------------------------------------

// MaxMarkdown is the size a pull-request comment holds (GitHub's limit is 65,536 characters).
const MaxMarkdown = 65000

// Markdown writes a pull-request comment: the verdict and counts, a table of the findings that
// fail the check (in PR mode: new ones) and warnings, then collapsed sections for the rest
// (unchanged, fixed, excepted). Tables are cut, with a note, to fit MaxMarkdown.
func Markdown(w io.Writer, r *check.Report, o Options) error {
	var b strings.Builder
	verdict := "passed"
	if r.Failed(o.FailOnWarn, o.All) {
		verdict = "failed"
	}
	s := r.Summary
	fmt.Fprintf(&b, "### lakeport check %s\n\n", verdict)
	fmt.Fprintf(&b, "%d applications, %d objects: **%d failures**, %d warnings, %d excepted%s\n\n",
		s.Applications, s.Objects, s.Failures, s.Warnings, s.Excepted, prSummary(r))
	var main, unchanged, fixed, excepted []*check.Finding
	for _, f := range r.Findings {
		switch {
		case f.Excepted():
			excepted = append(excepted, f)
		case f.Status == check.StatusFixed:
			fixed = append(fixed, f)
		case r.Base != "" && !o.All && f.Status == check.StatusUnchanged:
			unchanged = append(unchanged, f)
		default:
			main = append(main, f)
		}
	}
	budget := MaxMarkdown - 2000 // room for the summaries and notes
	table := func(fs []*check.Finding) {
		if len(fs) == 0 {
			return
		}
		b.WriteString("| severity | env | app | object | rule | message |\n|---|---|---|---|---|---|\n")
		for i, f := range fs {
			obj, app := "", f.App
			if f.Object != nil {
				obj = "`" + f.Object.String() + "`"
			}
			if app == "" {
				app = fmt.Sprintf("`%s:%d`", f.File, f.Line)
			}
			sev := string(f.Severity)
			if f.Status != "" {
				sev += " (" + string(f.Status) + ")"
			}
			if f.Excepted() {
				sev = fmt.Sprintf("excepted until %s", f.Exception.Expires)
			}
			row := fmt.Sprintf("| %s | %s | %s | %s | `%s` | %s |\n", sev, f.Environment, app, obj, f.Rule, mdCell(f.Message))
			if b.Len()+len(row) > budget {
				fmt.Fprintf(&b, "\n_%d more findings are not shown: see `lakeport check` in the job log._\n", len(fs)-i)
				return
			}
			b.WriteString(row)
		}
		b.WriteString("\n")
	}
	table(main)
	for _, sec := range []struct {
		title string
		fs    []*check.Finding
	}{{"unchanged (in the base too)", unchanged}, {"fixed by this change", fixed}, {"excepted (policies/exceptions)", excepted}} {
		if len(sec.fs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "<details><summary>%d %s</summary>\n\n", len(sec.fs), sec.title)
		table(sec.fs)
		b.WriteString("</details>\n\n")
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

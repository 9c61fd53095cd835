package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/pkg/check"
)

func report(n int) *check.Report {
	r := &check.Report{Applications: []*check.AppResult{{Environment: "prod", App: "prod-web", Component: "web", Chart: "charts/web",
		Objects: []*check.ObjectRef{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}, Files: []string{"charts/web/templates/deployment.yaml"}}}}
	for i := 0; i < n; i++ {
		r.Findings = append(r.Findings, &check.Finding{Environment: "prod", App: "prod-web", Component: "web",
			Object: &check.ObjectRef{Kind: "Deployment", Name: "web"}, File: "charts/web/templates/deployment.yaml", Line: 3,
			Check: check.CheckPolicy, Rule: "resources", Severity: check.Failure,
			Message: fmt.Sprintf("Deployment web: finding %d with a | pipe, 100%% sure", i)})
	}
	return r
}

func TestMarkdownFitsAComment(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, report(5000), Options{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if len(out) > MaxMarkdown {
		t.Fatalf("%d characters, more than %d", len(out), MaxMarkdown)
	}
	if !strings.Contains(out, "more findings are not shown") || !strings.Contains(out, `a \| pipe`) {
		t.Errorf("no cut note or unescaped pipe:\n%s", out[len(out)-500:])
	}
}

func TestGitHubEscapes(t *testing.T) {
	r := report(1)
	r.Findings[0].File = "charts/we,b:x/templates/d.yaml"
	r.Findings[0].Message = "line one\nline two 100%"
	var b bytes.Buffer
	if err := GitHub(&b, r, Options{}); err != nil {
		t.Fatal(err)
	}
	want := "::error file=charts/we%2Cb%3Ax/templates/d.yaml,line=3,title=resources::[prod-web] line one%0Aline two 100%25\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("got:\n%s\nwant a line:\n%s", b.String(), want)
	}
}

func TestJUnitExceptedAndWarnings(t *testing.T) {
	r := report(1)
	r.Findings = append(r.Findings,
		&check.Finding{Environment: "prod", App: "prod-web", Object: &check.ObjectRef{Kind: "Deployment", Name: "web"}, Rule: "probes", Severity: check.Warning, Message: "no probe"},
		&check.Finding{Environment: "prod", App: "prod-web", Object: &check.ObjectRef{Kind: "Deployment", Name: "web"}, Rule: "pdb", Severity: check.Failure, Message: "no pdb",
			Exception: &check.Exception{Reason: "one replica", Expires: "2099-01-01"}})
	for _, tc := range []struct {
		opts  Options
		fails int
	}{{Options{}, 1}, {Options{FailOnWarn: true}, 2}} {
		var b bytes.Buffer
		if err := JUnit(&b, r, tc.opts); err != nil {
			t.Fatal(err)
		}
		var s struct {
			Suites []struct {
				Cases []struct {
					Failure *struct {
						Text string `xml:",chardata"`
					} `xml:"failure"`
					Out string `xml:"system-out"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal(b.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		c := s.Suites[0].Cases[0]
		if c.Failure == nil || strings.Count(c.Failure.Text, "\n")+1 != tc.fails {
			t.Errorf("%+v: failure %+v", tc.opts, c.Failure)
		}
		if !strings.Contains(c.Out, "excepted until 2099-01-01: one replica") {
			t.Errorf("%+v: system-out %q", tc.opts, c.Out)
		}
	}
}

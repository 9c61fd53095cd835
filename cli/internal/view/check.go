package view

import (
	"fmt"
	"io"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/check"
)

// CheckTable prints a check report: one row per finding (with its status against the base in PR
// mode), then the verdict line. failOnWarn and failOnExisting are the rules the verdict follows.
func CheckTable(out io.Writer, tty bool, st *output.Styles, rep *check.Report, failOnWarn, failOnExisting bool) error {
	if len(rep.Findings) > 0 {
		header := []string{"ENV", "APP", "OBJECT", "RULE", "SEVERITY", "MESSAGE"}
		if rep.Base != "" {
			header = append([]string{"STATUS"}, header...)
		}
		t := output.NewTable(tty, st, header...)
		for _, fd := range rep.Findings {
			env, app, obj := fd.Environment, fd.App, ""
			if fd.Object != nil {
				obj = fd.Object.String()
			}
			if app == "" {
				env, app = "-", fmt.Sprintf("%s:%d", fd.File, fd.Line)
			}
			sev := string(fd.Severity)
			if fd.Excepted() {
				sev = "excepted"
			}
			row := []string{env, app, obj, fd.Rule, sev, fd.Message}
			col := 4
			if rep.Base != "" {
				row = append([]string{string(fd.Status)}, row...)
				col = 5
			}
			t.Row(row...)
			switch {
			case fd.Excepted() || fd.Status == check.StatusFixed:
				t.Style(col, st.Dim)
			case fd.Severity == check.Failure:
				t.Style(col, st.Bad)
			default:
				t.Style(col, st.Warn)
			}
		}
		if err := t.Render(out); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	s := rep.Summary
	pr := ""
	if rep.Base != "" {
		pr = fmt.Sprintf(" (against %s: %d new, %d fixed, %d unchanged)", rep.Base, s.New, s.Fixed, s.Unchanged)
	}
	verdict := st.Good.Render("PASS")
	if rep.Failed(failOnWarn, failOnExisting) {
		verdict = st.Bad.Render("FAIL")
	}
	_, err := fmt.Fprintf(out, "%s: %d applications, %d objects: %d failures, %d warnings, %d excepted%s\n",
		verdict, s.Applications, s.Objects, s.Failures, s.Warnings, s.Excepted, pr)
	return err
}

package policy

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/lakeport/lakeport/cli/pkg/source"
)

// TestResult is the outcome of one Rego test (a test_ rule).
type TestResult struct {
	Package  string        `json:"package"`
	Name     string        `json:"name"`
	File     string        `json:"file"`
	Line     int           `json:"line"`
	Pass     bool          `json:"pass"`
	Skip     bool          `json:"skip,omitempty"`
	Duration time.Duration `json:"durationNanos"`
	// FailedAt is the expression that was false, with its line ("" when the test passed).
	FailedAt string `json:"failedAt,omitempty"`
	// Error is an evaluation error (a built-in that failed, a conflict...).
	Error string `json:"error,omitempty"`
	// Output is what print() wrote during the test.
	Output string `json:"output,omitempty"`
}

// RunTests runs the Rego unit tests (test_ rules, typically in *_test.rego files) of every
// module under dir, as `opa test` and `conftest verify` do. run, when not empty, is a regular
// expression that selects tests by their full name (data.main.test_privileged). Compile errors
// are returned with file and line; failing tests are results.
func RunTests(ctx context.Context, snap source.Snapshot, dir, run string) ([]TestResult, error) {
	modules, _, err := readModules(snap, dir, true)
	if err != nil {
		return nil, err
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("no Rego files under %s/", dir)
	}
	if run != "" {
		if _, err := regexp.Compile(run); err != nil {
			return nil, fmt.Errorf("test filter %q: %w", run, err)
		}
	}
	store := inmem.New()
	txn, err := store.NewTransaction(ctx, storage.TransactionParams{})
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	r := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithEnablePrintStatements(true)).
		SetStore(store).
		SetModules(modules).
		CapturePrintOutput(true).
		EnableTracing(true). // FailedAt (the false expression) comes from the trace
		SetTimeout(time.Minute).
		Filter(run)
	ch, err := r.RunTests(ctx, txn)
	if err != nil {
		return nil, astErrors(err)
	}
	var out []TestResult
	for res := range ch {
		tr := TestResult{
			Package:  strings.TrimPrefix(res.Package, "data."),
			Name:     res.Name,
			Pass:     res.Pass(),
			Skip:     res.Skip,
			Duration: res.Duration,
			Output:   string(res.Output),
		}
		if res.Location != nil {
			tr.File, tr.Line = res.Location.File, res.Location.Row
		}
		if res.Error != nil {
			tr.Error = res.Error.Error()
		}
		if !tr.Pass && !tr.Skip {
			tr.FailedAt = failedAt(res)
		}
		out = append(out, tr)
	}
	// The traces can be large; nothing keeps them.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
}

// failedAt finds the expression of the test's own file that failed last: the one that made the
// test false (the tester leaves Result.FailedAt unset; the trace has it).
func failedAt(res *tester.Result) string {
	if res.FailedAt != nil && res.FailedAt.Location != nil {
		return fmt.Sprintf("line %d: %s", res.FailedAt.Location.Row, res.FailedAt)
	}
	if res.Location == nil {
		return ""
	}
	var last *ast.Expr
	for _, e := range res.Trace {
		if e.Op != topdown.FailOp {
			continue
		}
		if x, ok := e.Node.(*ast.Expr); ok && x.Location != nil && x.Location.File == res.Location.File && x.Location.Row >= res.Location.Row {
			last = x
		}
	}
	if last == nil {
		return ""
	}
	return fmt.Sprintf("line %d: %s", last.Location.Row, strings.TrimSpace(string(last.Location.Text)))
}

package promote_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/promote"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// The crash test re-executes this test binary as a child that promotes web to prod in the kit at
// envDir and SIGKILLs itself right after the step envStep (a real kill: no deferred function, no
// cleanup runs).
const (
	envDir  = "LAKEPORT_CRASH_DIR"
	envStep = "LAKEPORT_CRASH_STEP"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envDir); dir != "" {
		os.Exit(crashChild(dir, os.Getenv(envStep)))
	}
	os.Exit(m.Run())
}

// crashChild promotes and kills itself at step; it returns only when step is never reached.
func crashChild(dir, step string) int {
	w, err := workspace.Open(dir, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	p, err := promote.NewPlan(w, promote.Options{Components: []string{"web"}, To: "prod"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	_, err = promote.Write(w, p, promote.WriteOptions{Message: "promote web to prod\n", Checkpoint: func(s string) {
		if s == step {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

// TestPromoteSurvivesSIGKILL kills a promotion after each of its steps and checks that the
// repository is left either as it was (no branch) or with the complete promotion branch, its
// commit holding exactly the promoted files on top of the old HEAD.
func TestPromoteSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: re-executes the test binary for each step")
	}
	steps := []string{promote.StepBlobs, promote.StepTree, promote.StepCommit, promote.StepBranch, promote.StepHead, promote.StepIndex, promote.StepFiles, "never"}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			f := testkit.NewFixture(t)
			oldHead, err := f.Git.Head()
			if err != nil {
				t.Fatal(err)
			}
			oldFiles := map[string]string{}
			for _, n := range []string{"environments/prod/env.yaml", "environments/prod/web.yaml"} {
				oldFiles[n] = f.Read(n)
			}
			// What the promotion writes, worked out without writing.
			w, err := workspace.Open(f.Dir, "")
			if err != nil {
				t.Fatal(err)
			}
			plan, err := promote.NewPlan(w, promote.Options{Components: []string{"web"}, To: "prod"})
			if err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envDir+"="+f.Dir, envStep+"="+step)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err = cmd.Run()
			var ee *exec.ExitError
			killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
			if step == "never" {
				if err != nil {
					t.Fatalf("the promotion failed: %v\n%s", err, stderr.String())
				}
			} else if !killed {
				t.Fatalf("the child was not killed at %s: %v\n%s", step, err, stderr.String())
			}

			if gitBin, err := exec.LookPath("git"); err == nil {
				// git itself finds the object store and refs sound.
				if out, err := exec.Command(gitBin, "-C", f.Dir, "fsck", "--no-dangling", "--no-progress").CombinedOutput(); err != nil {
					t.Errorf("git fsck after a kill at %s: %v\n%s", step, err, out)
				}
			}
			repo, err := git.PlainOpen(f.Dir)
			if err != nil {
				t.Fatalf("the repository does not open after a kill at %s: %v", step, err)
			}
			ref, err := repo.Reference(plumbing.NewBranchReferenceName(plan.Branch()), true)
			branchExists := err == nil
			head, err := repo.Head()
			if err != nil {
				t.Fatalf("HEAD does not resolve after a kill at %s: %v", step, err)
			}
			published := step != promote.StepBlobs && step != promote.StepTree && step != promote.StepCommit
			if branchExists != published {
				t.Fatalf("after a kill at %s: branch exists = %v, want %v", step, branchExists, published)
			}
			if !branchExists {
				// As it was: HEAD, files.
				if head.Name() != oldHead.Name() || head.Hash() != oldHead.Hash() {
					t.Errorf("HEAD moved to %s", head)
				}
				for n, want := range oldFiles {
					if f.Read(n) != want {
						t.Errorf("%s changed although no branch was published", n)
					}
				}
				return
			}
			// The branch is complete: one commit on the old HEAD, holding exactly the edits.
			c, err := repo.CommitObject(ref.Hash())
			if err != nil {
				t.Fatalf("the branch's commit does not read: %v", err)
			}
			if len(c.ParentHashes) != 1 || c.ParentHashes[0] != oldHead.Hash() {
				t.Errorf("the commit's parents are %v, want %s", c.ParentHashes, oldHead.Hash())
			}
			parent, _ := c.Parent(0)
			changes, err := parent.Patch(c)
			if err != nil {
				t.Fatal(err)
			}
			var changed []string
			for _, fp := range changes.FilePatches() {
				_, to := fp.Files()
				changed = append(changed, to.Path())
			}
			if got, want := strings.Join(changed, ","), "environments/prod/env.yaml,environments/prod/web.yaml"; got != want {
				t.Errorf("the commit changes %s, want %s", got, want)
			}
			for n, want := range plan.Edits {
				file, err := c.File(n)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := file.Contents()
				if got != string(want) {
					t.Errorf("the commit's %s is not the promoted content", n)
				}
			}
			// The working tree is the old or the promoted content, never a mix inside a file;
			// once the files step has passed, it is the promoted one and git sees it clean.
			for n, want := range plan.Edits {
				if got := f.Read(n); got != string(want) && got != oldFiles[n] {
					t.Errorf("%s is neither the old nor the promoted content", n)
				}
			}
			if step == promote.StepFiles || step == "never" {
				if head.Name().Short() != plan.Branch() {
					t.Errorf("HEAD is %s, want the promotion branch", head.Name())
				}
				wt, _ := repo.Worktree()
				st, err := wt.Status()
				if err != nil {
					t.Fatal(err)
				}
				for name, s := range st {
					if s.Worktree != git.Untracked {
						t.Errorf("after the promotion %s is %c%c in git status", name, s.Staging, s.Worktree)
					}
				}
				if gitBin, err := exec.LookPath("git"); err == nil {
					out, err := exec.Command(gitBin, "-C", f.Dir, "status", "--porcelain", "--untracked-files=no").CombinedOutput()
					if err != nil || len(out) > 0 {
						t.Errorf("git status after the promotion: %v\n%s", err, out)
					}
				}
			}
		})
	}
}

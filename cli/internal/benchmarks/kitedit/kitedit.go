// Package kitedit holds the edits the benchmark programs make to a copy of the kit to build the
// pull-request shapes they measure, and the git calls that commit them.
package kitedit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

var shaPin = regexp.MustCompile(`(?m)^(\s+revision:\s*)"?[0-9a-f]{40}"?\s*$`)

// FloatPins makes every environment follow the branch (revision: HEAD).
func FloatPins(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "environments", "*", "env.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(f, shaPin.ReplaceAll(b, []byte("${1}HEAD")), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// EveryChart adds a ConfigMap template to every chart and bumps every chart's version.
func EveryChart(dir string) error {
	charts, err := filepath.Glob(filepath.Join(dir, "charts", "*", "Chart.yaml"))
	if err != nil || len(charts) == 0 {
		return fmt.Errorf("no charts under %s/charts (err %v)", dir, err)
	}
	versionRE := regexp.MustCompile(`(?m)^version:\s*(\S+)\s*$`)
	for _, c := range charts {
		b, err := os.ReadFile(c)
		if err != nil {
			return err
		}
		if err := os.WriteFile(c, versionRE.ReplaceAll(b, []byte("version: 99.0.0-bench")), 0o644); err != nil {
			return err
		}
		tpl := `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-bench
  namespace: {{ .Release.Namespace }}
data:
  release: {{ .Release.Name | quote }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
`
		if err := os.WriteFile(filepath.Join(filepath.Dir(c), "templates", "zz-bench-configmap.yaml"), []byte(tpl), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Git runs git in dir as a fixed bench identity, without the system configuration.
func Git(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@lakeport.dev",
		"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@lakeport.dev")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Commit commits the given folders of dir.
func Commit(ctx context.Context, dir, msg string, folders ...string) error {
	if err := Git(ctx, dir, append([]string{"add", "-A"}, folders...)...); err != nil {
		return err
	}
	return Git(ctx, dir, "commit", "--quiet", "--no-verify", "-m", msg)
}

package charts_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSparkSubmitFailsWithTheDriver runs the pipeline's spark step as the pod would (its command
// and args from the rendered WorkflowTemplate, under bash) against a stand-in spark-submit that
// prints what Spark's standalone client prints and exits as it exits. Spark's client exits 0
// whatever state the driver ends in (core/src/main/scala/org/apache/spark/deploy/Client.scala,
// ClientEndpoint.reportDriverStatus, read in apache/spark): before the step's script, a driver
// that ended FAILED left the step Succeeded, and the run waited for _SUCCESS markers that
// would never come.
func TestSparkSubmitFailsWithTheDriver(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("the spark step runs under bash: install it (hack/apt.sh's systems have it)")
	}
	objs := mustRender(t, defaultsRequest("distribution", map[string]any{
		"cronJobs": map[string]any{"enabled": false},
		"workflow": map[string]any{"enabled": true, "spark": map[string]any{"enabled": true, "master": "spark://spark-master:7077",
			"mainClass": "com.bank.risk.Calculation", "application": "local:///opt/risk/calculation.jar"}},
	}))
	wt := find(t, objs, "WorkflowTemplate", "distribution-pipeline")
	var command, args []string
	for _, tpl := range field(t, wt, "spec", "templates").([]any) {
		tpl := tpl.(map[string]any)
		if tpl["name"] != "spark" {
			continue
		}
		c := tpl["container"].(map[string]any)
		for _, s := range c["command"].([]any) {
			command = append(command, s.(string))
		}
		for _, s := range c["args"].([]any) {
			args = append(args, s.(string))
		}
	}
	if len(command) < 3 || command[0] != "/bin/bash" {
		t.Fatalf("the spark step's command is %q, want the script under /bin/bash", command)
	}

	// state lines are what ClientEndpoint logs at INFO through the script's log4j2 layout.
	state := func(s string) string {
		return fmt.Sprintf("26/12/07 01:31:02 INFO ClientEndpoint: State of driver driver-20261207013055-0001 is %s, exiting spark-submit JVM.", s)
	}
	for _, tc := range []struct {
		name  string
		lines []string
		exit  int // spark-submit's
		want  int // the step's
	}{
		{"driver finished", []string{"26/12/07 01:30:55 INFO ClientEndpoint: Driver successfully submitted as driver-20261207013055-0001", state("RUNNING"), state("FINISHED")}, 0, 0},
		{"driver failed", []string{state("FAILED")}, 0, 7},
		{"driver error", []string{state("ERROR")}, 0, 7},
		{"driver killed", []string{state("KILLED")}, 0, 7},
		{"state not logged", []string{"26/12/07 01:30:55 WARN NativeCodeLoader: Unable to load native-hadoop library"}, 0, 7},
		{"no master", []string{"26/12/07 01:30:55 ERROR ClientEndpoint: No master is available, exiting."}, 255, 255},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			tmp := t.TempDir()
			if err := os.MkdirAll(filepath.Join(home, "bin"), 0o755); err != nil {
				t.Fatal(err)
			}
			// The stand-in records its arguments and the JVM options it would start with, and
			// the log4j2 configuration those name, then prints and exits as Spark would.
			stand := fmt.Sprintf("#!/bin/bash\nprintf '%%s\\n' \"$@\" > %q\nprintf '%%s' \"$SPARK_SUBMIT_OPTS\" > %q\n", filepath.Join(home, "args"), filepath.Join(home, "opts"))
			for _, l := range tc.lines {
				stand += fmt.Sprintf("echo %q >&2\n", l)
			}
			stand += fmt.Sprintf("exit %d\n", tc.exit)
			if err := os.WriteFile(filepath.Join(home, "bin", "spark-submit"), []byte(stand), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(command[0], append(slices.Clone(command[1:]), args...)...)
			cmd.Env = append(os.Environ(), "SPARK_HOME="+home, "TMPDIR="+tmp, "SPARK_SUBMIT_OPTS=-Duser.timezone=UTC")
			out, err := cmd.CombinedOutput()
			got := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				got = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("the step exited %d, want %d; output:\n%s", got, tc.want, out)
			}
			for _, l := range tc.lines {
				if !strings.Contains(string(out), l) {
					t.Errorf("the step's log lacks spark-submit's line %q", l)
				}
			}
			rec, err := os.ReadFile(filepath.Join(home, "args"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Split(strings.TrimSuffix(string(rec), "\n"), "\n"); !slices.Equal(got, args) {
				t.Errorf("spark-submit got %q, want the step's args %q", got, args)
			}
			opts, err := os.ReadFile(filepath.Join(home, "opts"))
			if err != nil {
				t.Fatal(err)
			}
			conf, ok := strings.CutPrefix(string(opts), "-Duser.timezone=UTC -Dlog4j2.configurationFile=file:")
			if !ok {
				t.Fatalf("SPARK_SUBMIT_OPTS %q: want the options already set, then the script's log4j2 configuration", opts)
			}
			props, err := os.ReadFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			p := map[string]string{}
			for _, l := range strings.Split(string(props), "\n") {
				if k, v, ok := strings.Cut(l, "="); ok {
					p[strings.TrimSpace(k)] = strings.TrimSpace(v)
				}
			}
			if p["logger.client.name"] != "org.apache.spark.deploy.ClientEndpoint" || p["logger.client.level"] != "info" {
				t.Errorf("the log4j2 configuration does not keep ClientEndpoint at INFO:\n%s", props)
			}
		})
	}
}

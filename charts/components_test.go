package charts_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

type flagCase struct {
	name   string
	values map[string]any
	check  func(t *testing.T, objs []chartrender.Object)
}

type failCase struct {
	name   string
	values map[string]any
	want   string
}

func runFlagCases(t *testing.T, chart string, cases []flagCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := mustRender(t, defaultsRequest(chart, merge(requiredValues(chart), tc.values)))
			if err := strictCheck(objs); err != nil {
				t.Fatal(err)
			}
			tc.check(t, objs)
		})
	}
}

func runFailCases(t *testing.T, chart string, cases []failCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chartrender.Render(defaultsRequest(chart, merge(requiredValues(chart), tc.values)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func annotations(o chartrender.Object) map[string]string { return o.U.GetAnnotations() }

func TestMinioFlags(t *testing.T) {
	runFlagCases(t, "minio", []flagCase{
		{"standalone on emptyDir", map[string]any{"persistence": map[string]any{"enabled": false}}, func(t *testing.T, objs []chartrender.Object) {
			ss := find(t, objs, "StatefulSet", "minio")
			if field(t, ss, "spec", "volumeClaimTemplates") != nil {
				t.Error("PVC template rendered with persistence off")
			}
			args := fmt.Sprint(field(t, ss, "spec", "template", "spec", "containers", "0", "args"))
			if !strings.Contains(args, "/data") || strings.Contains(args, "{0...") {
				t.Errorf("args %s", args)
			}
		}},
		{"distributed with PVCs, TLS, PDB and spread", map[string]any{"mode": "distributed", "replicas": 4, "tls": map[string]any{"enabled": true, "existingSecret": "minio-tls"},
			"pdb": map[string]any{"enabled": true}, "topologySpread": map[string]any{"enabled": true}}, func(t *testing.T, objs []chartrender.Object) {
			ss := find(t, objs, "StatefulSet", "minio")
			args := fmt.Sprint(field(t, ss, "spec", "template", "spec", "containers", "0", "args"))
			if !strings.Contains(args, "https://minio-{0...3}.minio-headless.lakeport-test.svc.cluster.local/data") {
				t.Errorf("args %s", args)
			}
			if field(t, ss, "spec", "volumeClaimTemplates") == nil || !has(objs, "PodDisruptionBudget", "minio") {
				t.Errorf("got %s", keys(objs))
			}
			if field(t, ss, "spec", "template", "spec", "containers", "0", "readinessProbe", "httpGet", "scheme") != "HTTPS" {
				t.Error("probes must use HTTPS with TLS on")
			}
		}},
		{"root credentials only from the Secret", nil, func(t *testing.T, objs []chartrender.Object) {
			env := fmt.Sprint(field(t, find(t, objs, "StatefulSet", "minio"), "spec", "template", "spec", "containers", "0", "env"))
			if !strings.Contains(env, "secretKeyRef:map[key:rootUser name:minio-root]") {
				t.Errorf("env %s", env)
			}
		}},
		{"provisioning hook Job for Argo CD and Helm", map[string]any{"provisioning": map[string]any{
			"buckets":  []any{map[string]any{"name": "lake", "versioning": true}},
			"policies": []any{map[string]any{"name": "rw", "statements": []any{map[string]any{"Effect": "Allow", "Action": []any{"s3:*"}, "Resource": []any{"arn:aws:s3:::lake/*"}}}}},
			"users":    []any{map[string]any{"name": "trino", "existingSecret": "trino-s3", "policies": []any{"rw"}}},
		}}, func(t *testing.T, objs []chartrender.Object) {
			job := find(t, objs, "Job", "minio-provisioning")
			a := annotations(job)
			if a["argocd.argoproj.io/hook"] != "PostSync" || a["helm.sh/hook"] != "post-install,post-upgrade" || a["argocd.argoproj.io/hook-delete-policy"] != "BeforeHookCreation" {
				t.Errorf("hook annotations %v", a)
			}
			script := configData(t, objs, "minio-provisioning", "provision.sh")
			for _, want := range []string{"mc mb --ignore-existing lakeport/lake", "mc version enable lakeport/lake", "mc admin policy create lakeport rw", "mc admin user add lakeport \"$USER_0_ACCESS_KEY\""} {
				if !strings.Contains(script, want) {
					t.Errorf("script lacks %q", want)
				}
			}
			if strings.Contains(script, "hunter") || !strings.Contains(configData(t, objs, "minio-provisioning", "policy-rw.json"), "arn:aws:s3:::lake/*") {
				t.Error("policy file")
			}
			if field(t, job, "spec", "template", "spec", "containers", "0", "image") != "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z" {
				t.Error("mc image not from provisioning.image")
			}
		}},
		{"provisioning off", map[string]any{"provisioning": map[string]any{"enabled": false}}, func(t *testing.T, objs []chartrender.Object) {
			if count(objs, "Job") != 0 {
				t.Error("Job rendered")
			}
		}},
		{"metrics and network policy", map[string]any{"metrics": map[string]any{"public": true, "serviceMonitor": map[string]any{"enabled": true}, "grafanaDashboard": map[string]any{"enabled": true}}, "networkPolicy": map[string]any{"enabled": true}}, func(t *testing.T, objs []chartrender.Object) {
			if !has(objs, "ServiceMonitor", "minio") || !has(objs, "ConfigMap", "minio-dashboard") || count(objs, "NetworkPolicy") != 2 {
				t.Errorf("got %s", keys(objs))
			}
		}},
	})
}

func TestMinioFails(t *testing.T) {
	runFailCases(t, "minio", []failCase{
		{"no root secret", map[string]any{"rootCredentials": map[string]any{"existingSecret": ""}}, "rootCredentials.existingSecret"},
		{"standalone with 2 replicas", map[string]any{"replicas": 2}, "standalone mode runs exactly one pod"},
		{"distributed with 3 replicas", map[string]any{"mode": "distributed", "replicas": 3}, "at least 4 pods"},
		{"tls without secret", map[string]any{"tls": map[string]any{"enabled": true}}, "tls.existingSecret"},
		{"user with an undefined policy", map[string]any{"provisioning": map[string]any{"users": []any{map[string]any{"name": "u", "existingSecret": "s", "policies": []any{"nope"}}}}}, `unknown policy "nope"`},
	})
}

func TestSparkFlags(t *testing.T) {
	runFlagCases(t, "spark", []flagCase{
		{"FILESYSTEM recovery on a PVC", nil, func(t *testing.T, objs []chartrender.Object) {
			ss := find(t, objs, "StatefulSet", "spark-master")
			if field(t, ss, "spec", "volumeClaimTemplates", "0", "metadata", "name") != "recovery" {
				t.Error("no recovery PVC")
			}
			conf := configData(t, objs, "spark-conf", "spark-defaults.conf")
			if !strings.Contains(conf, "spark.deploy.recoveryMode                     FILESYSTEM") {
				t.Errorf("conf:\n%s", conf)
			}
		}},
		{"FILESYSTEM recovery on an emptyDir", map[string]any{"recovery": map[string]any{"filesystem": map[string]any{"persistence": map[string]any{"enabled": false}}}}, func(t *testing.T, objs []chartrender.Object) {
			ss := find(t, objs, "StatefulSet", "spark-master")
			if field(t, ss, "spec", "volumeClaimTemplates") != nil || !strings.Contains(fmt.Sprint(field(t, ss, "spec", "template", "spec", "volumes")), "name:recovery") {
				t.Error("want an emptyDir recovery volume and no PVC")
			}
		}},
		{"ZOOKEEPER recovery with two masters", map[string]any{"master": map[string]any{"replicas": 2, "pdb": map[string]any{"enabled": true}}, "recovery": map[string]any{"mode": "ZOOKEEPER", "zookeeper": map[string]any{"url": "zk:2181"}}}, func(t *testing.T, objs []chartrender.Object) {
			conf := configData(t, objs, "spark-conf", "spark-defaults.conf")
			if !strings.Contains(conf, "spark.deploy.zookeeper.url                    zk:2181") ||
				!strings.Contains(conf, "spark://spark-master-0.spark-master-headless.lakeport-test.svc.cluster.local:7077,spark-master-1.") {
				t.Errorf("conf:\n%s", conf)
			}
			if !has(objs, "PodDisruptionBudget", "spark-master") {
				t.Error("no master PDB")
			}
			if _, single := annotations(find(t, objs, "StatefulSet", "spark-master"))["lakeport.dev/singleton"]; single {
				t.Error("two masters are not a singleton")
			}
		}},
		{"worker cores and memory", map[string]any{"worker": map[string]any{"cores": 3, "resources": map[string]any{"limits": map[string]any{"memory": "10Gi"}}}}, func(t *testing.T, objs []chartrender.Object) {
			args := fmt.Sprint(field(t, find(t, objs, "StatefulSet", "spark-worker"), "spec", "template", "spec", "containers", "0", "args"))
			// 10Gi * 90% - 1g daemon = 8192m for executors
			if !strings.Contains(args, "--cores 3") || !strings.Contains(args, "--memory 8192m") {
				t.Errorf("args %s", args)
			}
		}},
		{"event logs on S3 and history server", map[string]any{"historyServer": map[string]any{"enabled": true}, "eventLog": map[string]any{"dir": "s3a://spark-events/logs", "s3aJarsOnClasspath": true}}, func(t *testing.T, objs []chartrender.Object) {
			conf := configData(t, objs, "spark-conf", "spark-defaults.conf")
			for _, want := range []string{"spark.eventLog.enabled                        true", "spark.history.fs.logDirectory                 s3a://spark-events/logs", "spark.hadoop.fs.s3a.path.style.access         true"} {
				if !strings.Contains(conf, want) {
					t.Errorf("conf lacks %q", want)
				}
			}
			if !has(objs, "Deployment", "spark-history") || !has(objs, "Service", "spark-history") {
				t.Errorf("got %s", keys(objs))
			}
		}},
		{"PrometheusServlet and PodMonitors", map[string]any{"metrics": map[string]any{"podMonitor": map[string]any{"enabled": true}, "grafanaDashboard": map[string]any{"enabled": true}}}, func(t *testing.T, objs []chartrender.Object) {
			m := configData(t, objs, "spark-conf", "metrics.properties")
			if !strings.Contains(m, "org.apache.spark.metrics.sink.PrometheusServlet") {
				t.Errorf("metrics.properties:\n%s", m)
			}
			if count(objs, "PodMonitor") != 2 || !has(objs, "ConfigMap", "spark-dashboard") {
				t.Errorf("got %s", keys(objs))
			}
		}},
		{"network policies", map[string]any{"networkPolicy": map[string]any{"enabled": true}, "historyServer": map[string]any{"enabled": true}}, func(t *testing.T, objs []chartrender.Object) {
			if count(objs, "NetworkPolicy") != 3 {
				t.Errorf("got %s", keys(objs))
			}
		}},
	})
}

func TestSparkFails(t *testing.T) {
	runFailCases(t, "spark", []failCase{
		{"two masters without ZooKeeper", map[string]any{"master": map[string]any{"replicas": 2}}, "needs recovery.mode=ZOOKEEPER"},
		{"ZooKeeper without url", map[string]any{"recovery": map[string]any{"mode": "ZOOKEEPER"}}, "recovery.zookeeper.url"},
		{"http S3 where TLS is required", map[string]any{"eventLog": map[string]any{"dir": "s3a://b/logs", "s3aJarsOnClasspath": true, "s3": map[string]any{"requireTLS": true}}}, "use an https:// endpoint"},
		{"history server without event logs", map[string]any{"eventLog": map[string]any{"enabled": false}, "historyServer": map[string]any{"enabled": true}}, "enable eventLog too"},
		{"worker memory too small", map[string]any{"worker": map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "1Gi"}}}}, "at least 512MiB are needed"},
		{"credential in sparkConf", map[string]any{"sparkConf": map[string]any{"spark.hadoop.fs.s3a.secret.key": "x"}}, "credentials must come from a Secret"},
	})
}

func TestDistributionFlags(t *testing.T) {
	runFlagCases(t, "distribution", []flagCase{
		{"a CronJob per dataset", nil, func(t *testing.T, objs []chartrender.Object) {
			for _, ds := range []string{"var_es", "frtb_sensitivities", "drc"} {
				cj := find(t, objs, "CronJob", "distribution-"+strings.ReplaceAll(ds, "_", "-"))
				spec := cj.U.Object["spec"].(map[string]any)
				if spec["concurrencyPolicy"] != "Forbid" || spec["startingDeadlineSeconds"] == nil || spec["successfulJobsHistoryLimit"] == nil || spec["failedJobsHistoryLimit"] == nil {
					t.Errorf("%s: %v", ds, spec)
				}
				job := field(t, cj, "spec", "jobTemplate", "spec").(map[string]any)
				if job["backoffLimit"] == nil || job["activeDeadlineSeconds"] == nil {
					t.Errorf("%s job: %v", ds, job)
				}
				if fmt.Sprint(field(t, cj, "spec", "jobTemplate", "spec", "podFailurePolicy", "rules", "0", "onExitCodes", "values")) != "[2 3]" {
					t.Errorf("%s: exits 2 (usage) and 3 (contract violation) must fail the Job without retries", ds)
				}
				args := fmt.Sprint(field(t, cj, "spec", "jobTemplate", "spec", "template", "spec", "containers", "0", "args"))
				if args != "[publish --config=/etc/distribution/config.yaml --dataset="+ds+" --cob-date=previous-business-day]" {
					t.Errorf("args %s", args)
				}
			}
		}},
		{"sharded dataset: an Indexed Job, one run id for its pods", map[string]any{"datasets": []any{map[string]any{"name": "frtb_sensitivities", "shards": 4}, map[string]any{"name": "drc"}}}, func(t *testing.T, objs []chartrender.Object) {
			cj := find(t, objs, "CronJob", "distribution-frtb-sensitivities")
			job := field(t, cj, "spec", "jobTemplate", "spec")
			if fmt.Sprint(field(t, cj, "spec", "jobTemplate", "spec", "completionMode")) != "Indexed" || fmt.Sprint(field(t, cj, "spec", "jobTemplate", "spec", "completions")) != "4" ||
				fmt.Sprint(field(t, cj, "spec", "jobTemplate", "spec", "parallelism")) != "4" {
				t.Errorf("job spec %v", job)
			}
			c := fmt.Sprint(field(t, cj, "spec", "jobTemplate", "spec", "template", "spec", "containers", "0"))
			for _, want := range []string{"--shards=4", "--run-id=$(LAKEPORT_JOB_NAME)", "metadata.labels['batch.kubernetes.io/job-name']"} {
				if !strings.Contains(c, want) {
					t.Errorf("container has no %s: %s", want, c)
				}
			}
			if drc := fmt.Sprint(field(t, find(t, objs, "CronJob", "distribution-drc"), "spec", "jobTemplate", "spec")); strings.Contains(drc, "Indexed") || strings.Contains(drc, "--shards") {
				t.Errorf("drc is not sharded: %s", drc)
			}
		}},
		{"maintenance off", map[string]any{"maintenance": map[string]any{"enabled": false}}, func(t *testing.T, objs []chartrender.Object) {
			if count(objs, "CronJob") != 3 {
				t.Errorf("got %s", keys(objs))
			}
		}},
		{"per-dataset overrides", map[string]any{"datasets": []any{map[string]any{"name": "drc", "schedule": "0 4 * * *", "suspend": true, "activeDeadlineSeconds": 60}}}, func(t *testing.T, objs []chartrender.Object) {
			cj := find(t, objs, "CronJob", "distribution-drc")
			if field(t, cj, "spec", "schedule") != "0 4 * * *" || field(t, cj, "spec", "suspend") != true || fmt.Sprint(field(t, cj, "spec", "jobTemplate", "spec", "activeDeadlineSeconds")) != "60" {
				t.Errorf("spec %v", cj.U.Object["spec"])
			}
			if count(objs, "CronJob") != 2 {
				t.Errorf("datasets replaced, want one publish CronJob and the maintenance CronJob: %s", keys(objs))
			}
			if args := fmt.Sprint(field(t, find(t, objs, "CronJob", "distribution-maintain"), "spec", "jobTemplate", "spec", "template", "spec", "containers", "0", "args")); args != "[maintain --config=/etc/distribution/config.yaml --dataset=drc --optimize-days=7]" {
				t.Errorf("maintenance args %s: want the datasets of the release", args)
			}
		}},
		{"config from values, secrets from Secrets", map[string]any{"secretEnv": []any{map[string]any{"name": "RISK_DB_PASSWORD", "secretName": "risk-db", "key": "password"}}}, func(t *testing.T, objs []chartrender.Object) {
			cfg := configData(t, objs, "distribution-config", "config.yaml")
			if !strings.Contains(cfg, "dsn: postgres://risk:${RISK_DB_PASSWORD}@postgres:5432/risk") || !strings.Contains(cfg, "workDir: /work") {
				t.Errorf("config.yaml:\n%s", cfg)
			}
			env := fmt.Sprint(field(t, find(t, objs, "CronJob", "distribution-var-es"), "spec", "jobTemplate", "spec", "template", "spec", "containers", "0", "env"))
			if !strings.Contains(env, "secretKeyRef:map[key:password name:risk-db]") {
				t.Errorf("env %s", env)
			}
		}},
		{"CronWorkflow instead of CronJobs", map[string]any{"cronJobs": map[string]any{"enabled": false}, "workflow": map[string]any{"enabled": true}}, func(t *testing.T, objs []chartrender.Object) {
			wf := find(t, objs, "CronWorkflow", "distribution-nightly")
			// No CronJob at all: maintenance is the pipeline's last step (the one owner, once).
			if field(t, wf, "spec", "concurrencyPolicy") != "Forbid" || count(objs, "CronJob") != 0 {
				t.Errorf("got %s", keys(objs))
			}
			if field(t, wf, "spec", "workflowSpec", "workflowTemplateRef", "name") != "distribution-pipeline" {
				t.Errorf("the CronWorkflow runs %v, want the pipeline's WorkflowTemplate", field(t, wf, "spec", "workflowSpec"))
			}
			tmpl := find(t, objs, "WorkflowTemplate", "distribution-pipeline")
			tasks := fmt.Sprint(field(t, tmpl, "spec", "templates", "0", "dag", "tasks"))
			for _, task := range []string{"calendar", "migrate", "wait-var-es", "publish-var-es", "publish-frtb-sensitivities", "publish-drc", "verify", "maintain"} {
				if !strings.Contains(tasks, "name:"+task+" ") {
					t.Errorf("no task %s in %s", task, tasks)
				}
			}
			if strings.Contains(tasks, "name:spark ") {
				t.Error("a spark task without workflow.spark.enabled")
			}
			if !strings.Contains(fmt.Sprint(tmpl.U.Object), "--dataset={{inputs.parameters.dataset}}") {
				t.Error("Argo parameter not passed through Helm")
			}
		}},
		{"sharded pipeline", map[string]any{"shards": 2, "cronJobs": map[string]any{"enabled": false}, "workflow": map[string]any{"enabled": true, "parallelism": 4}}, func(t *testing.T, objs []chartrender.Object) {
			tmpl := find(t, objs, "WorkflowTemplate", "distribution-pipeline")
			tasks := fmt.Sprint(field(t, tmpl, "spec", "templates", "0", "dag", "tasks"))
			if !strings.Contains(tasks, "template:publish-shard withSequence:map[count:2]") {
				t.Errorf("publications do not fan out into 2 workers: %s", tasks)
			}
		}},
		{"CronWorkflow only where the API exists", map[string]any{"cronJobs": map[string]any{"enabled": false}, "workflow": map[string]any{"enabled": true}}, func(t *testing.T, _ []chartrender.Object) {
			req := defaultsRequest("distribution", map[string]any{"cronJobs": map[string]any{"enabled": false}, "workflow": map[string]any{"enabled": true}})
			req.APIVersions = nil
			if objs := mustRender(t, req); count(objs, "CronWorkflow") != 0 {
				t.Error("CronWorkflow rendered without argoproj.io/v1alpha1")
			}
		}},
		{"network policy denies ingress", map[string]any{"networkPolicy": map[string]any{"enabled": true}}, func(t *testing.T, objs []chartrender.Object) {
			np := find(t, objs, "NetworkPolicy", "distribution")
			if fmt.Sprint(field(t, np, "spec", "ingress")) != "[]" {
				t.Errorf("ingress %v", field(t, np, "spec", "ingress"))
			}
		}},
	})
}

func TestDistributionFails(t *testing.T) {
	runFailCases(t, "distribution", []failCase{
		{"both schedulers", map[string]any{"workflow": map[string]any{"enabled": true}}, "choose one scheduler"},
		{"password in the DSN", map[string]any{"config": map[string]any{"database": map[string]any{"dsn": "postgres://risk:hunter2@db/risk"}}}, "config.database.dsn: the password in the URL must be an environment reference"},
		{"password in the Trino URL", map[string]any{"config": map[string]any{"trino": map[string]any{"url": "https://u:pw@trino:8443"}}}, "config.trino.url"},
		{"credential in catalog properties", map[string]any{"config": map[string]any{"iceberg": map[string]any{"catalog": map[string]any{"properties": map[string]any{"credential": "id:secret"}}}}}, "config.iceberg.catalog.properties.credential"},
		{"dataset twice", map[string]any{"datasets": []any{map[string]any{"name": "drc"}, map[string]any{"name": "drc"}}}, "drc is listed twice"},
		// Expiry and orphan removal through Trino ran beside the publications and ignored the tags.
		{"snapshot expiry through Trino", map[string]any{"config": map[string]any{"trino": map[string]any{"maintenance": map[string]any{"expireSnapshotsRetention": "7d"}}}}, "expireSnapshotsRetention"},
		{"sharded pipeline beyond its parallelism", map[string]any{"shards": 4, "cronJobs": map[string]any{"enabled": false}, "workflow": map[string]any{"enabled": true}}, "workflow.parallelism 3 < 10: the sharded publications (var_es:4, frtb_sensitivities:4, drc:4)"},
		// Three coordinators could hold the three slots, each waiting for a worker that cannot start.
		{"sharded datasets that can hold every slot", map[string]any{"shards": 2, "cronJobs": map[string]any{"enabled": false}, "workflow": map[string]any{"enabled": true}}, "workflow.parallelism 3 < 4"},
		{"Spark without a master", map[string]any{"cronJobs": map[string]any{"enabled": false}, "workflow": map[string]any{"enabled": true, "spark": map[string]any{"enabled": true, "mainClass": "a.B", "application": "local:///a.jar"}}}, "workflow.spark.master: required"},
		{"Spark told not to wait", map[string]any{"cronJobs": map[string]any{"enabled": false}, "workflow": map[string]any{"enabled": true, "spark": map[string]any{"enabled": true, "master": "spark://m:7077", "mainClass": "a.B", "application": "local:///a.jar", "conf": map[string]any{"spark.standalone.submit.waitAppCompletion": false}}}}, "waitAppCompletion: set by the chart"},
		{"sharded Oracle load", map[string]any{"datasets": []any{map[string]any{"name": "drc", "shards": 2}}, "config": map[string]any{"database": map[string]any{"driver": "oracle", "dsn": "oracle://u:${P}@db:1521/s"}}}, "PostgreSQL only"},
		{"tag retention in years", map[string]any{"config": map[string]any{"maintenance": map[string]any{"tagRetention": "10y"}}}, "tagRetention"},
	})
}

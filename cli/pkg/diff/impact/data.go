package impact

import (
	"bufio"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// dataAtRisk adds the impacts that can lose or orphan data: volumes and CRDs on the Kubernetes
// side, and where this platform's data lives (the Iceberg warehouse and catalog of Trino's
// catalog file and of the distribution job's config, snapshot and tag retention).
func (c *change) dataAtRisk() {
	switch c.group + "/" + c.kind {
	case "/PersistentVolumeClaim":
		if c.removed() {
			c.add(DataAtRisk, "the claim is pruned: its volume is deleted with it when its reclaim policy is Delete (the default of dynamic provisioning)")
		} else if c.changed() {
			if shrunk, from, to := storageShrunk(c.b, c.h, "spec"); shrunk {
				c.add(DataAtRisk, fmt.Sprintf("storage request shrunk (%s → %s): a volume cannot shrink, only be recreated empty", from, to), "spec.resources.requests.storage")
			}
		}
	case "apps/StatefulSet":
		c.statefulSetClaims()
	case "apiextensions.k8s.io/CustomResourceDefinition":
		if c.removed() {
			kind := getString(c.b, "spec", "names", "kind")
			c.add(DataAtRisk, fmt.Sprintf("the CRD is pruned: every %s object in the cluster is deleted with it", kind))
		}
	case "/Namespace":
		if c.removed() {
			c.add(DataAtRisk, "the namespace is pruned: everything in it is deleted, its volumes' claims included")
		}
	case "/ConfigMap":
		if c.changed() {
			c.lakehouseConfig()
		}
	case "batch/CronJob":
		if c.changed() {
			c.maintenanceRetention()
		}
	}
}

func (c *change) statefulSetClaims() {
	names := func(obj map[string]any) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, t := range getList(obj, "spec", "volumeClaimTemplates") {
			tm, _ := t.(map[string]any)
			out[getString(tm, "metadata", "name")] = tm
		}
		return out
	}
	bn, hn := names(c.b), names(c.h)
	if c.removed() {
		if len(bn) > 0 && getString(c.b, "spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted") == "Delete" {
			c.add(DataAtRisk, "the StatefulSet is pruned and its claims' retention policy whenDeleted is Delete: its volumes are deleted")
		}
		return
	}
	if !c.changed() {
		return
	}
	var gone []string
	for n, bt := range bn {
		ht, ok := hn[n]
		if !ok {
			gone = append(gone, n)
			continue
		}
		if shrunk, from, to := storageShrunk(bt, ht, "spec"); shrunk {
			c.add(DataAtRisk, fmt.Sprintf("claim template %s: storage request shrunk (%s → %s): existing volumes cannot shrink, new ones are smaller", n, from, to), "spec.volumeClaimTemplates")
		}
	}
	if len(gone) > 0 {
		sort.Strings(gone)
		c.add(DataAtRisk, "claim templates removed or renamed ("+strings.Join(gone, ", ")+"): the pods no longer mount the existing volumes, which stay orphaned, and new ones start empty", "spec.volumeClaimTemplates")
	}
	for _, s := range []string{"whenDeleted", "whenScaled"} {
		b := getString(c.b, "spec", "persistentVolumeClaimRetentionPolicy", s)
		h := getString(c.h, "spec", "persistentVolumeClaimRetentionPolicy", s)
		if h == "Delete" && b != "Delete" {
			c.add(DataAtRisk, fmt.Sprintf("claims' retention policy %s becomes Delete: volumes are deleted when the StatefulSet is %s", s, map[string]string{"whenDeleted": "deleted", "whenScaled": "scaled down"}[s]), "spec.persistentVolumeClaimRetentionPolicy."+s)
		}
	}
}

// lakehouseKeys are the Trino Iceberg catalog properties that say where the tables live
// (trinodb/trino docs/src/main/sphinx/object-storage/metastores.md and
// object-storage/file-system-s3.md, as charts/trino/templates/_catalog.tpl writes them).
var lakehouseKeys = []string{
	"iceberg.catalog.type",
	"iceberg.rest-catalog.uri", "iceberg.rest-catalog.warehouse",
	"iceberg.jdbc-catalog.connection-url", "iceberg.jdbc-catalog.catalog-name", "iceberg.jdbc-catalog.default-warehouse-dir",
	"hive.metastore.uri", "s3.endpoint",
}

// distributionKeys are the keys of the distribution job's config file (jobs/internal/config, as
// charts/distribution/templates/configmap.yaml writes config.yaml) that say where it reads and
// publishes data.
var distributionKeys = [][]string{
	{"input", "uri"},
	{"iceberg", "catalog", "type"}, {"iceberg", "catalog", "name"}, {"iceberg", "catalog", "uri"},
	{"iceberg", "warehouse"}, {"iceberg", "namespace"},
	{"database", "driver"}, {"database", "dsn"},
	{"trino", "catalog"}, {"trino", "schema"},
}

// distributionRetention are its retention settings: a shorter one expires data sooner.
var distributionRetention = [][]string{
	{"maintenance", "tagRetention"}, {"maintenance", "expireSnapshotsOlderThan"}, {"maintenance", "removeOrphanFilesOlderThan"},
}

// lakehouseConfig compares the files of a ConfigMap that locate the lakehouse's data.
func (c *change) lakehouseConfig() {
	bd, hd := getMap(c.b, "data"), getMap(c.h, "data")
	keys := make([]string, 0, len(hd))
	for k := range hd {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, file := range keys {
		hs, _ := hd[file].(string)
		bs, ok := bd[file].(string)
		if !ok || bs == hs {
			continue
		}
		fp := path{"data", file}.String()
		switch {
		case strings.HasSuffix(file, ".properties") && strings.Contains(hs, "connector.name=iceberg"):
			bp, hp := properties(bs), properties(hs)
			var changed []string
			for _, k := range lakehouseKeys {
				if bp[k] != hp[k] {
					changed = append(changed, k)
				}
			}
			if len(changed) > 0 {
				c.add(DataAtRisk, fmt.Sprintf("Trino catalog %s points at another Iceberg catalog or warehouse (%s): its tables are read from, and written to, elsewhere",
					strings.TrimSuffix(file, ".properties"), strings.Join(changed, ", ")), fp)
			}
		case strings.HasSuffix(file, ".yaml") || strings.HasSuffix(file, ".yml"):
			var bc, hc map[string]any
			if yaml.Unmarshal([]byte(bs), &bc) != nil || yaml.Unmarshal([]byte(hs), &hc) != nil {
				continue
			}
			if getMap(hc, "iceberg") == nil && getMap(bc, "iceberg") == nil {
				continue
			}
			var changed []string
			for _, k := range distributionKeys {
				if getString(bc, k...) != getString(hc, k...) {
					changed = append(changed, strings.Join(k, "."))
				}
			}
			if len(changed) > 0 {
				c.add(DataAtRisk, fmt.Sprintf("%s: the job reads or publishes elsewhere (%s): tables and rows already published stay behind", file, strings.Join(changed, ", ")), fp)
			}
			for _, k := range distributionRetention {
				from, to := getString(bc, k...), getString(hc, k...)
				if shorter(from, to) {
					c.add(DataAtRisk, fmt.Sprintf("%s: %s shortened (%s → %s): snapshots and files are expired sooner", file, strings.Join(k, "."), orNone(from), orNone(to)), fp)
				}
			}
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

// properties reads a Java properties file's key=value lines (enough for the catalog files the
// chart writes: no continuation lines).
func properties(s string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == '!' {
			continue
		}
		if i := strings.IndexAny(l, "=:"); i > 0 {
			out[strings.TrimSpace(l[:i])] = strings.TrimSpace(l[i+1:])
		}
	}
	return out
}

// maintenanceSQL matches the Iceberg maintenance statements of charts/trino's maintenance
// CronJobs (trinodb/trino docs/src/main/sphinx/connector/iceberg.md: expire_snapshots and
// remove_orphan_files take a retention_threshold).
var maintenanceSQL = regexp.MustCompile(`ALTER TABLE (\S+) EXECUTE (expire_snapshots|remove_orphan_files)\(retention_threshold => '([^']*)'\)`)

func (c *change) maintenanceRetention() {
	collect := func(obj map[string]any) map[string]string {
		out := map[string]string{}
		tmpl := getMap(obj, "spec", "jobTemplate", "spec", "template", "spec")
		for _, ci := range getList(tmpl, "containers") {
			cm, _ := ci.(map[string]any)
			var args []any
			args = append(args, getList(cm, "command")...)
			args = append(args, getList(cm, "args")...)
			for _, a := range args {
				s, _ := a.(string)
				for _, m := range maintenanceSQL.FindAllStringSubmatch(s, -1) {
					out[m[1]+" "+m[2]] = m[3]
				}
			}
		}
		return out
	}
	bm, hm := collect(c.b), collect(c.h)
	keys := make([]string, 0, len(hm))
	for k := range hm {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		from, ok := bm[k]
		if !ok {
			from = "forever"
		}
		if shorter(from, hm[k]) {
			table, proc, _ := strings.Cut(k, " ")
			c.add(DataAtRisk, fmt.Sprintf("%s of %s: retention_threshold shortened (%s → %s): older snapshots and files are deleted", proc, table, from, hm[k]),
				c.under("spec", "jobTemplate", "spec", "template", "spec", "containers")...)
		}
	}
}

// shorter says whether retention to is shorter than from. "forever", "off" and an empty value
// keep data indefinitely; an unparsable value is not judged.
func shorter(from, to string) bool {
	f, ok1 := retention(from)
	t, ok2 := retention(to)
	return ok1 && ok2 && t < f
}

// retention reads a duration such as 7d, 168h, 30m, 1.5d, 3653d (Trino and the distribution job
// spell them so) in seconds; "forever", "off" and "" are infinite.
func retention(s string) (float64, bool) {
	s = strings.TrimSpace(strings.ToLower(s))
	switch s {
	case "", "forever", "off", "never", "none":
		return math.Inf(1), true
	}
	units := []struct {
		suffix string
		secs   float64
	}{{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 7 * 86400}}
	for i := len(units) - 1; i >= 0; i-- {
		u := units[i]
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			if u.suffix == "s" && strings.HasSuffix(num, "m") { // "ms"
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil {
				continue
			}
			return v * u.secs, true
		}
	}
	return 0, false
}

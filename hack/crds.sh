#!/usr/bin/env bash
# crds.sh: copies the CustomResourceDefinitions the charts render into cli/pkg/crds/, from the
# Go modules that ship them (the module zips hold the upstream YAML), so that the CLI can
# validate offline and the chart tests can install them into a real kube-apiserver.
#
#   ServiceMonitor, PodMonitor        github.com/prometheus-operator/prometheus-operator
#                                     example/prometheus-operator-crd/
#   CronWorkflow, WorkflowTemplate    github.com/argoproj/argo-workflows/v3 (ARGO_WORKFLOWS_VERSION in
#                                     lib.sh: the controller the tests run; v4.0.5 has reported
#                                     security flaws) manifests/base/crds/full/
#
# Descriptions are stripped (cli/pkg/crds/strip.go): the full Argo Workflows CRDs are ~2.5 MB
# each, more than etcd accepts in one object, and validation does not need the prose.
# Re-run after changing a version below; commit the result.

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROMETHEUS_OPERATOR_VERSION=v0.85.0

OUT=${LAKEPORT_ROOT}/cli/pkg/crds
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# module_dir MODULE@VERSION: download (or reuse) the module and print its folder. Runs outside
# the repository's module so that go.mod and go.sum are never touched.
module_dir() {
	(cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "$1") |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

copy() { # copy SRC NAME: strip descriptions from SRC into $OUT/NAME
	[[ -f $1 ]] || lp_die "missing CRD file $1"
	(cd "$LAKEPORT_ROOT" && go run ./cli/pkg/crds/strip.go "$1" "$OUT/$2" "${1#*/pkg/mod/}")
	lp_log "wrote cli/pkg/crds/$2 ($(wc -c <"$OUT/$2") bytes)"
}

po=$(module_dir "github.com/prometheus-operator/prometheus-operator@${PROMETHEUS_OPERATOR_VERSION}")
[[ -n $po ]] || lp_die "cannot download prometheus-operator ${PROMETHEUS_OPERATOR_VERSION}"
aw=$(module_dir "github.com/argoproj/argo-workflows/v3@${ARGO_WORKFLOWS_VERSION}")
[[ -n $aw ]] || lp_die "cannot download argo-workflows ${ARGO_WORKFLOWS_VERSION}"

copy "$po/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" monitoring.coreos.com_servicemonitors.yaml
copy "$po/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml" monitoring.coreos.com_podmonitors.yaml
copy "$po/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" monitoring.coreos.com_prometheusrules.yaml
copy "$aw/manifests/base/crds/full/argoproj.io_cronworkflows.yaml" argoproj.io_cronworkflows.yaml
copy "$aw/manifests/base/crds/full/argoproj.io_workflowtemplates.yaml" argoproj.io_workflowtemplates.yaml

cat >"$OUT/VERSIONS" <<VERSIONS
# Written by hack/crds.sh: the modules the CRDs in this folder come from.
github.com/prometheus-operator/prometheus-operator ${PROMETHEUS_OPERATOR_VERSION}
github.com/argoproj/argo-workflows/v3 ${ARGO_WORKFLOWS_VERSION}
VERSIONS

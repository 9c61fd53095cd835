# shellcheck shell=bash
# lib.sh: shared settings for the hack/ scripts. Source it; do not run it.
#
# It holds the ONE list of tool versions, the cache layout and small helpers.
# Everything built here lives outside the clone, under $LAKEPORT_CACHE, so that
# every clone and worktree on a machine shares one set of binaries; the clone
# only gets symlinks in .tools/bin (git-ignored).

set -euo pipefail

# --- versions (change them here and nowhere else) -----------------------------
LAKEPORT_GO_TOOLCHAIN=go1.27.3
HELM_VERSION=v3.22.0
KUBE_VERSION=v1.37.2 # kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0
ARGOCD_VERSION=v3.6.1
ARGOCD_V2_VERSION=v2.14.21 # the oldest servers the CLI supports: only their CRDs are used (source, no build)
VERSITYGW_VERSION=v1.8.0
CONFTEST_VERSION=v0.71.1
DYFF_VERSION=v1.12.0
ARGO_WORKFLOWS_VERSION=v3.7.6 # workflow-controller (v4.0.5 has reported security flaws)
ACTIONLINT_VERSION=v1.7.12      # lints the kit's GitHub workflows (make test)
CYCLONEDX_GOMOD_VERSION=v1.10.0 # the release's SBOMs (make release; make test checks one)
PROMETHEUS_VERSION=v0.316.0 # Prometheus 3.16.0 and its promtool (Go module tags v0.3xx.y = v3.xx.y)
PUSHGATEWAY_VERSION=v1.11.5

# The project builds with Go 1.27; a stock go >= 1.21 fetches this toolchain
# from the module proxy once per machine.
export GOTOOLCHAIN=${LAKEPORT_GO_TOOLCHAIN}

# --- layout ---------------------------------------------------------------------
LAKEPORT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAKEPORT_CACHE=${LAKEPORT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lakeport}
# Where the symlinks go; hack/testenv reads the same variable.
LAKEPORT_TOOLS=${LAKEPORT_TOOLS:-${LAKEPORT_ROOT}/.tools/bin}

# Every tool this kit knows, in the order `ensure.sh all` builds them
# (cheapest and most wanted first).
LAKEPORT_ALL_TOOLS=(helm etcd kube-apiserver versitygw conftest dyff kwok
	kube-controller-manager kube-scheduler kubectl argocd argocd-v2-crds workflow-controller
	actionlint cyclonedx-gomod prometheus pushgateway)

# lp_log MSG...: progress goes to stderr so stdout stays clean for callers.
lp_log() { printf 'lakeport: %s\n' "$*" >&2; }

# lp_die MSG...: log and exit non-zero.
lp_die() {
	lp_log "error: $*"
	exit 1
}

# lp_version NAME: the pinned version of a tool.
lp_version() {
	case $1 in
	helm) echo "$HELM_VERSION" ;;
	etcd) echo "$ETCD_VERSION" ;;
	kube-apiserver | kube-controller-manager | kube-scheduler | kubectl) echo "$KUBE_VERSION" ;;
	kwok) echo "$KWOK_VERSION" ;;
	argocd) echo "$ARGOCD_VERSION" ;;
	argocd-v2-crds) echo "$ARGOCD_V2_VERSION" ;;
	versitygw) echo "$VERSITYGW_VERSION" ;;
	conftest) echo "$CONFTEST_VERSION" ;;
	dyff) echo "$DYFF_VERSION" ;;
	workflow-controller) echo "$ARGO_WORKFLOWS_VERSION" ;;
	actionlint) echo "$ACTIONLINT_VERSION" ;;
	cyclonedx-gomod) echo "$CYCLONEDX_GOMOD_VERSION" ;;
	prometheus) echo "$PROMETHEUS_VERSION" ;;
	pushgateway) echo "$PUSHGATEWAY_VERSION" ;;
	*) return 1 ;;
	esac
}

# lp_recipe NAME: a suffix naming how a tool is built, when that is more than its version (a
# cached binary built another way is then not reused). Argo CD, Helm and conftest are built from
# lakeport's go.mod (ensure.sh lakeport_wrapper): a new go.mod builds them again, so the packages
# they share with lakeport's tests stay shared.
lp_recipe() {
	case $1 in
	argocd | helm | conftest) echo "-lakeportdeps-$(sha256sum "${LAKEPORT_ROOT}/go.mod" | cut -c1-12)" ;;
	esac
}

# lp_tool_dir NAME: the cache folder holding one tool version.
lp_tool_dir() { echo "${LAKEPORT_CACHE}/tools/$1-$(lp_version "$1")$(lp_recipe "$1")"; }

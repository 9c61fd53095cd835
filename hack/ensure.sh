#!/usr/bin/env bash
# ensure.sh NAME... | all
#
# Makes sure each named tool is built and linked into .tools/bin (or
# $LAKEPORT_TOOLS). A tool is built once per machine from the Go module proxy
# into $LAKEPORT_CACHE/tools/<name>-<version>/<name>; later runs only refresh
# the symlink, so a fully cached `ensure.sh all` takes well under a second.
#
# Builds are atomic (temp file, then rename) and serialised per tool with
# flock, so an interrupted or concurrent run never leaves a broken binary.
# Progress goes to stderr. See hack/README.md for the layout and timings.
#
# Environment: LAKEPORT_CACHE, LAKEPORT_TOOLS (see lib.sh), LAKEPORT_NICE
# (niceness of the compilers, default 10).

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LP_NICE=${LAKEPORT_NICE:-10}

# Temp folders to remove however we exit, and the tool being built.
LP_TMPS=()
LP_BUILDING=
lp_cleanup() {
	local rc=$? d
	for d in "${LP_TMPS[@]}"; do rm -rf "$d"; done
	if [[ $rc -ne 0 && -n $LP_BUILDING ]]; then
		lp_log "error: building $LP_BUILDING failed (exit $rc); nothing was cached, rerun to retry"
	fi
}
trap lp_cleanup EXIT

usage() {
	cat >&2 <<EOF
usage: hack/ensure.sh NAME... | all
tools: ${LAKEPORT_ALL_TOOLS[*]}
cache: ${LAKEPORT_CACHE}
links: ${LAKEPORT_TOOLS}
EOF
	exit 2
}

# lp_nice CMD...: run a compiler-heavy command at low priority; the machines
# this runs on are small and shared.
lp_nice() { nice -n "$LP_NICE" "$@"; }

# lp_moddir MODULE@VERSION: the extracted folder of a module in GOMODCACHE.
# Run outside any module so that the caller's go.mod and go.sum are never touched.
lp_moddir() {
	(cd "$LAKEPORT_CACHE" && go mod download -json "$1") | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p'
}

# lp_gomodfile MODULE@VERSION: the go.mod file of a module version.
lp_gomodfile() {
	(cd "$LAKEPORT_CACHE" && go mod download -json "$1") | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p'
}

# lp_go_install OUT PKG@VERSION [LDFLAGS]: `go install` a module that has no
# replace directives, leaving the binary at OUT.
lp_go_install() {
	local out=$1 pkg=$2 ldflags=${3:-} gobin base
	gobin=$(dirname "$out")
	base=${pkg%@*}
	base=${base##*/}
	(cd "$gobin" && GOBIN=$gobin lp_nice go install -trimpath -ldflags "-s -w ${ldflags}" "$pkg")
	if [[ $base != "$(basename "$out")" ]]; then mv -f "$gobin/$base" "$out"; fi
}

# lp_wrapper DIR GOMOD IMPORT...: prepare (once) a wrapper module in DIR whose
# go.mod starts as GOMOD and whose tools.go (build tag `tools`) blank-imports
# the given main packages, then `go mod tidy` it. Needed for modules with
# replace directives, which `go install pkg@version` refuses.
lp_wrapper() {
	local dir=$1 gomod=$2 fd imp
	shift 2
	mkdir -p "$(dirname "$dir")"
	exec {fd}>"${dir}.lock"
	flock "$fd"
	if [[ ! -f $dir/.ready ]]; then
		lp_log "preparing wrapper module ${dir}"
		rm -rf "${dir}.tmp"
		mkdir -p "${dir}.tmp"
		printf '%s\n' "$gomod" >"${dir}.tmp/go.mod"
		{
			printf '//go:build tools\n\n// Package tools pins the main packages this wrapper module builds.\npackage tools\n\nimport (\n'
			for imp in "$@"; do printf '\t_ "%s"\n' "$imp"; done
			printf ')\n'
		} >"${dir}.tmp/tools.go"
		(cd "${dir}.tmp" && lp_nice go mod tidy)
		touch "${dir}.tmp/.ready"
		rm -rf "$dir"
		mv "${dir}.tmp" "$dir"
	fi
	exec {fd}>&-
}

# lp_replaces GOMODFILE LOCALVERSION: print a module's replace directives as
# `old => new version` lines. Local-path replacements (`=> ./staging/...`)
# become `=> old LOCALVERSION`.
lp_replaces() {
	local file=$1 localver=$2
	awk -v localver="$localver" '
		function emit(line,   parts) {
			sub(/\/\/.*/, "", line)
			if (line ~ /^[[:space:]]*$/) return
			n = split(line, parts, /[[:space:]]+/)
			# fields: [""] old [oldver] => new [newver]
			o = ""; arrow = 0; nw = ""; nv = ""
			for (i = 1; i <= n; i++) {
				if (parts[i] == "") continue
				if (parts[i] == "=>") { arrow = 1; continue }
				if (!arrow && o == "") o = parts[i]
				else if (arrow && nw == "") nw = parts[i]
				else if (arrow) nv = parts[i]
			}
			if (nw ~ /^\.\.?\//) { nw = o; nv = localver }
			print "\t" o " => " nw " " nv
		}
		/^replace[[:space:]]*\(/ { inblock = 1; next }
		inblock && /^\)/ { inblock = 0; next }
		inblock { emit($0); next }
		/^replace[[:space:]]/ { l = $0; sub(/^replace[[:space:]]+/, "", l); emit(l) }
	' "$file"
}

# lakeport_wrapper NAME MODULE VERSION PKG: prepare (once) and print the wrapper module that
# builds PKG from lakeport's own module graph (its go.mod, renamed), so that the packages the
# tool shares with lakeport's tests are compiled once on a cold machine, without -trimpath. A
# MODULE lakeport requires must be required at VERSION (the wrapper builds go.mod's version);
# another is added to the wrapper's requirements. Keyed by lp_recipe (go.mod's hash).
lakeport_wrapper() {
	local name=$1 mod=$2 version=$3 pkg=$4 gomod dir
	dir=${LAKEPORT_CACHE}/src/${name}-${version}$(lp_recipe "$name")
	if [[ ! -f $dir/.ready ]]; then
		gomod=$(sed -e "s#^module .*#module lakeport.local/${name}-wrapper#" "${LAKEPORT_ROOT}/go.mod")
		if grep -q "^[[:space:]]*${mod} " "${LAKEPORT_ROOT}/go.mod"; then
			grep -q "^[[:space:]]*${mod} ${version}\$" "${LAKEPORT_ROOT}/go.mod" ||
				lp_die "${name} ${version} is not the ${mod} version of go.mod: the tool is built from go.mod's"
		else
			gomod+=$'\n'"require ${mod} ${version}"
		fi
		lp_wrapper "$dir" "$gomod" "$pkg" >&2
	fi
	echo "$dir"
}

# --- builders: build_<tool> OUT writes one binary to OUT ------------------------

# Helm is built from lakeport's own module graph (lakeport_wrapper): lakeport renders with the Helm
# SDK of the same version, so the Helm, Kubernetes and OCI packages are compiled once. The binary is
# Helm v3.22.0's code linked against lakeport's (same minor, newer patch) dependency versions.
build_helm() {
	# Helm stamps its version and the Kubernetes version it assumes for
	# `helm template` (.Capabilities.KubeVersion) at link time; without these
	# it reports "v3.22" and renders against Kubernetes v1.20. Helm v3.22 is
	# built against client-go v0.37, the same minor as KUBE_VERSION.
	local dir minor
	dir=$(lakeport_wrapper helm helm.sh/helm/v3 "$HELM_VERSION" helm.sh/helm/v3/cmd/helm)
	minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
	(cd "$dir" && lp_nice go build -o "$1" -ldflags "-s -w \
-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} \
-X helm.sh/helm/v3/internal/version.gitTreeState=clean \
-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${minor} \
-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${minor}" helm.sh/helm/v3/cmd/helm)
}

build_etcd() {
	local dir=${LAKEPORT_CACHE}/src/etcd-${ETCD_VERSION}
	lp_wrapper "$dir" "module lakeport.local/etcd-wrapper

go 1.26.0

require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}" go.etcd.io/etcd/server/v3
	(cd "$dir" && lp_nice go build -o "$1" -trimpath -ldflags "-s -w" go.etcd.io/etcd/server/v3)
}

# The four Kubernetes binaries share one wrapper module: k8s.io/kubernetes
# plus every k8s.io staging module replaced by its tagged v0.x release.
kube_wrapper() {
	local dir=${LAKEPORT_CACHE}/src/kube-${KUBE_VERSION}
	if [[ ! -f $dir/.ready ]]; then
		local gomodfile stage
		gomodfile=$(lp_gomodfile "k8s.io/kubernetes@${KUBE_VERSION}")
		stage=v0.${KUBE_VERSION#v1.}
		lp_wrapper "$dir" "module lakeport.local/kube-wrapper

go 1.26.0

require k8s.io/kubernetes ${KUBE_VERSION}

replace (
$(lp_replaces "$gomodfile" "$stage")
)" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
			k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
	fi
	echo "$dir"
}

kube_ldflags() {
	local v=$KUBE_VERSION major minor p out=""
	major=$(echo "${v#v}" | cut -d. -f1)
	minor=$(echo "$v" | cut -d. -f2)
	# Without these the binaries report v0.0.0 and clients warn about skew.
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		out+=" -X ${p}.gitVersion=${v} -X ${p}.gitMajor=${major} -X ${p}.gitMinor=${minor}"
		out+=" -X ${p}.gitTreeState=clean -X ${p}.buildDate=1970-01-01T00:00:00Z"
	done
	echo "-s -w${out}"
}

build_kube() { # build_kube NAME OUT
	local dir
	dir=$(kube_wrapper)
	(cd "$dir" && lp_nice go build -o "$2" -trimpath -ldflags "$(kube_ldflags)" "k8s.io/kubernetes/cmd/$1")
}
build_kube-apiserver() { build_kube kube-apiserver "$1"; }
build_kube-controller-manager() { build_kube kube-controller-manager "$1"; }
build_kube-scheduler() { build_kube kube-scheduler "$1"; }
build_kubectl() { build_kube kubectl "$1"; }

# Argo CD: one binary for every component, chosen at run time by
# ARGOCD_BINARY_NAME. It is built from this repository's own module graph
# (lakeport_wrapper; our replace block is Argo CD's own for the k8s.io staging
# modules): on a cold machine the packages Argo CD shares with lakeport (k8s.io,
# gRPC, Argo CD's API and utilities) were compiled twice (about 6 of its 9
# minutes). The binary is Argo CD v3.6.1's code linked against lakeport's
# (newer, same minor) dependency versions; the real-loop tests run it.
build_argocd() {
	local dir gomodfile kubectl
	dir=$(lakeport_wrapper argocd github.com/argoproj/argo-cd/v3 "$ARGOCD_VERSION" github.com/argoproj/argo-cd/v3/cmd)
	gomodfile=$(lp_gomodfile "github.com/argoproj/argo-cd/v3@${ARGOCD_VERSION}")
	kubectl=$(awk '$1 == "k8s.io/kubectl" && $2 == "=>" { print $4; exit }' "$gomodfile")
	local p=github.com/argoproj/argo-cd/v3/common
	(cd "$dir" && lp_nice go build -o "$1" -ldflags "-s -w \
-X ${p}.version=${ARGOCD_VERSION#v} -X ${p}.gitTag=${ARGOCD_VERSION} \
-X ${p}.gitTreeState=clean -X ${p}.kubectlVersion=${kubectl} \
-X ${p}.buildDate=1970-01-01T00:00:00Z" github.com/argoproj/argo-cd/v3/cmd)
}

# Argo Workflows' controller: its go.mod has a replace block (tablewriter), which
# `go install` refuses, so it is built through a wrapper module as Argo CD is.
# CGO is off as in upstream's release build (Makefile: CGO_ENABLED=0 ... -extldflags -static);
# the release ldflags stamp the version, and the commit comes from the module proxy's origin
# record so that the binary reports the bare tag.
build_workflow-controller() {
	local dir=${LAKEPORT_CACHE}/src/workflow-controller-${ARGO_WORKFLOWS_VERSION} gomodfile commit
	local mod=github.com/argoproj/argo-workflows/v3
	gomodfile=$(lp_gomodfile "${mod}@${ARGO_WORKFLOWS_VERSION}")
	if [[ ! -f $dir/.ready ]]; then
		lp_wrapper "$dir" "module lakeport.local/workflow-controller-wrapper

go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomodfile")

require ${mod} ${ARGO_WORKFLOWS_VERSION}

replace (
$(lp_replaces "$gomodfile" "")
)" "${mod}/cmd/workflow-controller"
	fi
	commit=$(cd "$LAKEPORT_CACHE" && go mod download -json "${mod}@${ARGO_WORKFLOWS_VERSION}" |
		sed -n 's/^[[:space:]]*"Hash": "\([0-9a-f]*\)",*$/\1/p')
	(cd "$dir" && CGO_ENABLED=0 lp_nice go build -o "$1" -trimpath -ldflags "-s -w \
-X ${mod}.version=${ARGO_WORKFLOWS_VERSION} -X ${mod}.gitTag=${ARGO_WORKFLOWS_VERSION} \
-X ${mod}.gitCommit=${commit} -X ${mod}.gitTreeState=clean \
-X ${mod}.buildDate=1970-01-01T00:00:00Z" "${mod}/cmd/workflow-controller")
}

build_kwok() {
	lp_go_install "$1" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}" \
		"-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION}"
}

build_versitygw() {
	lp_go_install "$1" "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}" \
		"-X main.Version=${VERSITYGW_VERSION}"
}

# conftest is built from lakeport's own module graph (lakeport_wrapper), so the OPA packages are
# compiled once: conftest's code linked against lakeport's OPA (v1.22, where conftest v0.71.1 pins
# v1.21), the same engine version as lakeport's.
build_conftest() {
	local dir
	dir=$(lakeport_wrapper conftest github.com/open-policy-agent/conftest "$CONFTEST_VERSION" github.com/open-policy-agent/conftest)
	(cd "$dir" && lp_nice go build -o "$1" -ldflags "-s -w \
-X github.com/open-policy-agent/conftest/internal/version.Version=${CONFTEST_VERSION#v}" github.com/open-policy-agent/conftest)
}

# The CRDs of the oldest Argo CD servers the CLI supports, from the module's source (nothing is
# built): tests check the kit's objects and the health source against them.
build_argocd-v2-crds() {
	argocd_crds "github.com/argoproj/argo-cd/v2@${ARGOCD_V2_VERSION}" "$1"
}

# actionlint and cyclonedx-gomod read their version from the build info `go install` records.
build_actionlint() {
	lp_go_install "$1" "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}"
}

build_cyclonedx-gomod() {
	lp_go_install "$1" "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@${CYCLONEDX_GOMOD_VERSION}"
}

build_dyff() {
	lp_go_install "$1" "github.com/homeport/dyff/cmd/dyff@${DYFF_VERSION}" \
		"-X github.com/homeport/dyff/internal/cmd.version=${DYFF_VERSION#v}"
}

# Prometheus and promtool come from one module version, so they are built by ONE `go install`
# (they share most of their compilation); promtool is the prometheus tool's extra file, moved
# into place from that build. Tag remove_all_sd drops every service discovery but file and http
# (prometheus v0.316.0 plugins/plugin_*.go: `//go:build !remove_all_sd || enable_<name>_sd`;
# plugins/minimum.go keeps file and http): the tests scrape static targets. The web UI's assets
# need tag builtinassets and an npm build; without them the HTTP API works and / says so.
build_prometheus() {
	local gobin v=${PROMETHEUS_VERSION#v0.} cv=github.com/prometheus/common/version
	gobin=$(dirname "$1")
	v=${v:0:1}.${v:1} # module v0.316.0 is Prometheus 3.16.0
	(cd "$gobin" && GOBIN=$gobin CGO_ENABLED=0 lp_nice go install -trimpath -tags remove_all_sd \
		-ldflags "-s -w -X ${cv}.Version=${v} -X ${cv}.Branch=HEAD -X ${cv}.BuildUser=lakeport \
-X ${cv}.BuildDate=19700101-00:00:00 -X ${cv}.Revision=${PROMETHEUS_VERSION}" \
		"github.com/prometheus/prometheus/cmd/prometheus@${PROMETHEUS_VERSION}" \
		"github.com/prometheus/prometheus/cmd/promtool@${PROMETHEUS_VERSION}")
	mv -f "$gobin/promtool" "$(lp_tool_dir prometheus)/.promtool.built"
}

build_pushgateway() {
	local cv=github.com/prometheus/common/version
	CGO_ENABLED=0 lp_go_install "$1" "github.com/prometheus/pushgateway@${PUSHGATEWAY_VERSION}" \
		"-X ${cv}.Version=${PUSHGATEWAY_VERSION#v} -X ${cv}.Branch=HEAD -X ${cv}.BuildUser=lakeport \
-X ${cv}.BuildDate=19700101-00:00:00 -X ${cv}.Revision=${PUSHGATEWAY_VERSION}"
}

# --- extra files: `extras TOOL` lists them, build_extra FILE OUT writes one ---

extras() {
	case $1 in
	kwok) echo kwok-stages.yaml ;;
	argocd) echo git-verify-wrapper.sh argocd-crds.yaml ;;
	workflow-controller) echo workflow-crds.yaml ;;
	prometheus) echo promtool ;;
	esac
}

# The kwok stages that make simulated nodes Ready and pods Running, Completed
# and deletable; kwok needs them passed with -c. kwok's own "fast" defaults,
# except that Job pods complete by the "general" stage: after 1-5 s, or after
# the pod's pod-complete.stage.kwok.x-k8s.io/delay and /jitter-delay
# annotations (kwok takes the jitter when it is not longer than the delay,
# so a test holding a pod sets both), which lets a test keep a Job's pod
# Running like one that waits for its services.
KWOK_STAGES=(node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
	pod/fast/pod-ready.yaml pod/general/pod-complete.yaml pod/fast/pod-delete.yaml)

# extra_recipe FILE: what an extra file is made from; a cached extra made from
# another recipe is rebuilt.
extra_recipe() {
	case $1 in
	kwok-stages.yaml) echo "kwok@${KWOK_VERSION} ${KWOK_STAGES[*]}" ;;
	*) echo "$1" ;;
	esac
}

# extra_current DIR FILE: whether DIR holds FILE made from today's recipe.
extra_current() {
	[[ -f $1/$2 && -f $1/.$2.recipe && $(<"$1/.$2.recipe") == "$(extra_recipe "$2")" ]]
}

# argocd_crds MODULE@VERSION OUT: the Application, ApplicationSet and AppProject CRDs of an Argo
# CD module's source, one document each.
argocd_crds() {
	local mod f
	mod=$(lp_moddir "$1")
	[[ -d $mod/manifests/crds ]] || lp_die "no manifests/crds in $1"
	: >"$2"
	for f in application-crd.yaml applicationset-crd.yaml appproject-crd.yaml; do
		{
			printf -- '---\n# from %s/manifests/crds/%s\n' "$1" "$f"
			sed '/^---[[:space:]]*$/d' "$mod/manifests/crds/$f"
		} >>"$2"
	done
}

build_extra() { # build_extra FILE OUT
	case $1 in
	kwok-stages.yaml)
		local mod f
		mod=$(lp_moddir "sigs.k8s.io/kwok@${KWOK_VERSION}")
		: >"$2"
		for f in "${KWOK_STAGES[@]}"; do
			[[ -f $mod/kustomize/stage/$f ]] || lp_die "kwok stage $f not found under $mod/kustomize/stage"
			{
				printf -- '---\n# from sigs.k8s.io/kwok@%s/kustomize/stage/%s\n' "$KWOK_VERSION" "$f"
				sed '/^---[[:space:]]*$/d' "$mod/kustomize/stage/$f"
			} >>"$2"
		done
		;;
	git-verify-wrapper.sh)
		local mod
		mod=$(lp_moddir "github.com/argoproj/argo-cd/v3@${ARGOCD_VERSION}")
		cp "$mod/hack/git-verify-wrapper.sh" "$2"
		chmod 0755 "$2"
		;;
	argocd-crds.yaml)
		argocd_crds "github.com/argoproj/argo-cd/v3@${ARGOCD_VERSION}" "$2"
		;;
	workflow-crds.yaml)
		# The CRDs Argo Workflows' own install manifests apply (manifests/base/crds/minimal:
		# schemaless, x-kubernetes-preserve-unknown-fields): every kind the controller watches.
		local mod f
		mod=$(lp_moddir "github.com/argoproj/argo-workflows/v3@${ARGO_WORKFLOWS_VERSION}")
		[[ -d $mod/manifests/base/crds/minimal ]] || lp_die "no manifests/base/crds/minimal in argo-workflows ${ARGO_WORKFLOWS_VERSION}"
		: >"$2"
		for f in "$mod"/manifests/base/crds/minimal/argoproj.io_*.yaml; do
			{
				printf -- '---\n# from github.com/argoproj/argo-workflows/v3@%s/manifests/base/crds/minimal/%s\n' \
					"$ARGO_WORKFLOWS_VERSION" "$(basename "$f")"
				sed '/^---[[:space:]]*$/d' "$f"
			} >>"$2"
		done
		;;
	promtool)
		# Built beside prometheus by build_prometheus; a cache that has prometheus without it
		# (an interrupted build) builds promtool alone.
		local d
		d=$(lp_tool_dir prometheus)
		if [[ -x $d/.promtool.built ]]; then
			mv -f "$d/.promtool.built" "$2"
		else
			build_prometheus "$(dirname "$2")/prometheus"
			mv -f "$d/.promtool.built" "$2"
			rm -f "$(dirname "$2")/prometheus"
		fi
		chmod 0755 "$2"
		;;
	*) lp_die "unknown extra file $1" ;;
	esac
}

# --- the driver -------------------------------------------------------------------

# lp_link SRC NAME: point $LAKEPORT_TOOLS/NAME at SRC, atomically.
lp_link() {
	local tmp="${LAKEPORT_TOOLS}/.${2}.$$"
	ln -sfn "$1" "$tmp"
	mv -fT "$tmp" "${LAKEPORT_TOOLS}/$2"
}

# lp_complete NAME: whether the tool and its extra files are all cached.
lp_complete() {
	local dir f
	dir=$(lp_tool_dir "$1")
	[[ -x $dir/$1 ]] || return 1
	for f in $(extras "$1"); do extra_current "$dir" "$f" || return 1; done
}

ensure_one() {
	local name=$1 version dir tmp fd f start secs
	version=$(lp_version "$name") || lp_die "unknown tool '$name' (known: ${LAKEPORT_ALL_TOOLS[*]})"
	dir=$(lp_tool_dir "$name")
	if ! lp_complete "$name"; then
		mkdir -p "$dir"
		exec {fd}>"$dir/.lock"
		flock "$fd"
		# Leftovers of a build that was SIGKILLed; we hold the lock, so no
		# one else is using them.
		rm -rf "$dir"/.build.*
		LP_BUILDING="$name $version"
		if [[ ! -x $dir/$name ]]; then
			tmp=$(mktemp -d "$dir/.build.XXXXXX")
			LP_TMPS+=("$tmp")
			lp_log "building $name $version (minutes when cold; go's output follows)"
			start=$SECONDS
			"build_$name" "$tmp/$name"
			chmod 0755 "$tmp/$name"
			mv -f "$tmp/$name" "$dir/$name"
			secs=$((SECONDS - start))
			lp_log "built $name $version in ${secs}s"
			printf '%s %s %s %ss\n' "$(date -u +%FT%TZ)" "$name" "$version" "$secs" >>"${LAKEPORT_CACHE}/build-times.log"
		fi
		for f in $(extras "$name"); do
			if ! extra_current "$dir" "$f"; then
				tmp=$(mktemp -d "$dir/.build.XXXXXX")
				LP_TMPS+=("$tmp")
				build_extra "$f" "$tmp/$f"
				extra_recipe "$f" >"$tmp/.$f.recipe"
				mv -f "$tmp/$f" "$dir/$f"
				mv -f "$tmp/.$f.recipe" "$dir/.$f.recipe"
			fi
		done
		LP_BUILDING=
		exec {fd}>&-
	fi
	lp_link "$dir/$name" "$name"
	for f in $(extras "$name"); do lp_link "$dir/$f" "$f"; done
	lp_log "ok $name $version -> ${LAKEPORT_TOOLS}/$name"
}

main() {
	[[ $# -gt 0 ]] || usage
	local names=() n
	for n in "$@"; do
		case $n in
		-h | --help) usage ;;
		all) names+=("${LAKEPORT_ALL_TOOLS[@]}") ;;
		*) names+=("$n") ;;
		esac
	done
	for n in "${names[@]}"; do
		lp_version "$n" >/dev/null || lp_die "unknown tool '$n' (known: ${LAKEPORT_ALL_TOOLS[*]})"
	done
	mkdir -p "${LAKEPORT_CACHE}/tools" "${LAKEPORT_TOOLS}"
	for n in "${names[@]}"; do ensure_one "$n"; done
}

# `exit` on the same line: bash reads scripts as it runs them, so an edit to
# this file during a long build must not be executed after main returns.
main "$@"; exit

#!/usr/bin/env bash
# apt.sh: install the Debian packages the tests need and hack/ensure.sh does
# not build: PostgreSQL (server binaries under /usr/lib/postgresql/<ver>/bin),
# redis-server (Argo CD's cache), git, and shellcheck (actionlint runs it on
# the workflows' `run:` scripts), python3 (the Jupyter chart's helper module is run
# by charts/jupyter_test.go).
#
# Idempotent and quick: when everything is installed it only asks dpkg.
# `apt-get update` runs only when something is missing. Uses sudo when not
# root.

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APT_PACKAGES=(postgresql redis-server git shellcheck python3)

installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

main() {
	command -v dpkg-query >/dev/null || lp_die "apt.sh needs a Debian-like system (dpkg-query not found)"
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		installed "$p" || missing+=("$p")
	done
	if [[ ${#missing[@]} -eq 0 ]]; then
		lp_log "ok apt packages: ${APT_PACKAGES[*]}"
		return
	fi
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || lp_die "missing ${missing[*]}; run as root or install sudo"
		sudo=(sudo)
	fi
	lp_log "installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
	lp_log "ok apt packages: ${APT_PACKAGES[*]}"
}

main "$@"; exit

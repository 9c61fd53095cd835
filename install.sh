#!/bin/sh
# install.sh: download a released lakeport, verify it against the release's SHA256SUMS, install it.
#
#   curl -fsSL https://raw.githubusercontent.com/lakeport/lakeport/main/install.sh | sh -s -- v0.1.0
#   sh install.sh [VERSION] [DIR]        # VERSION: a tag (vX.Y.Z) or latest (default); DIR: /usr/local/bin
#
# Environment: LAKEPORT_REPOSITORY (owner/name, default lakeport/lakeport), LAKEPORT_DOWNLOAD_URL
# (the release download base, default https://github.com/<repository>/releases; the tests point it
# at a local server), GITHUB_TOKEN (sent when set, for private repositories and rate limits).
#
# Nothing is installed unless the tarball's SHA-256 is the one SHA256SUMS lists; the binary is
# moved into place with one rename. Exit codes: 0 installed, 1 failed (download, checksum).
set -eu

version=${1:-latest}
dir=${2:-/usr/local/bin}
repo=${LAKEPORT_REPOSITORY:-lakeport/lakeport}
base=${LAKEPORT_DOWNLOAD_URL:-https://github.com/$repo/releases}

die() {
	echo "install.sh: $*" >&2
	exit 1
}

os=$(uname -s | tr '[:upper:]' '[:lower:]')
case $os in linux | darwin) ;; *) die "no lakeport release for $os (linux and darwin only): build it from source (README, Install)" ;; esac
case $(uname -m) in
x86_64 | amd64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
*) die "no lakeport release for $(uname -m) (amd64 and arm64 only): build it from source (README, Install)" ;;
esac

fetch() { # fetch URL FILE
	if [ -n "${GITHUB_TOKEN:-}" ]; then
		curl -fsSL --retry 3 -H "Authorization: Bearer $GITHUB_TOKEN" -o "$2" "$1"
	else
		curl -fsSL --retry 3 -o "$2" "$1"
	fi || die "download $1 failed"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ "$version" = latest ]; then
	# GitHub redirects releases/latest to releases/tag/<tag>; the tag names the files.
	version=$(curl -fsSLI -o /dev/null -w '%{url_effective}' "$base/latest") || die "cannot find the latest release of $repo"
	version=${version##*/}
fi
case $version in v*) ;; *) die "version $version: want a tag such as v1.2.3, or latest" ;; esac
name=lakeport_${version}_${os}_${arch}
fetch "$base/download/$version/$name.tar.gz" "$tmp/$name.tar.gz"
fetch "$base/download/$version/SHA256SUMS" "$tmp/SHA256SUMS"
want=$(awk -v f="$name.tar.gz" '$2 == f { print $1 }' "$tmp/SHA256SUMS")
[ -n "$want" ] || die "SHA256SUMS of $version does not list $name.tar.gz"
if command -v sha256sum >/dev/null; then
	got=$(sha256sum "$tmp/$name.tar.gz" | awk '{ print $1 }')
else
	got=$(shasum -a 256 "$tmp/$name.tar.gz" | awk '{ print $1 }')
fi
[ "$got" = "$want" ] || die "checksum mismatch for $name.tar.gz: got $got, SHA256SUMS says $want; nothing installed"
tar -xzf "$tmp/$name.tar.gz" -C "$tmp"
mkdir -p "$dir"
cp "$tmp/$name/lakeport" "$dir/.lakeport.$$"
chmod 0755 "$dir/.lakeport.$$"
mv -f "$dir/.lakeport.$$" "$dir/lakeport"
echo "installed lakeport $version ($os/$arch) at $dir/lakeport" >&2

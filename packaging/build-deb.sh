#!/bin/sh
# Build ganeti-agent_*.deb from the working tree with Debian's own Python.
#
# Usage: packaging/build-deb.sh [OUTDIR]
#
# The tracked and new (not ignored) files of the working tree are copied to
# OUTDIR/src (default /tmp/ganeti-agent-deb), the pinned wheels of
# packaging/bundle-requirements.txt are fetched into OUTDIR/wheelhouse (skipped
# when they are already there), and dpkg-buildpackage -us -uc -b runs in a clean
# environment whose PATH holds only Debian's directories, so a pyenv or
# virtualenv python3 cannot take part. The .deb, .buildinfo and .changes land
# in OUTDIR, then lintian checks them and fails on errors and warnings.
# Needs: git, and the Build-Depends of debian/control plus lintian
# (apt-get install debhelper dh-python pybuild-plugin-pyproject ... lintian).
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${TMPDIR:-/tmp}/ganeti-agent-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
case "$out/" in
"$repo"/*) echo "build-deb: OUTDIR must be outside the repository" >&2; exit 2 ;;
esac

clean_env() {
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="${HOME:-/root}" LANG=C.UTF-8 \
		${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} \
		${no_proxy:+no_proxy=$no_proxy} "$@"
}

version=$(cd "$repo" && dpkg-parsechangelog -S Version)
src="$out/src/ganeti-agent-$version"
rm -rf "$out/src"
mkdir -p "$src"
# shellcheck disable=SC2016 # the inner sh expands "$f"
(cd "$repo" && git ls-files --cached --others --exclude-standard -z) |
	(cd "$repo" && xargs -0 sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh) |
	(cd "$repo" && xargs -0 cp --parents -t "$src")
echo "build-deb: copied the working tree to $src"

wheelhouse="$out/wheelhouse"
mkdir -p "$wheelhouse"
clean_env /usr/bin/python3 -m pip download --isolated --disable-pip-version-check \
	--no-deps --only-binary :all: --require-hashes --dest "$wheelhouse" \
	--find-links "$wheelhouse" -r "$repo/packaging/bundle-requirements.txt" >/dev/null
echo "build-deb: bundled wheels in $wheelhouse:" "$wheelhouse"/*

rm -f "$out"/ganeti-agent_*
(cd "$src" && clean_env GANETI_AGENT_WHEELHOUSE="$wheelhouse" dpkg-buildpackage -us -uc -b) \
	>"$out/build.log" 2>&1 || {
	tail -40 "$out/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed; full log in $out/build.log" >&2
	exit 1
}
mv "$out/src"/ganeti-agent_* "$out/"
deb=$(ls "$out"/ganeti-agent_*_all.deb)
echo "build-deb: built $deb"

changes=$(ls "$out"/ganeti-agent_*.changes)
echo "build-deb: lintian $changes"
clean_env lintian --fail-on error,warning --display-info "$changes"
echo "build-deb: lintian found no errors or warnings"

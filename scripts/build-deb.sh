#!/usr/bin/env bash
# Builds the Debian package (debian/, debhelper + CMake's install rules) in OUTDIR (default build-deb/), from a copy of
# the source tree (tracked and new, not-ignored files), so the build leaves the work tree and its build dirs alone and
# two builds in different OUTDIRs never collide. Then lintian, failing on errors (warnings are printed).
#
#   scripts/build-deb.sh [OUTDIR]      (make deb; KVE_DEB_LINTIAN=0 skips lintian)
set -euo pipefail

cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build-deb}")
src="$out/src"

for tool in dpkg-buildpackage dh lintian; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build-deb.sh: '$tool' not found: run scripts/install-deps.sh (debhelper, dpkg-dev, lintian)" >&2
        exit 1
    fi
done

rm -rf "$src"
mkdir -p "$src"
rm -f "$out"/kvedge_*.deb "$out"/kvedge-dbgsym_* "$out"/kvedge_*.buildinfo "$out"/kvedge_*.changes
# the files git knows (plus new ones), as they are in the work tree; a deleted file still in the index is left out
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    if [ -e "$f" ]; then printf '%s\0' "$f"; fi
done | tar --null -T - -cf - | tar -xf - -C "$src"

(
    cd "$src"
    DEB_BUILD_OPTIONS="parallel=$(nproc) noddebs ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b
) >"$out/build.log" 2>&1 || {
    echo "build-deb.sh: dpkg-buildpackage failed; the end of $out/build.log:" >&2
    tail -40 "$out/build.log" >&2
    exit 1
}
deb=$(ls "$out"/kvedge_*.deb)
echo "build-deb.sh: $deb"
if [ "${KVE_DEB_LINTIAN:-1}" != 0 ]; then
    lintian --fail-on error --info "$deb"
fi

#!/usr/bin/env bash
# Install what kvedge needs to build, test and run on Debian 12. Idempotent: only missing packages
# are installed, and `apt-get update` runs only when something is missing. Quiet on success.
#
#   scripts/install-deps.sh           build + run/test dependencies, then `npm ci` if needed
#   scripts/install-deps.sh --bench   also the benchmark tools and peer caches (wrk, webdis, nginx-light, varnish)
#
# No service is started: while apt runs, a temporary /usr/sbin/policy-rc.d (exit 101) stops maintainer
# scripts from starting redis-server/nginx/webdis/varnish. kvedge's tests never use a system Redis on 6379; the
# harness starts its own redis-server on a free port.
set -euo pipefail

cd "$(dirname "$0")/.."

bench=0
for arg in "$@"; do
    case "$arg" in
    --bench) bench=1 ;;
    -h | --help)
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "install-deps.sh: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done

export DEBIAN_FRONTEND=noninteractive

build_pkgs=(gcc make cmake pkg-config clang-format libh2o-evloop-dev libssl-dev libhiredis-dev libjwt-dev libyaml-dev
    libjansson-dev)
# The fuzz build (build-fuzz/): clang-14, whose libFuzzer and sanitizer runtimes are in libclang-rt-14-dev (only
# recommended by libclang-common-14-dev, so --no-install-recommends leaves it out), and llvm-14 for
# llvm-symbolizer (clang's sanitizers print bare addresses without it).
build_pkgs+=(clang libclang-rt-14-dev llvm-14)
run_pkgs=(redis-server redis-tools curl openssl)
# The web console's browser tests (tests/integration/browser.mjs): Debian's headless-capable Chromium, driven by the
# npm package playwright-core, which downloads no browser of its own. --no-install-recommends keeps out
# chromium-sandbox, pulseaudio, upower and the like; ~414 MB installed with its libraries.
run_pkgs+=(chromium)
# make deb and the install tests (ops_install, ops_deb): debhelper + dpkg-dev (+ build-essential, which
# dpkg-buildpackage checks for), lintian, systemd for systemd-analyze, man-db/groff-base to render the man pages
pkg_pkgs=(build-essential debhelper dpkg-dev lintian systemd man-db groff-base)
# The machine may already have node/npm from elsewhere (nodesource, nvm, a tarball); then keep those.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    run_pkgs+=(nodejs npm)
fi
# varnish: a peer cache for tests/cache-conformance/peer.sh and the cache benchmark (nginx-light has proxy_cache)
bench_pkgs=(wrk webdis nginx-light varnish)

wanted=("${build_pkgs[@]}" "${run_pkgs[@]}" "${pkg_pkgs[@]}")
if [ "$bench" = 1 ]; then
    wanted+=("${bench_pkgs[@]}")
fi

missing=()
for pkg in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done

log=$(mktemp "${TMPDIR:-/tmp}/kvedge-install-deps.XXXXXX")
policy_created=0
cleanup() {
    if [ "$policy_created" = 1 ]; then
        $SUDO rm -f /usr/sbin/policy-rc.d || true
    fi
    rm -f "$log"
}
trap cleanup EXIT

# Run a command with its output captured; on failure show everything and stop.
quiet() {
    if ! "$@" >>"$log" 2>&1; then
        echo "install-deps.sh: FAILED: $*" >&2
        echo "----- output -----" >&2
        cat "$log" >&2
        echo "------------------" >&2
        exit 1
    fi
}

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    elif [ "${#missing[@]}" -gt 0 ]; then
        echo "install-deps.sh: missing packages (${missing[*]}) and not root, no sudo available" >&2
        exit 1
    fi
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps.sh: installing ${missing[*]}"
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        quiet $SUDO sh -c 'printf "#!/bin/sh\n# temporary, from kvedge scripts/install-deps.sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
        policy_created=1
    fi
    quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
    quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    # Check: every package really is installed now.
    for pkg in "${missing[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        if [ "$status" != "install ok installed" ]; then
            echo "install-deps.sh: $pkg is still not installed after apt-get install" >&2
            cat "$log" >&2
            exit 1
        fi
    done
fi

for tool in node npm redis-server chromium cmake clang-format clang dpkg-buildpackage dh lintian systemd-analyze man groff; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install-deps.sh: '$tool' not found on PATH after installation" >&2
        exit 1
    fi
done

# Node packages (test harness, KV REST client SDKs). The stamp records the last successful `npm ci`;
# a newer package.json/package-lock.json means the tree is stale.
stamp=node_modules/.kvedge-npm-ci.stamp
if [ ! -d node_modules ] || [ ! -e "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
    quiet npm ci --no-audit --no-fund --loglevel=error
    touch "$stamp"
fi

#!/usr/bin/env bash
# Runs one libFuzzer target of tests/fuzz (see tests/fuzz/README.md).
#
#   run.sh BINARY TARGET SECONDS ARTIFACT_DIR [CORPUS_DIR]
#
# Replays the committed corpus (tests/fuzz/corpus/TARGET) and regression inputs (tests/fuzz/regressions/TARGET),
# then fuzzes for SECONDS (0: replay only), with tests/fuzz/TARGET.dict when it exists. New inputs go to
# CORPUS_DIR (kept: `make fuzz`) or to a temporary directory (deleted: ctest). A crash, leak, UB report,
# timeout or out-of-memory fails the run; the input is saved as ARTIFACT_DIR/TARGET/<kind>-<sha1>.
set -euo pipefail

if [ $# -lt 4 ] || [ $# -gt 5 ]; then
    sed -n '4,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
bin=$1 target=$2 secs=$3 artifacts=$4/$2 corpus=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ -z "$corpus" ]; then
    corpus=$(mktemp -d "${TMPDIR:-/tmp}/kvedge-fuzz-$target.XXXXXX")
    trap 'rm -rf "$corpus"' EXIT
fi
mkdir -p "$corpus" "$artifacts"

args=(-artifact_prefix="$artifacts/" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -print_final_stats=1)
if [ "$secs" = 0 ]; then
    args+=(-runs=0)
else
    args+=(-max_total_time="$secs")
fi
if [ -f "$here/$target.dict" ]; then
    args+=(-dict="$here/$target.dict")
fi
args+=("$corpus")
for dir in "$here/corpus/$target" "$here/regressions/$target"; do
    if [ -d "$dir" ]; then
        args+=("$dir")
    fi
done

# Leaks are errors; the one suppression file of the project covers libh2o's pool-chunk cache.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
if ! command -v llvm-symbolizer >/dev/null 2>&1 && [ -x /usr/bin/llvm-symbolizer-14 ]; then
    export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14
fi

echo "run.sh: $bin ${args[*]}"
exec "$bin" "${args[@]}" </dev/null

#!/usr/bin/env bash
# Line coverage of the code under test reached by a corpus, per file (llvm-cov, source-based). Builds the targets
# once more with -fprofile-instr-generate -fcoverage-mapping into build-fuzz-cov/ (sanitizers stay on), replays the
# corpus and prints the report.
#
#   tests/fuzz/coverage.sh TARGET [CORPUS_DIR...]      default: .fuzz/corpus/TARGET and tests/fuzz/corpus/TARGET
set -euo pipefail

target=${1:?usage: coverage.sh TARGET [CORPUS_DIR...]}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
dirs=("$@")
if [ ${#dirs[@]} = 0 ]; then
    for d in ".fuzz/corpus/$target" "tests/fuzz/corpus/$target" "tests/fuzz/regressions/$target"; do
        if [ -d "$d" ]; then dirs+=("$d"); fi
    done
fi
llvm_bin=/usr/lib/llvm-14/bin
flags="-fprofile-instr-generate -fcoverage-mapping"
# KVE_FUZZ=ON plus the coverage flags, which CMAKE_C_FLAGS carries to every library
cmake -S . -B build-fuzz-cov -DCMAKE_C_COMPILER=clang -DKVE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build build-fuzz-cov -j"$(nproc)" --target "fuzz_$target" >/dev/null
prof=$(mktemp -d "${TMPDIR:-/tmp}/kvedge-fuzz-cov.XXXXXX")
trap 'rm -rf "$prof"' EXIT
LLVM_PROFILE_FILE="$prof/%p.profraw" ASAN_OPTIONS=detect_leaks=0 \
    "build-fuzz-cov/tests/fuzz/fuzz_$target" -runs=0 "${dirs[@]}" >/dev/null 2>&1 </dev/null
"$llvm_bin/llvm-profdata" merge -sparse "$prof"/*.profraw -o "$prof/merged.profdata"
"$llvm_bin/llvm-cov" report "build-fuzz-cov/tests/fuzz/fuzz_$target" -instr-profile="$prof/merged.profdata" \
    -ignore-filename-regex='tests/fuzz/|/usr/' "$root/handlers" "$root/proxy" "$root/conf" |
    grep -v -E '^-|^$'

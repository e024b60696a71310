#!/usr/bin/env bash
# Writes the JWT seeds of the kv_auth fuzz target (tests/fuzz/corpus/kv_auth/jwt_*), minted by `kvedge token`
# with the target's key (jwt_key in tests/fuzz/kv_auth.c). The target's clock starts before today, so the
# tokens stay valid for it whenever they were minted.
#
#   tests/fuzz/mkseeds-kv_auth.sh KVEDGE_BINARY
set -euo pipefail

kvedge=${1:?usage: mkseeds-kv_auth.sh KVEDGE_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
out=$here/corpus/kv_auth
conf=$(mktemp "${TMPDIR:-/tmp}/kvedge-fuzz-seeds.XXXXXX.yaml")
trap 'rm -f "$conf"' EXIT
cat >"$conf" <<'YAML'
listen:
  - port: 8080
kv:
  jwt_key: kvedge-fuzz-jwt-key-0123456789abcdef
YAML

mkdir -p "$out"
# seed = form byte, 4 bytes of clock offset, the log buffer size, then the form's data
seed() {
    local name=$1 form=$2
    shift 2
    { printf "\\x$form\\x00\\x00\\x00\\x00\\x9f"; "$@"; } >"$out/$name"
}
seed jwt_rw 00 "$kvedge" token -c "$conf" --ttl 1h
seed jwt_ro_sub 00 "$kvedge" token -c "$conf" --read-only --ttl 10m --sub fuzz-seed
seed jwt_verify 03 "$kvedge" token -c "$conf" --ttl 5s
# the trailing newline `kvedge token` prints is not part of a token
for f in "$out"/jwt_*; do
    truncate -s -1 "$f"
done
echo "wrote $(ls "$out"/jwt_* | wc -l) seeds to $out"

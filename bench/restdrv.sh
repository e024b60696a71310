#!/usr/bin/env bash
# KV-interface commands/s through the KV REST driver vs the hiredis driver (issue 9), same run, loopback:
# kvedge H serves POST /kv ["GET","k100"] from Redis over hiredis; kvedge R serves the same from a KV REST store
# that is kvedge B's /kv (B on the same Redis). wrk, 64 connections, interleaved rounds. The bar: R >= 0.5x H.
# Then cache hits: route /c on H and on R caches a 1 KiB file of a python3 origin (default_ttl), its objects in
# Redis over hiredis (H) or in the REST store (R): GET /c/obj.json, every request a hit read from the store.
# Servers are pinned to SERVER_CPU, wrk to CLIENT_CPU; everything is stopped by PID. Needs build/kvedge.
#   ROUNDS=3 DURATION=10s bench/restdrv.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
: "${ROUNDS:=3}" "${DURATION:=10s}" "${CONNS:=64}"
BIN=${KVEDGE_BIN:-$REPO_DIR/build/kvedge}
[ -x "$BIN" ] || die "no $BIN: run make build"
WORK=$(mktemp -d /tmp/kvedge-restdrv-bench-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
P_B=$((BASE_PORT + 30)) P_H=$((BASE_PORT + 31)) P_R=$((BASE_PORT + 32)) P_O=$((BASE_PORT + 33))
mkdir -p "$WORK/www" && head -c 1024 /dev/zero | tr '\0' 'x' >"$WORK/www/obj.json"
taskset -c "$SERVER_CPU" python3 -m http.server -b 127.0.0.1 -d "$WORK/www" "$P_O" >"$WORK/origin.log" 2>&1 & PIDS+=($!)
taskset -c "$SERVER_CPU" redis-server --port 0 --unixsocket "$WORK/redis.sock" --save "" --appendonly no \
    --logfile "$WORK/redis.log" & PIDS+=($!)
for _ in $(seq 100); do redis-cli -s "$WORK/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -s "$WORK/redis.sock" set "$KEY" "$VALUE" >/dev/null
conf() { # conf NAME PORT STORE_YAML [KV_STORE]
    cat >"$WORK/$1.yaml" <<YAML
listen: [{host: 127.0.0.1, port: $2}]
threads: 1
data_dir: $WORK/$1
log: {access_log: ""}
$3
kv:
  tokens: [{token: $KV_TOKEN}]
  store: ${4:-default}
${5:-}
YAML
}
conf b "$P_B" "redis: unix://$WORK/redis.sock"
ROUTE="routes: [{path: /c, upstream: 'http://127.0.0.1:$P_O/', cache: {default_ttl: 1h, store: STORE}}]"
conf h "$P_H" "redis: unix://$WORK/redis.sock" default "${ROUTE/STORE/default}"
conf r "$P_R" "stores: {central: {url: 'http://127.0.0.1:$P_B/kv', token: $KV_TOKEN}}" central "${ROUTE/STORE/central}"
for n in b h r; do
    taskset -c "$SERVER_CPU" "$BIN" -c "$WORK/$n.yaml" >"$WORK/$n.log" 2>&1 & PIDS+=($!)
done
for p in $P_B $P_H $P_R; do
    for _ in $(seq 200); do
        curl -sf -o /dev/null -H "Authorization: Bearer $KV_TOKEN" "http://127.0.0.1:$p/kv/get/$KEY" && break
        sleep 0.05
    done
    body=$(curl -s -H "Authorization: Bearer $KV_TOKEN" -d "[\"GET\",\"$KEY\"]" "http://127.0.0.1:$p/kv")
    [ "$body" = "{\"result\":\"$VALUE\"}" ] || die "port $p answers $body"
done
rps() { # rps PORT -> requests/s (a run with errors or non-2xx answers stops the benchmark)
    local out
    out=$(BENCH_TOKEN=$KV_TOKEN BENCH_KEY=$KEY taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" \
        -s "$BENCH_DIR/wrk/kv-get-post.lua" "http://127.0.0.1:$1/kv" 2>&1)
    if grep -qE "Non-2xx|Socket errors" <<<"$out"; then
        die "port $1: errors during the run: $(grep -E 'Non-2xx|Socket errors' <<<"$out")"
    fi
    awk '/^Requests\/sec/ {print $2}' <<<"$out"
}
hits() { # hits PORT -> requests/s of cache hits (each one checked to be a hit before and after)
    local out
    for _ in 1 2; do
        curl -sf -D - -o /dev/null "http://127.0.0.1:$1/c/obj.json" | grep -qi '^cache-status: kvedge; hit' && break
        sleep 0.3
    done
    curl -sf -D - -o /dev/null "http://127.0.0.1:$1/c/obj.json" | grep -qi '^cache-status: kvedge; hit' ||
        die "port $1: /c/obj.json is not a cache hit"
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$1/c/obj.json" 2>&1)
    if grep -qE "Non-2xx|Socket errors" <<<"$out"; then
        die "port $1: errors during the run: $(grep -E 'Non-2xx|Socket errors' <<<"$out")"
    fi
    awk '/^Requests\/sec/ {print $2}' <<<"$out"
}
declare -a H R CH CR
for i in $(seq "$ROUNDS"); do
    H+=("$(rps "$P_H")")
    R+=("$(rps "$P_R")")
    CH+=("$(hits "$P_H")")
    CR+=("$(hits "$P_R")")
    msg "round $i: hiredis ${H[-1]} req/s, REST ${R[-1]} req/s; cache hits: hiredis ${CH[-1]} req/s, REST ${CR[-1]} req/s"
done
python3 - "${H[*]}" "${R[*]}" "${CH[*]}" "${CR[*]}" <<'PY'
import statistics, sys
h, r, ch, cr = ([float(x) for x in a.split()] for a in sys.argv[1:5])
mh, mr = statistics.median(h), statistics.median(r)
print(f"hiredis driver: median {mh:.0f} commands/s {h}")
print(f"REST driver:    median {mr:.0f} commands/s {r}")
print(f"REST / hiredis = {mr / mh:.2f} (bar >= 0.50: {'PASS' if mr >= 0.5 * mh else 'MISS'})")
mch, mcr = statistics.median(ch), statistics.median(cr)
print(f"cache hits, store over hiredis: median {mch:.0f} req/s {ch}")
print(f"cache hits, store over REST:    median {mcr:.0f} req/s {cr}")
print(f"cache hits REST / hiredis = {mcr / mch:.2f} (information: a hit is one round trip to the store)")
PY

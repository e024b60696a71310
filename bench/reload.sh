#!/usr/bin/env bash
# What a reload costs the traffic (issue 11): wrk keeps 16 keep-alive connections busy with GET /kv/get/k100 while
# kvedge is reloaded every RELOAD_EVERY seconds (alternating two valid files), against the same run without reloads.
# Rounds alternate the order; each round gives the ratio of requests/s (with reloads / without), the wrk errors of
# both runs (socket errors and non-2xx: the bar is 0) and how long each reload took (SIGHUP taken -> the new
# configuration serving, from kvedge's log).
#
#   SKIP_BUILD=1 KVEDGE_BIN=build/kvedge bench/reload.sh          (ROUNDS=3 DURATION=10 RELOAD_EVERY=0.5 CONNS=16)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

: "${ROUNDS:=3}"
: "${DURATION:=10}"
: "${RELOAD_EVERY:=0.5}"
: "${CONNS:=16}"

need_tools wrk:wrk redis-server:redis-server redis-cli:redis-tools taskset:util-linux
BIN=${KVEDGE_BIN:-$REPO_DIR/build/kvedge}
[ "$SKIP_BUILD" = 1 ] || cmake --build "$REPO_DIR/build" -j"$(nproc)" >/dev/null
[ -x "$BIN" ] || die "no kvedge binary at $BIN"

WORK=$(mktemp -d /tmp/kvedge-bench-reload-XXXXXX)
OUT=$REPO_DIR/bench/results/reload-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
REDIS_PID= KVEDGE_PID=
cleanup() {
    [ -n "$KVEDGE_PID" ] && kill "$KVEDGE_PID" 2>/dev/null && wait "$KVEDGE_PID" 2>/dev/null || true
    [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

write_config() { # write_config A|B: B has a second token and a second route
    {
        printf 'listen:\n  - host: 127.0.0.1\n    port: %s\n' "$P_KVEDGE"
        printf 'threads: %s\nredis: redis://127.0.0.1:%s\nlog:\n  level: info\n' "$KVEDGE_THREADS" "$P_REDIS"
        printf 'kv:\n  path: /kv\n  tokens:\n    - token: %s\n      name: bench\n' "$KV_TOKEN"
        if [ "$1" = B ]; then
            printf '    - token: second-bench-token-0123456789\n      name: second\n'
            printf 'routes:\n  - path: /other\n    upstream: http://127.0.0.1:9/\n'
        fi
    } >"$WORK/kvedge.yaml"
}

taskset -c "$SERVER_CPU" redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 50); do redis-cli -p "$P_REDIS" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$P_REDIS" set "$KEY" "$VALUE" >/dev/null

write_config A
taskset -c "$SERVER_CPU" "$BIN" -c "$WORK/kvedge.yaml" 2>"$OUT/kvedge.log" &
KVEDGE_PID=$!
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$P_KVEDGE/healthz" 2>/dev/null && break; sleep 0.1; done

run_wrk() { # run_wrk NAME RELOADING -> the BENCH line of wrk
    local name=$1 reloading=$2 which=B reloader=
    if [ "$reloading" = 1 ]; then
        (
            end=$((SECONDS + DURATION))
            while [ $SECONDS -lt $end ]; do
                sleep "$RELOAD_EVERY"
                write_config "$which"
                kill -HUP "$KVEDGE_PID"
                which=$([ "$which" = A ] && echo B || echo A)
            done
        ) &
        reloader=$!
    fi
    BENCH_TOKEN=$KV_TOKEN taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$BENCH_DIR/wrk/kv-get.lua" \
        "http://127.0.0.1:$P_KVEDGE/kv/get/$KEY" >"$OUT/$name.txt" 2>&1
    [ -z "$reloader" ] || wait "$reloader"
    grep '^BENCH ' "$OUT/$name.txt"
}

field() { sed -n "s/.* $1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }

printf '%-6s %-10s %12s %12s %8s %8s\n' round run 'req/s' errors p99_us ratio
ratios=()
for r in $(seq "$ROUNDS"); do
    order=(plain reload)
    [ $((r % 2)) = 0 ] && order=(reload plain)
    declare -A rate=()
    for kind in "${order[@]}"; do
        line=$(run_wrk "r$r-$kind" "$([ "$kind" = reload ] && echo 1 || echo 0)")
        req=$(field requests "$line") dur=$(field duration_us "$line")
        errs=$(($(field err_connect "$line") + $(field err_read "$line") + $(field err_write "$line") + $(field err_status "$line") +
            $(field err_timeout "$line")))
        rate[$kind]=$(awk -v n="$req" -v d="$dur" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
        printf '%-6s %-10s %12s %12s %8s\n' "$r" "$kind" "${rate[$kind]}" "$errs" "$(field p99_us "$line")"
    done
    ratio=$(awk -v a="${rate[reload]}" -v b="${rate[plain]}" 'BEGIN { printf "%.3f", a / b }')
    ratios+=("$ratio")
    printf '%-6s %-10s %12s %12s %8s %8s\n' "$r" ratio '' '' '' "$ratio"
    unset rate
done

reloads=$(grep -c 'reload: configuration [0-9]* serving' "$OUT/kvedge.log" || true)
failed=$(grep -c 'still serving the previous configuration' "$OUT/kvedge.log" || true)
# reload time: "received SIGHUP" -> "configuration N serving", from the log's millisecond timestamps
times=$(awk '/received SIGHUP, reloading/ { split($1, t, /[T:Z]/); s = t[2] * 3600 + t[3] * 60 + t[4] }
             /reload: configuration [0-9]+ serving/ { split($1, t, /[T:Z]/); printf "%.1f\n", (t[2] * 3600 + t[3] * 60 + t[4] - s) * 1000 }' \
    "$OUT/kvedge.log" | sort -n)
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '\nratio req/s with reloads / without: median %s (rounds: %s)\n' "$(printf '%s\n' "${ratios[@]}" | median)" "${ratios[*]}"
printf 'reloads applied: %s, refused: %s; reload time ms: median %s, max %s\n' "$reloads" "$failed" \
    "$(median <<<"$times")" "$(tail -1 <<<"$times")"
printf 'results and kvedge log: %s\n' "$OUT"

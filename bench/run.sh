#!/usr/bin/env bash
# kvedge benchmark: kvedge against webdis, nginx `return 200` (the machine's HTTP ceiling) and
# redis-benchmark (Redis's own limit), in ONE run on loopback, ROUNDS interleaved rounds; then
# bench/summarize.py prints the tables, the ratios (computed within each round, median over rounds)
# and a PASS/MISS line per bar.  Method: docs/benchmarks.md and bench/README.md.
#
#   bench/run.sh                         3 rounds x 10 s per test (about 20 minutes)
#   ROUNDS=1 DURATION=3s bench/run.sh    quick trial
#
# Environment: ROUNDS (3), DURATION (10s), CONNS ("16 64"), SERVER_CPU (1), CLIENT_CPU (0),
#   WORK (bench/results/<date>), KVEDGE_REDIS (unix|tcp), WEBDIS_REDIS (tcp|unix), KVEDGE_THREADS (1),
#   WARMUP (1s, 0 = none), ONLY (comma list of test names, "redis" for redis-benchmark),
#   PIPELINE (100 commands), BASE_PORT (27200), KVEDGE_BIN / SKIP_BUILD=1, SKIP_INSTALL=1, STRICT=1
#   (exit non-zero when a bar is missed, not only when a correctness check fails).
# Exit status: 0 = every correctness check passed (and with STRICT=1 every bar), 1 = otherwise.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${ROUNDS:=3}"
: "${DURATION:=10s}"
: "${CONNS:=16 64}"
: "${WARMUP:=1s}"
: "${ONLY:=}"
: "${PIPELINE:=100}"
: "${STRICT:=0}"
: "${WORK:=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)}"

dur_s() { # 10s / 1m / 500ms -> seconds (integer, at least 1)
    case $1 in
    *ms) echo $(((${1%ms} + 999) / 1000)) ;;
    *s) echo "${1%s}" ;;
    *m) echo $((${1%m} * 60)) ;;
    *) echo "$1" ;;
    esac
}
D=$(dur_s "$DURATION")
[[ "$D" =~ ^[0-9]+$ ]] && [ "$D" -ge 1 ] || die "DURATION=$DURATION: use e.g. 10s"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS=$ROUNDS"

# --- 1. tools, build ---------------------------------------------------------------------------
need_tools wrk:wrk webdis:webdis nginx:nginx-light redis-server:redis-server redis-cli:redis-tools \
    redis-benchmark:redis-tools curl:curl python3:python3 taskset:util-linux ss:iproute2 cmake:cmake
NGINX=$(find_tool nginx)
check_cpus

mkdir -p "$WORK" || die "cannot create WORK=$WORK"
WORK=$(cd "$WORK" && pwd)
RAW="$WORK/raw" LOGS="$WORK/logs" RUN="$WORK/run" PIDDIR="$WORK/run/pids"
mkdir -p "$RAW" "$LOGS" "$RUN" "$PIDDIR"
: >"$RAW/checks.txt"
SRV_STATUS_FILE="$RAW/exit-status.txt"
: >"$SRV_STATUS_FILE"
msg "results in $WORK"

build_kvedge "$LOGS/build.log"

# a unix socket path must fit in sun_path (108 bytes)
SOCK="$RUN/redis.sock"
if [ ${#SOCK} -gt 100 ]; then
    SOCKDIR=$(mktemp -d)  # a short path: sun_path holds 108 bytes
    SOCK="$SOCKDIR/redis.sock"
fi

cleanup() {
    stop_all
    [ -n "${SOCKDIR:-}" ] && rm -rf "$SOCKDIR"
}
trap cleanup EXIT
trap 'msg "interrupted"; exit 130' INT TERM HUP

# --- 2. servers ----------------------------------------------------------------------------------
ports_free "$P_REDIS" "$P_WEBDIS" "$P_NGINX" "$P_KVEDGE"
PIN=(taskset -c "$SERVER_CPU")
CPIN=(taskset -c "$CLIENT_CPU")
KVEDGE_URL_REDIS=$(kvedge_redis_url "$KVEDGE_REDIS" "$SOCK" "$P_REDIS")
write_kvedge_conf "$RUN/kvedge.yaml" "$P_KVEDGE" "$KVEDGE_URL_REDIS" "$RUN/kvedge-data" "$LOGS/kvedge-error.log"
write_webdis_conf "$RUN/webdis.json" "$P_WEBDIS" "$WEBDIS_REDIS" "$SOCK" "$P_REDIS" "$LOGS/webdis.log"
write_nginx_conf "$RUN/nginx.conf" "$P_NGINX" "$RUN" "$LOGS/nginx-error.log"
"$KVEDGE" -t -c "$RUN/kvedge.yaml" >"$LOGS/kvedge-configtest.log" 2>&1 || { cat "$LOGS/kvedge-configtest.log" >&2; die "kvedge rejects the generated configuration"; }
"$NGINX" -t -e "$LOGS/nginx-error.log" -c "$RUN/nginx.conf" >"$LOGS/nginx-configtest.log" 2>&1 || { cat "$LOGS/nginx-configtest.log" >&2; die "nginx rejects the generated configuration"; }

start_srv redis "$LOGS/redis.log" "${PIN[@]}" redis-server --bind 127.0.0.1 --port "$P_REDIS" --unixsocket "$SOCK" \
    --unixsocketperm 700 --save "" --appendonly no --dir "$RUN" --daemonize no --loglevel warning
wait_listen redis "$P_REDIS" || { tail "$LOGS/redis.log" >&2; die "redis-server did not start"; }
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.05; done
redis-cli -s "$SOCK" SET "$KEY" "$VALUE" >/dev/null || die "cannot preload $KEY"
start_srv kvedge "$LOGS/kvedge.out" "${PIN[@]}" "$KVEDGE" -c "$RUN/kvedge.yaml"
start_srv webdis "$LOGS/webdis.out" "${PIN[@]}" webdis "$RUN/webdis.json"
start_srv nginx "$LOGS/nginx.out" "${PIN[@]}" "$NGINX" -e "$LOGS/nginx-error.log" -c "$RUN/nginx.conf"
wait_listen kvedge "$P_KVEDGE" || { tail "$LOGS/kvedge-error.log" "$LOGS/kvedge.out" >&2; die "kvedge did not start"; }
wait_listen webdis "$P_WEBDIS" || { tail "$LOGS/webdis.out" "$LOGS/webdis.log" >&2; die "webdis did not start"; }
wait_listen nginx "$P_NGINX" || { tail "$LOGS/nginx.out" "$LOGS/nginx-error.log" >&2; die "nginx did not start"; }
for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_KVEDGE/readyz")" = 200 ] && break
    sleep 0.1
done
msg "servers up: redis $P_REDIS + $SOCK, kvedge $P_KVEDGE (redis $KVEDGE_REDIS), webdis $P_WEBDIS (redis $WEBDIS_REDIS), nginx $P_NGINX; pids ${SRV_PID[*]}"

# --- 3. tests --------------------------------------------------------------------------------------
KV="http://127.0.0.1:$P_KVEDGE"
WD="http://127.0.0.1:$P_WEBDIS"
export BENCH_TOKEN=$KV_TOKEN BENCH_KEY=$KEY BENCH_VALUE=$VALUE BENCH_PIPELINE=$PIPELINE
# name | url | wrk script | commands per request
TESTS=(
    "nginx-return|http://127.0.0.1:$P_NGINX/r|plain.lua|1"
    "kvedge-healthz|$KV/healthz|plain.lua|1"
    "kvedge-get|$KV/kv/get/$KEY|kv-get.lua|1"
    "webdis-get|$WD/GET/$KEY|plain.lua|1"
    "kvedge-get-post|$KV/kv|kv-get-post.lua|1"
    "kvedge-set|$KV/kv|kv-set.lua|1"
    "webdis-set|$WD/SET/$KEY/$VALUE|plain.lua|1"
    "kvedge-pipeline$PIPELINE|$KV/kv/pipeline|kv-pipeline.lua|$PIPELINE"
)
selected() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# --- 4. correctness before the run ---------------------------------------------------------------
check() { # check NAME EXPECTED_STATUS EXPECTED_BODY curl-args...
    local name=$1 want_status=$2 want_body=$3 body status
    shift 3
    body=$(curl -s -m 5 -o - -w '\n%{http_code}' "$@")
    status=${body##*$'\n'}
    body=${body%$'\n'*}
    if [ "$status" = "$want_status" ] && [ "$body" = "$want_body" ]; then
        echo "OK $name" >>"$RAW/checks.txt"
    else
        echo "FAIL $name: want $want_status '${want_body:0:80}...', got $status '${body:0:200}'" >>"$RAW/checks.txt"
        msg "CHECK FAILED: $name: HTTP $status, body ${body:0:200}"
    fi
}
pipeline_body() { local i s="[" c; for ((i = 0; i < $1; i++)); do c="$2"; [ $i -gt 0 ] && s+=","; s+=$c; done; echo "$s]"; }
AUTH=(-H "Authorization: Bearer $KV_TOKEN")
correctness() { # correctness PHASE (before|after)
    local p=$1
    check "$p:kvedge GET /kv/get/$KEY body" 200 "{\"result\":\"$VALUE\"}" "${AUTH[@]}" "$KV/kv/get/$KEY"
    check "$p:kvedge POST /kv [GET] body" 200 "{\"result\":\"$VALUE\"}" "${AUTH[@]}" -H 'Content-Type: application/json' --data-raw "[\"GET\",\"$KEY\"]" "$KV/kv"
    check "$p:kvedge POST /kv [SET] body" 200 '{"result":"OK"}' "${AUTH[@]}" -H 'Content-Type: application/json' --data-raw "[\"SET\",\"$KEY\",\"$VALUE\"]" "$KV/kv"
    check "$p:kvedge /pipeline of $PIPELINE GET body" 200 "$(pipeline_body "$PIPELINE" "{\"result\":\"$VALUE\"}")" \
        "${AUTH[@]}" -H 'Content-Type: application/json' --data-raw "$(pipeline_body "$PIPELINE" "[\"GET\",\"$KEY\"]")" "$KV/kv/pipeline"
    check "$p:kvedge without token is refused" 401 '{"error":"WRONGPASS invalid or missing auth token"}' "$KV/kv/get/$KEY"
    check "$p:kvedge /healthz" 200 $'ok\n' "$KV/healthz"
    check "$p:webdis GET body" 200 "{\"GET\":\"$VALUE\"}" "$WD/GET/$KEY"
    check "$p:webdis SET body" 200 '{"SET":[true,"OK"]}' "$WD/SET/$KEY/$VALUE"
    check "$p:nginx return 200 body" 200 "$VALUE" "http://127.0.0.1:$P_NGINX/r"
    [ "$(redis-cli -s "$SOCK" GET "$KEY")" = "$VALUE" ] && echo "OK $p:redis $KEY intact" >>"$RAW/checks.txt" ||
        echo "FAIL $p:redis $KEY changed" >>"$RAW/checks.txt"
}
correctness before
grep -q '^FAIL' "$RAW/checks.txt" && die "correctness checks failed before the run (see above); not benchmarking a broken server"
curl -s "$KV/metrics" >"$RAW/kvedge-metrics-before.txt"

# --- 5. metadata -----------------------------------------------------------------------------------
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
{ # one key=value per line (the value is the rest of the line)
    echo "date=$(date -Is)"
    echo "host=$(uname -n)"
    echo "kernel=$(uname -r)"
    echo "cpus=$(nproc --all)"
    echo "model=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "mem_total_kb=$(awk '/MemTotal/{print $2}' /proc/meminfo)"
    echo "git=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo ?)"
    echo "dirty_files=$(git -C "$REPO_DIR" status --porcelain -- . ':!bench' ':!docs/benchmarks.md' 2>/dev/null | wc -l)"
    echo "kvedge=$("$KVEDGE" --version 2>&1 | head -1)"
    echo "binary=$KVEDGE"
    echo "sha256=$(sha256sum "$KVEDGE" | cut -c1-16)"
    echo "versions=redis-server $(pkgver redis-server), webdis $(pkgver webdis), nginx-light $(pkgver nginx-light), wrk $(pkgver wrk), libh2o-evloop $(dpkg-query -W -f='${Version}' 'libh2o-evloop0*' 2>/dev/null | head -1), libhiredis $(dpkg-query -W -f='${Version}' 'libhiredis0*' 2>/dev/null | head -1)"
    echo "rounds=$ROUNDS"
    echo "duration=$DURATION"
    echo "conns=$CONNS"
    echo "server_cpu=$SERVER_CPU"
    echo "client_cpu=$CLIENT_CPU"
    echo "value_bytes=$VALUE_BYTES"
    echo "pipeline=$PIPELINE"
    echo "kvedge_redis=$KVEDGE_REDIS"
    echo "webdis_redis=$WEBDIS_REDIS"
    echo "kvedge_threads=$KVEDGE_THREADS"
    echo "clk_tck=$CLK_TCK"
    echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RAW/meta.txt"
echo "kvedge_idle_rss_kb=$(tree_rss_kb "${SRV_PID[kvedge]}")" >>"$RAW/meta.txt"

# --- 6. the matrix -------------------------------------------------------------------------------
TIMEFORMAT='%U %S %R'
run_wrk() { # run_wrk NAME CONNS ROUND URL SCRIPT MULT
    local name=$1 c=$2 r=$3 url=$4 script=$5 mult=$6 f
    f="$RAW/wrk-$name-c$c-r$r"
    {
        echo "mult=$mult"
        echo "before $(snapshot)"
    } >"$f.meta"
    { time "${CPIN[@]}" wrk -t1 -c"$c" -d"$DURATION" --latency -s "$BENCH_DIR/wrk/$script" "$url" >"$f.txt" 2>&1; } 2>"$f.time"
    {
        echo "after $(snapshot)"
        echo "client $(tail -1 "$f.time")"
        echo "kvedge_rss_kb=$(tree_rss_kb "${SRV_PID[kvedge]}")"
    } >>"$f.meta"
    local line
    line=$(grep '^BENCH ' "$f.txt")
    if [ -z "$line" ]; then
        msg "  r$r c$c $name: wrk failed: $(tail -3 "$f.txt" | tr '\n' ' ')"
        return
    fi
    python3 - "$line" "$mult" "$name" "$c" "$r" <<'PY' >&2
import sys
kv = dict(x.split('=') for x in sys.argv[1].split()[1:])
rps = int(kv['requests']) / (int(kv['duration_us']) / 1e6)
err = sum(int(kv[k]) for k in kv if k.startswith('err_'))
m = int(sys.argv[2])
extra = f" = {rps*m:,.0f} cmds/s" if m > 1 else ""
print(f"[bench]   r{sys.argv[5]} c{sys.argv[4]} {sys.argv[3]:<22} {rps:>10,.0f} req/s{extra}  p50 {int(kv['p50_us'])/1000:.3f} ms  p99 {int(kv['p99_us'])/1000:.2f} ms"
      + (f"  ERRORS {err}" if err else ""))
PY
}
run_rb() { # run_rb TRANSPORT PIPELINE CONNS ROUND
    local tr=$1 p=$2 c=$3 r=$4 n tgt f
    # about DURATION seconds per command type on a quiet machine
    n=$([ "$p" = 1 ] && echo $((45000 * D)) || echo $((600000 * D)))
    [ "$tr" = tcp ] && tgt=(-h 127.0.0.1 -p "$P_REDIS") || tgt=(-s "$SOCK")
    f="$RAW/rb-$tr-P$p-c$c-r$r"
    echo "before $(snapshot)" >"$f.meta"
    { time "${CPIN[@]}" redis-benchmark "${tgt[@]}" -t get,set -n "$n" -c "$c" -P "$p" -d "$VALUE_BYTES" --csv >"$f.csv" 2>"$f.err"; } 2>"$f.time"
    {
        echo "after $(snapshot)"
        echo "client $(tail -1 "$f.time")"
        echo "n=$n"
    } >>"$f.meta"
    msg "  r$r c$c redis-benchmark $tr -P $p: $(awk -F'","' 'NR>1{gsub(/"/,"",$1); gsub(/"/,"",$2); printf "%s %'"'"'.0f/s  ", $1, $2}' "$f.csv")"
}

if [ "$WARMUP" != 0 ]; then
    msg "warm-up: $WARMUP per test"
    for t in "${TESTS[@]}"; do
        IFS='|' read -r name url script mult <<<"$t"
        selected "$name" || continue
        "${CPIN[@]}" wrk -t1 -c16 -d"$WARMUP" -s "$BENCH_DIR/wrk/$script" "$url" >"$RAW/warmup-$name.txt" 2>&1
    done
fi

for r in $(seq "$ROUNDS"); do
    echo "round $r start $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/load.txt"
    msg "round $r/$ROUNDS (load $(cut -d' ' -f1-3 /proc/loadavg))"
    for c in $CONNS; do
        for t in "${TESTS[@]}"; do
            IFS='|' read -r name url script mult <<<"$t"
            selected "$name" || continue
            run_wrk "$name" "$c" "$r" "$url" "$script" "$mult"
        done
    done
    if selected redis; then
        for tr in tcp unix; do
            for p in 1 16; do
                for c in $CONNS; do run_rb "$tr" "$p" "$c" "$r"; done
            done
        done
    fi
    echo "round $r end $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/load.txt"
done

# --- 7. after the run: correctness again, kvedge's own view, clean shutdown ------------------------
curl -s "$KV/metrics" >"$RAW/kvedge-metrics-after.txt"
correctness after
{
    echo "kvedge_after_rss_kb=$(tree_rss_kb "${SRV_PID[kvedge]}")"
    echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$RAW/meta.txt"
for n in redis kvedge webdis nginx; do
    kill -0 "${SRV_PID[$n]}" 2>/dev/null && echo "OK $n still running at the end" >>"$RAW/checks.txt" ||
        echo "FAIL $n died during the run" >>"$RAW/checks.txt"
done
stop_srv kvedge 30 # kvedge first: it must drain and exit 0 on SIGTERM
stop_all
if grep -q '^kvedge 0$' "$SRV_STATUS_FILE"; then
    echo "OK kvedge exited 0 on SIGTERM" >>"$RAW/checks.txt"
else
    echo "FAIL kvedge exit status on SIGTERM: $(awk '$1=="kvedge"{print $2}' "$SRV_STATUS_FILE")" >>"$RAW/checks.txt"
fi
cp "$LOGS/kvedge-error.log" "$RAW/kvedge-error.log" 2>/dev/null

# --- 8. summary ------------------------------------------------------------------------------------
python3 "$BENCH_DIR/summarize.py" "$WORK" | tee "$WORK/summary.md"
rc=${PIPESTATUS[0]}
msg "summary: $WORK/summary.md"
if [ "$rc" = 1 ]; then
    exit 1
elif [ "$rc" = 2 ] && [ "$STRICT" = 1 ]; then
    exit 1
fi
exit 0

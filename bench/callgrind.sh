#!/usr/bin/env bash
# Instructions per request (callgrind "Ir", user space only) of kvedge and of the redis-server behind
# it. Ir does not depend on machine load: the same binary, configuration and request give the same
# count to within about 1 %, so it is the regression gate, where req/s on this machine is not.
#
# Method (two-run difference): h2o-based servers cannot be driven by callgrind_control (vgdb's ptrace
# "invoke" fails with EINTR), so each measurement starts redis-server and kvedge under callgrind
# twice, sends N0 requests in the first run and N0+N in the second over one keep-alive connection
# (h2load --h1 -c1 -n), stops both with SIGTERM (callgrind writes its totals at exit; kvedge drains and
# exits 0), and reports  Ir/request = (Ir(N0+N) - Ir(N0)) / N  for each process. Start-up, the first
# connection and shutdown are identical in both runs and cancel out.
#
#   bench/callgrind.sh                    get healthz redis   (N=2000)
#   N=5000 bench/callgrind.sh get set get-post pipeline
#
# tests: get       GET /kv/get/k100 (path form)           kvedge + redis Ir/request
#        get-post  POST /kv ["GET","k100"]                kvedge + redis
#        set       POST /kv ["SET","k100","<value>"]      kvedge + redis
#        pipeline  POST /kv/pipeline, PIPELINE GET cmds   kvedge + redis, also per command
#        healthz   GET /healthz                           kvedge (Redis is not involved)
#        redis     redis-benchmark -c1 -P1 GET directly   redis alone: the reference for Redis's share
#        cache-mem   GET /c/obj on a cached route, answered from the memory tier (memory: 16MiB)   kvedge + redis
#        cache-store GET /c/obj on a cached route without memory: answered from the store       kvedge + redis
#        cache-vary  GET /c/vobj (Vary: Accept-Encoding, the request says gzip) from the memory tier  kvedge + redis
#                  (a python3 http.server origin serves the 13-byte /obj and /vobj once; kvedge stores them with
#                  default_ttl)
# Environment: N (2000), N0 (200), PIPELINE (100), CG_REDIS_HZ (1), KVEDGE_REDIS (unix|tcp), WORK, BASE_PORT, SERVER_CPU,
#   CLIENT_CPU, KVEDGE_BIN / SKIP_BUILD=1, SKIP_INSTALL=1.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${N:=2000}"
: "${N0:=200}"
: "${PIPELINE:=100}"
: "${CG_REDIS_HZ:=1}" # redis serverCron rate: its work grows with wall time (slower under callgrind), so keep it low
: "${WORK:=$BENCH_DIR/results/callgrind-$(date +%Y%m%d-%H%M%S)}"
[[ "$N" =~ ^[1-9][0-9]*$ && "$N0" =~ ^[1-9][0-9]*$ ]] || die "N and N0 must be positive integers"
TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] || TESTS=(get healthz redis)
for t in "${TESTS[@]}"; do
    case $t in get | get-post | set | pipeline | healthz | redis | cache-mem | cache-store | cache-vary) ;; *) die "unknown test '$t' (get get-post set pipeline healthz redis cache-mem cache-store cache-vary)" ;; esac
done

need_tools valgrind:valgrind h2load:nghttp2-client redis-server:redis-server redis-cli:redis-tools \
    redis-benchmark:redis-tools curl:curl ss:iproute2 taskset:util-linux cmake:cmake
check_cpus
mkdir -p "$WORK" || die "cannot create WORK=$WORK"
WORK=$(cd "$WORK" && pwd)
build_kvedge "$WORK/build.log"

P_CG_REDIS=$((BASE_PORT + 41))
P_CG_KV=$((BASE_PORT + 42))
P_CG_ORIGIN=$((BASE_PORT + 43))
ports_free "$P_CG_REDIS" "$P_CG_KV" "$P_CG_ORIGIN"
SOCK="$WORK/redis.sock"
if [ ${#SOCK} -gt 100 ]; then
    SOCKDIR=$(mktemp -d)  # a short path: sun_path holds 108 bytes
    SOCK="$SOCKDIR/redis.sock"
fi
trap 'stop_all; [ -n "${SOCKDIR:-}" ] && rm -rf "$SOCKDIR"' EXIT
trap 'msg "interrupted"; exit 130' INT TERM HUP

PIN=(taskset -c "$SERVER_CPU")
CPIN=(taskset -c "$CLIENT_CPU")
KV="http://127.0.0.1:$P_CG_KV"
VG=(valgrind --tool=callgrind --trace-children=no)
printf '["GET","%s"]' "$KEY" >"$WORK/get.json"
printf '["SET","%s","%s"]' "$KEY" "$VALUE" >"$WORK/set.json"
{
    printf '['
    for ((i = 0; i < PIPELINE; i++)); do
        [ $i -gt 0 ] && printf ','
        printf '["GET","%s"]' "$KEY"
    done
    printf ']'
} >"$WORK/pipeline.json"
RESULTS="$WORK/callgrind.txt"
: >"$RESULTS"

# the origin: http.server, with Vary: Accept-Encoding on /vobj
ORIGIN_PY='
import functools, http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        if self.path.startswith("/vobj"):
            self.send_header("Vary", "Accept-Encoding")
        super().end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), functools.partial(H, directory=sys.argv[2])).serve_forever()
'

# cache_route TEST DIR: starts the origin and prints the cached route for kvedge's configuration
cache_route() {
    mkdir -p "$2/origin" && printf 'hello world\n' >"$2/origin/obj" && printf 'hello world\n' >"$2/origin/vobj"
    start_srv origin "$2/origin.log" python3 -c "$ORIGIN_PY" "$P_CG_ORIGIN" "$2/origin"
    wait_listen origin "$P_CG_ORIGIN" 30 || return 1
    local memory=''
    [ "$1" != cache-store ] && memory=', memory: 16MiB'
    printf 'routes:\n  - path: /c\n    upstream: "http://127.0.0.1:%s/"\n    cache: { default_ttl: 1h%s }\n' "$P_CG_ORIGIN" "$memory"
}

# cache_warm TEST: until /c/obj is a hit (from memory for cache-mem; the same few requests in both runs)
cache_warm() {
    local want='kvedge; hit; ttl=[0-9]+$' st path=obj
    [ "$1" != cache-store ] && want='detail=memory'
    [ "$1" = cache-vary ] && path=vobj
    for _ in $(seq 300); do
        st=$(curl -s -m 30 -H 'accept-encoding: gzip' -o /dev/null -D - "$KV/c/$path" | tr -d '\r' | sed -n 's/^cache-status: //Ip')
        echo "$st" | grep -Eq "$want" && return 0
        sleep 0.1
    done
    msg "$1: /c/$path never became a hit (last Cache-Status: $st)"
    return 1
}

ir_of() { # total Ir of a callgrind output file (0 if there is none)
    local v
    v=$(awk '/^(summary|totals):/{print $2; exit}' "$1" 2>/dev/null)
    echo "${v:-0}"
}

# client TEST COUNT OUTFILE -> 0 if all COUNT requests got a 2xx
client() {
    local t=$1 n=$2 out=$3 auth=(-H "authorization: Bearer $KV_TOKEN")
    case $t in
    get) "${CPIN[@]}" h2load --h1 -c1 -t1 -n "$n" "${auth[@]}" "$KV/kv/get/$KEY" ;;
    get-post) "${CPIN[@]}" h2load --h1 -c1 -t1 -n "$n" "${auth[@]}" -H 'content-type: application/json' -d "$WORK/get.json" "$KV/kv" ;;
    set) "${CPIN[@]}" h2load --h1 -c1 -t1 -n "$n" "${auth[@]}" -H 'content-type: application/json' -d "$WORK/set.json" "$KV/kv" ;;
    pipeline) "${CPIN[@]}" h2load --h1 -c1 -t1 -n "$n" "${auth[@]}" -H 'content-type: application/json' -d "$WORK/pipeline.json" "$KV/kv/pipeline" ;;
    healthz) "${CPIN[@]}" h2load --h1 -c1 -t1 -n "$n" "$KV/healthz" ;;
    cache-mem | cache-store) "${CPIN[@]}" h2load --h1 -c1 -t1 -n "$n" "$KV/c/obj" ;;
    cache-vary) "${CPIN[@]}" h2load --h1 -c1 -t1 -n "$n" -H 'accept-encoding: gzip' "$KV/c/vobj" ;;
    redis) "${CPIN[@]}" redis-benchmark -s "$SOCK" -c 1 -P 1 -n "$n" -t get -d "$VALUE_BYTES" --csv ;;
    esac >"$out" 2>&1
    if [ "$t" = redis ]; then
        grep -q '"GET"' "$out"
    else
        grep -qE "status codes: $n 2xx" "$out"
    fi
}

one_run() { # one_run TEST COUNT DIR -> sets RUN_IR="kvedge_ir redis_ir" (not in a subshell: the trap must see the PIDs)
    local t=$1 n=$2 d=$3 kvurl
    rm -rf "$d"
    mkdir -p "$d"
    start_srv redis "$d/redis.log" "${PIN[@]}" "${VG[@]}" --callgrind-out-file="$d/redis.cg" \
        redis-server --bind 127.0.0.1 --port "$P_CG_REDIS" --unixsocket "$SOCK" --unixsocketperm 700 \
        --save "" --appendonly no --dir "$d" --daemonize no --loglevel warning --hz "$CG_REDIS_HZ"
    wait_listen redis "$P_CG_REDIS" 120 || { tail "$d/redis.log" >&2; return 1; }
    for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
    redis-cli -s "$SOCK" SET "$KEY" "$VALUE" >/dev/null
    redis-cli -s "$SOCK" SET "key:__rand_int__" "$VALUE" >/dev/null # redis-benchmark's GET key
    if [ "$t" != redis ]; then
        kvurl=$(kvedge_redis_url "$KVEDGE_REDIS" "$SOCK" "$P_CG_REDIS")
        write_kvedge_conf "$d/kvedge.yaml" "$P_CG_KV" "$kvurl" "$d/kvedge-data" "$d/kvedge-error.log" 30s
        case $t in cache-mem | cache-store | cache-vary) cache_route "$t" "$d" >"$d/route.yaml" && cat "$d/route.yaml" >>"$d/kvedge.yaml" || return 1 ;; esac
        start_srv kvedge "$d/kvedge.out" "${PIN[@]}" "${VG[@]}" --callgrind-out-file="$d/kvedge.cg" "$KVEDGE" -c "$d/kvedge.yaml"
        wait_listen kvedge "$P_CG_KV" 120 || { tail "$d/kvedge.out" "$d/kvedge-error.log" >&2; return 1; }
        # ready = the Redis link is up (read from the log: polling /readyz would add requests)
        for _ in $(seq 600); do grep -q 'link to .* is up' "$d/kvedge-error.log" 2>/dev/null && break; sleep 0.1; done
        grep -q 'link to .* is up' "$d/kvedge-error.log" || { msg "kvedge: Redis link not up"; return 1; }
        # one correctness check (identical in both runs, so it cancels out)
        local body
        body=$(curl -s -m 30 -H "Authorization: Bearer $KV_TOKEN" "$KV/kv/get/$KEY")
        [ "$body" = "{\"result\":\"$VALUE\"}" ] || { msg "kvedge GET body is wrong: ${body:0:200}"; return 1; }
    fi
    case $t in cache-mem | cache-store | cache-vary) cache_warm "$t" || return 1 ;; esac
    client "$t" "$n" "$d/client.out" || { msg "$t: not all $n requests succeeded:"; grep -E 'requests:|status codes' "$d/client.out" >&2; return 1; }
    sleep 0.3
    if [ "$t" != redis ]; then
        stop_srv kvedge 60
        grep -q '^kvedge 0$' "$SRV_STATUS_FILE" || msg "WARNING: kvedge did not exit 0 on SIGTERM ($(tail -1 "$SRV_STATUS_FILE"))"
    fi
    case $t in cache-mem | cache-store | cache-vary) stop_srv origin 10 ;; esac
    stop_srv redis 60
    # shellcheck disable=SC2034  # used by stop_all in lib.sh
    SRV_ORDER=()
    RUN_IR="$(ir_of "$d/kvedge.cg") $(ir_of "$d/redis.cg")"
}

msg "callgrind: N0=$N0, N=$N, kvedge Redis link over $KVEDGE_REDIS; files in $WORK"
for t in "${TESTS[@]}"; do
    SRV_STATUS_FILE="$WORK/$t-exit.txt"
    : >"$SRV_STATUS_FILE"
    msg "$t: run with $N0 requests"
    one_run "$t" "$N0" "$WORK/$t-$N0" || die "$t: first run failed (see $WORK/$t-$N0)"
    r0=$RUN_IR
    : >"$SRV_STATUS_FILE"
    msg "$t: run with $((N0 + N)) requests"
    one_run "$t" "$((N0 + N))" "$WORK/$t-$((N0 + N))" || die "$t: second run failed (see $WORK/$t-$((N0 + N)))"
    r1=$RUN_IR
    read -r k0 q0 <<<"$r0"
    read -r k1 q1 <<<"$r1"
    python3 - "$t" "$N" "$N0" "$PIPELINE" "${k0:-0}" "${k1:-0}" "${q0:-0}" "${q1:-0}" <<'PY' | tee -a "$RESULTS"
import sys
t, n, n0, pipe = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
k0, k1, q0, q1 = (int(x) for x in sys.argv[5:9])
label = {'get': 'GET /kv/get/k100', 'get-post': 'POST /kv ["GET","k100"]', 'set': 'POST /kv ["SET",...]',
         'pipeline': f'POST /kv/pipeline ({pipe} GET)', 'healthz': 'GET /healthz',
         'redis': 'redis-benchmark GET direct', 'cache-mem': 'GET /c/obj (cache, memory hit)',
         'cache-store': 'GET /c/obj (cache, store hit)', 'cache-vary': 'GET /c/vobj (cache, Vary, memory hit)'}[t]
parts = []
if t != 'redis':
    parts.append(f'kvedge Ir/request = {(k1 - k0) / n:9,.0f}')
parts.append(f'redis Ir/request = {(q1 - q0) / n:8,.0f}')
if t == 'pipeline':
    parts.append(f'per command: kvedge {(k1 - k0) / n / pipe:,.0f} + redis {(q1 - q0) / n / pipe:,.0f}')
print(f'{label:<34} ' + '   '.join(parts) + f'   (difference of {n0} and {n0 + n} requests)')
PY
done
msg "results: $RESULTS (profiles: callgrind_annotate $WORK/${TESTS[0]}-$((N0 + N))/kvedge.cg | head -40)"

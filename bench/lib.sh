# Shared settings and helpers for bench/run.sh and bench/callgrind.sh (source it; bash only).
# Every value can be overridden from the environment. Nothing here depends on files outside the repo.
# shellcheck disable=SC2034  # settings used by the scripts that source this file

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

: "${SERVER_CPU:=1}"         # every server (redis, kvedge, webdis, nginx) is pinned to this core
: "${CLIENT_CPU:=0}"         # every load generator (wrk, redis-benchmark, h2load) is pinned here
: "${BASE_PORT:=27200}"      # ports used: BASE+1 redis, +2 webdis, +10 nginx, +20 kvedge, +41/+42 callgrind
: "${KVEDGE_REDIS:=unix}"    # how kvedge reaches Redis: unix | tcp
: "${WEBDIS_REDIS:=tcp}"     # how webdis reaches Redis: tcp | unix
: "${KVEDGE_THREADS:=1}"     # kvedge `threads:`
: "${VALUE_BYTES:=100}"
: "${KVEDGE_BIN:=}"          # use this binary instead of building build/kvedge
: "${SKIP_BUILD:=0}"         # 1: do not run `cmake --build`, use build/kvedge as it is

P_REDIS=$((BASE_PORT + 1))
P_WEBDIS=$((BASE_PORT + 2))
P_NGINX=$((BASE_PORT + 10))
P_KVEDGE=$((BASE_PORT + 20))

KEY=k100
KV_TOKEN=bench-token-0123456789abcdef # >= 16 bytes, as kvedge requires
# The value: a repeating digit pattern (JSON- and URL-safe; a shifted or truncated body is visible).
VALUE=""
while [ ${#VALUE} -lt "$VALUE_BYTES" ]; do VALUE+=0123456789; done
VALUE=${VALUE:0:$VALUE_BYTES}

CLK_TCK=$(getconf CLK_TCK)

msg() { printf '[bench] %s\n' "$*" >&2; }
die() {
    printf '[bench] ERROR: %s\n' "$*" >&2
    exit 1
}

find_tool() { # find_tool NAME -> path (also looks in the sbin directories a non-root PATH lacks)
    local d
    command -v "$1" 2>/dev/null && return 0
    for d in /usr/sbin /sbin /usr/local/sbin; do
        [ -x "$d/$1" ] && { echo "$d/$1"; return 0; }
    done
    return 1
}

# need_tools PKG_HINT... : "tool:package" pairs; installs through scripts/install-deps.sh --bench if
# something is missing and we may (root or sudo), otherwise names what is missing and stops.
need_tools() {
    local missing=() pair tool pkg
    for pair in "$@"; do
        tool=${pair%%:*} pkg=${pair#*:}
        find_tool "$tool" >/dev/null || missing+=("$tool (package $pkg)")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    msg "missing: ${missing[*]}"
    if [ "${SKIP_INSTALL:-0}" != 1 ] && { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then
        msg "installing with scripts/install-deps.sh --bench"
        "$REPO_DIR/scripts/install-deps.sh" --bench || die "scripts/install-deps.sh --bench failed"
        for pair in "$@"; do
            tool=${pair%%:*} pkg=${pair#*:}
            if ! find_tool "$tool" >/dev/null; then
                if [ "$(id -u)" = 0 ]; then
                    msg "installing $pkg with apt-get"
                    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" >/dev/null ||
                        die "apt-get install $pkg failed"
                fi
                find_tool "$tool" >/dev/null || die "$tool is still missing (install package $pkg)"
            fi
        done
    else
        die "not root and no sudo: install the packages above (as root: scripts/install-deps.sh --bench), or set PATH"
    fi
}

build_kvedge() { # sets KVEDGE to the binary to benchmark
    if [ -n "$KVEDGE_BIN" ]; then
        [ -x "$KVEDGE_BIN" ] || die "KVEDGE_BIN=$KVEDGE_BIN is not an executable"
        KVEDGE=$KVEDGE_BIN
        return
    fi
    local cache="$REPO_DIR/build/CMakeCache.txt" bt
    [ -f "$cache" ] || die "no CMake build in $REPO_DIR/build: run 'make build' (RelWithDebInfo) first"
    bt=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$cache")
    [ "$bt" = RelWithDebInfo ] || die "build/ is a '$bt' build; benchmarks need RelWithDebInfo ('make build')"
    if [ "$SKIP_BUILD" != 1 ]; then
        msg "building kvedge (cmake --build build --target kvedge)"
        cmake --build "$REPO_DIR/build" --target kvedge -j"$(nproc)" >"${1:-/dev/null}" 2>&1 ||
            { [ -n "${1:-}" ] && tail -30 "$1" >&2; die "build failed (SKIP_BUILD=1 uses the existing build/kvedge)"; }
    fi
    KVEDGE="$REPO_DIR/build/kvedge"
    [ -x "$KVEDGE" ] || die "$KVEDGE missing after the build"
}

check_cpus() {
    local n
    n=$(nproc --all)
    [ "$SERVER_CPU" -lt "$n" ] && [ "$CLIENT_CPU" -lt "$n" ] || die "SERVER_CPU=$SERVER_CPU / CLIENT_CPU=$CLIENT_CPU: this machine has $n CPUs"
    [ "$SERVER_CPU" != "$CLIENT_CPU" ] || msg "WARNING: server and client share CPU $SERVER_CPU: numbers will not compare with the method"
    taskset -c "$SERVER_CPU" true 2>/dev/null || die "taskset -c $SERVER_CPU fails (cpuset restrictions?)"
    taskset -c "$CLIENT_CPU" true 2>/dev/null || die "taskset -c $CLIENT_CPU fails (cpuset restrictions?)"
}

# --- ports and processes -------------------------------------------------------------------------

listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; } # no connection is made (callgrind-friendly)

ports_free() {
    local p
    for p in "$@"; do
        listening "$p" && die "port $p (127.0.0.1) is already in use: another run? set BASE_PORT=... to move all ports"
    done
    return 0
}

declare -A SRV_PID=()
SRV_ORDER=()

start_srv() { # start_srv NAME LOGFILE cmd...   background process, PID recorded (and in $PIDDIR/NAME.pid)
    local name=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 &
    SRV_PID[$name]=$!
    SRV_ORDER+=("$name")
    [ -n "${PIDDIR:-}" ] && echo $! >"$PIDDIR/$name.pid"
    return 0
}

wait_listen() { # wait_listen NAME PORT [seconds]: until the port listens; fails if the process died
    local name=$1 port=$2 t=${3:-20} i
    for ((i = 0; i < t * 20; i++)); do
        listening "$port" && return 0
        kill -0 "${SRV_PID[$name]}" 2>/dev/null || { msg "$name exited during startup"; return 1; }
        sleep 0.05
    done
    msg "$name: port $port not listening after ${t}s"
    return 1
}

SRV_STATUS_FILE=""
stop_srv() { # stop_srv NAME [seconds]: SIGTERM by PID, SIGKILL after the grace time; records the exit status
    local name=$1 t=${2:-15} pid i rc
    pid=${SRV_PID[$name]:-}
    [ -n "$pid" ] || return 0
    unset "SRV_PID[$name]"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < t * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            # a zombie child still answers kill -0: reap it if it is done
            [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
            msg "$name (pid $pid) did not stop within ${t}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    [ -n "$SRV_STATUS_FILE" ] && echo "$name $rc" >>"$SRV_STATUS_FILE"
    [ -n "${PIDDIR:-}" ] && rm -f "$PIDDIR/$name.pid"
    return 0
}

stop_all() { # reverse start order: front ends first, Redis last
    local i
    for ((i = ${#SRV_ORDER[@]} - 1; i >= 0; i--)); do stop_srv "${SRV_ORDER[$i]}"; done
    SRV_ORDER=()
}

# --- CPU accounting ------------------------------------------------------------------------------

descendants() { # PID and all its descendants
    local p=$1 c
    echo "$p"
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do descendants "$c"; done
}

tree_ticks() { # user+sys clock ticks of a process tree (all threads), 0 if gone
    local pid=$1 t=0 p v
    [ -n "$pid" ] || { echo 0; return; }
    for p in $(descendants "$pid"); do
        v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

tree_rss_kb() {
    local pid=$1 t=0 p v
    [ -n "$pid" ] || { echo 0; return; }
    for p in $(descendants "$pid"); do
        v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

core_stat() { # core_stat N -> "busy steal total" jiffies of one CPU from /proc/stat
    awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat
}

snapshot() { # one line: uptime, ticks of every running server tree, both cores' jiffies
    local n line b s t
    line="uptime=$(cut -d' ' -f1 /proc/uptime)"
    for n in redis kvedge webdis nginx; do line+=" $n=$(tree_ticks "${SRV_PID[$n]:-}")"; done
    read -r b s t <<<"$(core_stat "$SERVER_CPU")"
    line+=" srv_busy=$b srv_steal=$s srv_total=$t"
    read -r b s t <<<"$(core_stat "$CLIENT_CPU")"
    line+=" cli_busy=$b cli_steal=$s cli_total=$t"
    echo "$line"
}

# --- configurations ------------------------------------------------------------------------------

kvedge_redis_url() { # kvedge_redis_url unix|tcp SOCKET PORT
    case $1 in
    unix) echo "unix://$2" ;;
    tcp) echo "redis://127.0.0.1:$3/0" ;;
    *) die "KVEDGE_REDIS must be unix or tcp (is '$1')" ;;
    esac
}

# BENCH_CONSOLE=1: the web console is on (admin token, /ui), to show it costs requests that do not use it nothing
console_conf() {
    [ "${BENCH_CONSOLE:-0}" = 1 ] || return 0
    printf '  token: "%s"\n  console:\n    enabled: true\n' "bench-console-admin-token-0123456789abcdef"
}

write_kvedge_conf() { # write_kvedge_conf FILE PORT REDIS_URL DATA_DIR ERROR_LOG [COMMAND_TIMEOUT]
    mkdir -p "$4"
    cat >"$1" <<EOF
# generated by bench/ for a benchmark run
threads: $KVEDGE_THREADS
data_dir: "$4"
listen:
  - host: 127.0.0.1
    port: $2
log:
  level: info
  error_log: "$5"
  access_log: ""
admin:
  path: /
$(console_conf)
redis:
  url: "$3"
  command_timeout: ${6:-1s}
  connect_timeout: ${6:-1s}
kv:
  path: /kv
  tokens:
    - token: "$KV_TOKEN"
      name: bench
EOF
}

write_webdis_conf() { # write_webdis_conf FILE PORT REDIS_TRANSPORT SOCKET REDIS_PORT LOGFILE
    local host port
    case $3 in
    unix) host=$4 port=0 ;; # webdis: a redis_host starting with "/" is a unix socket
    tcp) host=127.0.0.1 port=$5 ;;
    *) die "WEBDIS_REDIS must be unix or tcp (is '$3')" ;;
    esac
    cat >"$1" <<EOF
{ "redis_host": "$host", "redis_port": $port, "redis_auth": null,
  "http_host": "127.0.0.1", "http_port": $2, "threads": 1, "pool_size": 20,
  "daemonize": false, "database": 0, "verbosity": 1, "logfile": "$6" }
EOF
}

write_nginx_conf() { # write_nginx_conf FILE PORT RUNDIR ERROR_LOG
    mkdir -p "$3/nginx-tmp"
    cat >"$1" <<EOF
# generated by bench/: the HTTP ceiling of the machine (return 200 with a ${VALUE_BYTES}-byte body)
worker_processes 1;
daemon off;
pid $3/nginx.pid;
error_log $4 warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  client_body_temp_path $3/nginx-tmp/body;
  proxy_temp_path $3/nginx-tmp/proxy;
  fastcgi_temp_path $3/nginx-tmp/fastcgi;
  server {
    listen 127.0.0.1:$2;
    location = /r { return 200 "$VALUE"; }
  }
}
EOF
}

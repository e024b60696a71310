#!/usr/bin/env bash
# The cache-tests run against a peer cache, for comparison with kvedge: nginx proxy_cache or Varnish (Debian
# packages), configured as the suite's own docker setup does (docker/nginx/nginx.conf, docker/serve.sh), on
# 127.0.0.1 only, in a temp dir, stopped by PID afterwards.
#
#   tests/cache-conformance/peer.sh nginx   [run.mjs options, e.g. --results /tmp/nginx.json]
#   tests/cache-conformance/peer.sh varnish [run.mjs options]
#
# Needs nginx (any Debian 12 flavour: nginx-light has proxy_cache) or varnish installed
# (scripts/install-deps.sh --bench installs both). Exit status: run.mjs's.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
peer="${1:-}"
shift || true

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/cache-tests-${peer:-peer}.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT

origin_port=$(free_port)
proxy_port=$(free_port)

wait_listening() {
    for _ in $(seq 100); do
        if node -e 'const s=require("net").connect(+process.argv[1],"127.0.0.1");s.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(1))' "$proxy_port"; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "peer.sh: $peer exited before listening on 127.0.0.1:$proxy_port" >&2
            cat "$dir"/*.log >&2 2>/dev/null || true
            exit 2
        fi
        sleep 0.1
    done
    echo "peer.sh: $peer does not listen on 127.0.0.1:$proxy_port after 10 s" >&2
    exit 2
}

case "$peer" in
nginx)
    command -v nginx >/dev/null || { echo "peer.sh: nginx is not installed (scripts/install-deps.sh --bench)" >&2; exit 2; }
    mkdir -p "$dir/cache" "$dir/tmp" "$dir/logs"
    user_line=""
    if [ "$(id -u)" = 0 ]; then
        # workers drop to nobody: they write the cache and temp files (mktemp -d makes $dir 0700)
        chmod 755 "$dir"
        chown nobody "$dir/cache" "$dir/tmp"
        user_line="user nobody nogroup;"
    fi
    # http{} as Debian's /etc/nginx/nginx.conf; server{} = the suite's docker/nginx/nginx.conf on loopback
    cat >"$dir/nginx.conf" <<EOF
$user_line
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log;
daemon off;
events { worker_connections 768; }
http {
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    gzip on;
    client_body_temp_path $dir/tmp/body;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;

    proxy_cache_path $dir/cache levels=1:2 keys_zone=my-cache:8m max_size=1000m inactive=600m;
    proxy_temp_path $dir/tmp/proxy;

    server {
        listen 127.0.0.1:$proxy_port;
        location / {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_cache my-cache;
            proxy_cache_revalidate on;
        }
    }
}
EOF
    nginx -v 2>&1
    nginx -t -q -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
    nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" >"$dir/nginx.log" 2>&1 &
    pid=$!
    ;;
varnish)
    command -v varnishd >/dev/null || { echo "peer.sh: varnish is not installed (scripts/install-deps.sh --bench)" >&2; exit 2; }
    cat >"$dir/default.vcl" <<EOF
vcl 4.1;
backend default {
    .host = "127.0.0.1";
    .port = "$origin_port";
}
EOF
    chmod 755 "$dir"
    chmod 644 "$dir/default.vcl"
    varnishd -V 2>&1 | head -1
    # docker/serve.sh: -p default_ttl=0 -p default_grace=0 -p default_keep=3600 -s malloc,64M
    varnishd -F -n "$dir/varnish" -a "127.0.0.1:$proxy_port" -f "$dir/default.vcl" \
        -p default_ttl=0 -p default_grace=0 -p default_keep=3600 -s malloc,64M >"$dir/varnish.log" 2>&1 &
    pid=$!
    ;;
*)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

wait_listening
status=0
node "$here/run.mjs" --proxy-url "http://127.0.0.1:$proxy_port" --origin-port "$origin_port" "$@" || status=$?
exit "$status"

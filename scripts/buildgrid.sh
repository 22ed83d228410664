#!/usr/bin/env bash
# A real REAPI engine on loopback for the REAPI tests and benchmark: BuildGrid 0.9.1 (from
# PyPI, in a venv of Python >= 3.13 cached under ~/.cache) over a fresh PostgreSQL 15 cluster.
#
#   scripts/buildgrid.sh install          make the venv (idempotent; CI caches it)
#   scripts/buildgrid.sh up DIR PORT PGPORT
#                                         fresh database in DIR/pg on 127.0.0.1:PGPORT, then
#                                         BuildGrid's CAS, Action Cache, Execution and Bots
#                                         services (instance "main") on 127.0.0.1:PORT
#   scripts/buildgrid.sh down DIR         stop both
#   scripts/buildgrid.sh token SECRET_FILE [SECONDS]
#                                         print an HS256 JWT signed with the secret (for the
#                                         engine's JWT authorization), valid SECONDS (3600)
#
# `up` serves TLS when DISTCC_BUILDGRID_TLS_CERT and DISTCC_BUILDGRID_TLS_KEY name a PEM
# certificate and key, and checks JWT bearer tokens when DISTCC_BUILDGRID_JWT_SECRET names a
# file holding the HS256 secret.
#
# BuildGrid ships no worker: `distcc-reapi worker` (with a distccd) is ours. A fresh database
# each run matters: a server restarted on an old one waits for the bots it remembers.
set -euo pipefail

VENV=${DISTCC_BUILDGRID_VENV:-$HOME/.cache/distcc-buildgrid-venv}
BGD=$VENV/bin/bgd
PGBIN=${DISTCC_PGBIN:-/usr/lib/postgresql/15/bin}

find_python() {
    for p in "${DISTCC_PYTHON313:-}" python3.13 /root/.pyenv/versions/3.13*/bin/python3.13 \
        "$HOME"/.pyenv/versions/3.13*/bin/python3.13; do
        [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 && { command -v "$p"; return; }
    done
    echo "error: no Python 3.13 (BuildGrid 0.9.1 needs >= 3.13; set DISTCC_PYTHON313)" >&2
    return 1
}

install() {
    if [ -x "$BGD" ] && "$VENV/bin/python" -c 'import buildgrid' 2>/dev/null; then
        return
    fi
    py=$(find_python)
    rm -rf "$VENV"
    "$py" -m venv "$VENV"
    "$VENV/bin/pip" install -q 'buildgrid==0.9.1'
}

token() { # SECRET_FILE [SECONDS]
    install
    "$VENV/bin/python" - "$1" "${2:-3600}" <<'PY'
import sys, time, jwt
secret = open(sys.argv[1], encoding="utf-8").read().strip()
print(jwt.encode({"sub": "distcc", "exp": int(time.time()) + int(sys.argv[2])}, secret, algorithm="HS256"))
PY
}

wait_port() { # PORT SECONDS
    for _ in $(seq 1 $(($2 * 10))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

up() {
    dir=$1 port=$2 pgport=$3
    [ "$port" -lt 32768 ] && [ "$pgport" -lt 32768 ] || { echo "ports must be < 32768" >&2; exit 2; }
    install
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    chmod 755 "$dir"
    rm -rf "$dir/pg" "$dir/pgsock"
    mkdir -p "$dir/pg" "$dir/pgsock"
    chown postgres: "$dir/pg" "$dir/pgsock"
    as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    as_pg "$PGBIN/initdb" -D "$dir/pg/data" -A trust -U postgres >"$dir/initdb.log" 2>&1
    as_pg "$PGBIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $pgport -k $dir/pgsock -c fsync=off" start >/dev/null
    as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$pgport" -U postgres bgd
    db="postgresql+psycopg://postgres@127.0.0.1:$pgport/bgd"
    "$BGD" migrate apply "$db" >"$dir/migrate.log" 2>&1
    if [ -n "${DISTCC_BUILDGRID_TLS_CERT:-}" ]; then
        channel="    insecure-mode: false
    credentials:
      tls-server-key: $DISTCC_BUILDGRID_TLS_KEY
      tls-server-cert: $DISTCC_BUILDGRID_TLS_CERT"
    else
        channel="    insecure-mode: true"
    fi
    if [ -n "${DISTCC_BUILDGRID_JWT_SECRET:-}" ]; then
        auth="  method: jwt
  algorithm: hs256
  secret: $DISTCC_BUILDGRID_JWT_SECRET"
    else
        auth="  method: none"
    fi
    cat >"$dir/bgd.yml" <<EOF
server:
  - !channel
    address: "127.0.0.1:$port"
$channel
authorization:
$auth
connections:
  - !sql-connection &sql
    connection-string: $db
    pool-size: 5
    max-overflow: 10
storages:
  - !lru-storage &cas
    size: 1024M
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: false
schedulers:
  - !sql-scheduler &sched
    sql: *sql
    storage: *cas
    action-cache: *ac
    bot-session-keepalive-timeout: 30
    max-execution-timeout: 600
    bot-poll-interval: 0.2
    poll-interval: 0.2
    property-set: !dynamic-property-set
      match-property-keys: [distcc-fingerprint, distcc-target, distcc-pool]
    assigners:
      - !priority-age-assigner
        count: 1
        interval: 0.1
instances:
  - name: main
    services:
      - !action-cache
        cache: *ac
      - !execution
        scheduler: *sched
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
thread-pool-size: 40
EOF
    setsid "$BGD" server start ${DISTCC_BUILDGRID_VERBOSE:+-v} --pid-file "$dir/bgd.pid" "$dir/bgd.yml" \
        >"$dir/bgd.log" 2>&1 </dev/null &
    echo $! >"$dir/bgd.pid.launch"
    if ! wait_port "$port" 60; then
        echo "error: BuildGrid did not listen on 127.0.0.1:$port; its log:" >&2
        tail -30 "$dir/bgd.log" >&2
        down "$dir"
        exit 1
    fi
    echo "buildgrid up: grpc://127.0.0.1:$port instance main (log $dir/bgd.log)"
}

down() {
    dir=$1
    for f in "$dir/bgd.pid.launch" "$dir/bgd.pid"; do
        if [ -f "$f" ]; then
            pid=$(cat "$f")
            # The launcher is a session leader (setsid): its whole group goes.
            kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
            rm -f "$f"
        fi
    done
    if [ -d "$dir/pg/data" ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir/pg/data" -m immediate -w stop \
            >/dev/null 2>&1 || true
    fi
}

case "${1:-}" in
install) install ;;
up) shift; up "$@" ;;
down) shift; down "$@" ;;
token) shift; token "$@" ;;
*) echo "usage: $0 install | up DIR PORT PGPORT | down DIR | token SECRET_FILE [SECONDS]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The main job, end to end on this machine: build distcc-rs, start our distccd on a free
# loopback port, compile examples/hello through our distcc client, link and run the program,
# show the daemon's log, and stop the daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --quiet --bins
bin="$PWD/target/release"
work=$(mktemp -d)
chmod 0755 "$work"
daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/distccd" --daemon --no-detach --listen 127.0.0.1 --port "$port" --allow 127.0.0.1/32 \
    --log-stderr --log-level info 2>"$work/distccd.log" &
daemon_pid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
done
export DISTCC_HOSTS="127.0.0.1:$port/4,lzo" DISTCC_DIR="$work/distcc" DISTCC_FALLBACK=0 DISTCC_VERBOSE=0
mkdir -p "$DISTCC_DIR"
cp examples/hello/*.[ch] "$work/"
cd "$work"
echo "== compiling through distcc (daemon on 127.0.0.1:$port, fallback disabled)"
for src in main.c greet.c sum.c; do
    echo "distcc gcc -O2 -c $src"
    "$bin/distcc" gcc -O2 -c "$src" -o "${src%.c}.o"
done
gcc -o hello main.o greet.o sum.o
echo "== running the program"
./hello
echo "== what the daemon logged"
cat distccd.log

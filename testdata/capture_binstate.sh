#!/bin/sh
# Regenerates testdata/binstate_3.4.bin: the monitor state file that Debian's distcc 3.4
# client writes while a remote compile is in flight.
#
# Usage: capture_binstate.sh OUTFILE   (needs Debian's distcc 3.4, gcc and python3)
#
# A loopback listener accepts the connection and stalls, so the client sits in the
# "Compile" phase long enough to copy $DISTCC_DIR/state/binstate_<pid>. Only loopback is used.
set -eu
out=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/dd"
echo 'int x;' >"$work/x.c"
python3 - "$work/port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
c, _ = s.accept(); time.sleep(4); c.close()
PY
while [ ! -s "$work/port" ]; do sleep 0.1; done
(cd "$work" && DISTCC_DIR="$work/dd" DISTCC_HOSTS="127.0.0.1:$(cat port)" \
    distcc gcc -c x.c -o x.o 2>/dev/null) &
sleep 2
cp "$work"/dd/state/binstate_* "$out"
wait

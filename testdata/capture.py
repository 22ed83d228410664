#!/usr/bin/env python3
"""Regenerates the protocol vectors in testdata/ from real distcc 3.4 exchanges.

Usage: capture.py OUTDIR   (needs Debian's distcc and distccd 3.4 and gcc on PATH)

For each case, Debian's distcc client sends a request to a recording listener on loopback
(which then closes, so the client gives up with DISTCC_FALLBACK=0); the recorded request is
replayed to a real distccd 3.4 and its reply recorded. Only loopback is used.
"""
import os, socket, subprocess, sys, tempfile, threading, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def record_request(hosts, args, cwd, env):
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0)); srv.listen(1)
    port = srv.getsockname()[1]
    got = []
    def serve():
        conn, _ = srv.accept()
        conn.settimeout(5)
        data = b""
        try:
            while True:
                b = conn.recv(65536)
                if not b: break
                data += b
                if b"DOTI" in data:
                    # The client half-closes nothing; stop once DOTI's body is complete.
                    i = data.index(b"DOTI"); n = int(data[i+4:i+12], 16)
                    if len(data) >= i + 12 + n: break
        except socket.timeout:
            pass
        got.append(data); conn.close(); srv.close()
    t = threading.Thread(target=serve); t.start()
    e = dict(env, DISTCC_HOSTS=hosts.replace("PORT", str(port)))
    subprocess.run(args, cwd=cwd, env=e, capture_output=True)
    t.join(10)
    return got[0]

def replay(req, port):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(req)
    # No half-close: 3.4's distccd treats it as a hang-up and kills the job.
    data = b""
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
    s.close(); return data

def lzo_literal(data):
    # A valid LZO1X stream made only of one literal run and the end marker; enough for a
    # short file, and any LZO1X decoder (3.4's minilzo included) must accept it.
    assert 0 < len(data) <= 238
    return bytes([17 + len(data)]) + data + b"\x11\x00\x00"

def tok(name, value):
    return name.encode() + b"%08x" % value

def pump_request(cdir, argv, files):
    req = tok("DIST", 3) + tok("CDIR", len(cdir)) + cdir.encode() + tok("ARGC", len(argv))
    for a in argv:
        req += tok("ARGV", len(a)) + a.encode()
    req += tok("NFIL", len(files))
    for name, data in files:
        body = lzo_literal(data)
        req += tok("NAME", len(name)) + name.encode() + tok("FILE", len(body)) + body
    return req

def main():
    out = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp()
    with open(os.path.join(work, "hello.c"), "w") as f:
        f.write('#include <stdio.h>\nint main(void) { printf("hi\\n"); return 0; }\n')
    with open(os.path.join(work, "bad.c"), "w") as f:
        f.write("int f(void) { return undefined_name; }\n")
    env = dict(os.environ, DISTCC_DIR=os.path.join(work, "d"), DISTCC_FALLBACK="0",
               DISTCC_SKIP_LOCAL_RETRY="1", LC_ALL="C")
    os.makedirs(env["DISTCC_DIR"])
    dport = free_port()
    d = subprocess.Popen(["distccd", "--daemon", "--no-detach", "--port", str(dport),
                          "--listen", "127.0.0.1", "--allow", "127.0.0.1/32",
                          "--log-stderr", "--log-level", "warning"])
    time.sleep(0.5)
    try:
        cases = [("v1_hello", "127.0.0.1:PORT", "hello.c"), ("v2_hello", "127.0.0.1:PORT,lzo", "hello.c"),
                 ("v1_error", "127.0.0.1:PORT", "bad.c"), ("v2_error", "127.0.0.1:PORT,lzo", "bad.c")]
        for name, hosts, src in cases:
            req = record_request(hosts, ["distcc", "gcc", "-O2", "-DX=1", "-c", src, "-o", "out.o"], work, env)
            rep = replay(req, dport)
            open(os.path.join(out, name + ".request.bin"), "wb").write(req)
            open(os.path.join(out, name + ".reply.bin"), "wb").write(rep)
            print(name, len(req), len(rep))
        # 3.4's pump client needs its include server, which is broken on Python >= 3.10, so
        # the v3 request is built here by hand; the reply is what a real distccd 3.4 sends.
        cdir = "/tmp/distcc-vector"
        for name, main_c in [("v3_hello", b'#include "h.h"\nint main(void) { return VALUE; }\n'),
                             ("v3_error", b'#include "h.h"\nint main(void) { return nope; }\n')]:
            req = pump_request(cdir, ["gcc", "-c", "main.c", "-o", "main.o"],
                               [(cdir + "/main.c", main_c), (cdir + "/h.h", b"#define VALUE 42\n")])
            rep = replay(req, dport)
            open(os.path.join(out, name + ".request.bin"), "wb").write(req)
            open(os.path.join(out, name + ".reply.bin"), "wb").write(rep)
            print(name, len(req), len(rep))
    finally:
        d.terminate(); d.wait()

main()

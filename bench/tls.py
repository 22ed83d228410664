#!/usr/bin/env python3
"""Issue 14: what TLS costs a trivial compile. Our client compiles a trivial file through one
of our daemons, which serves plain and TLS on the same port (--tls-cert, --tls-client-ca,
--tls-tokens), over:

  tcp             plain TCP (the anchor)
  tls pin+token   TLS, the server checked by DISTCC_TLS_PIN, the client known by DISTCC_TLS_TOKEN
  tls ca+cert     TLS, the server checked against DISTCC_TLS_CA, the client by its certificate

Every compile is a new client process, so each TLS row pays a full TLS 1.3 handshake (rustls
cannot carry a session across processes, see crates/tls): ECDSA P-256 certificates and X25519,
the cheapest full handshake, made here with the openssl CLI. Rounds are interleaved so that
drift hits every row alike; the figure per row is the median wall time of one compile, and the
ratio is against the tcp row of the same run. Target: tls / tcp <= 1.10.

Usage: bench/tls.py [--reps 150] [--out bench/results/tls.txt]
Everything listens on 127.0.0.1 only; the daemon is stopped at the end."""
import argparse, os, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, Daemon, build_ours  # noqa: E402


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all ECDSA P-256."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    p = lambda n: os.path.join(d, n)  # noqa: E731
    openssl("req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2",
            "-subj", "/CN=bench ca")
    for name, san in (("server", "IP:127.0.0.1"), ("client", "DNS:bench-client")):
        openssl("req", *ec, "-keyout", p(f"{name}.key"), "-out", p(f"{name}.csr"),
                "-subj", f"/CN={name}")
        with open(p(f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName={san}\n")
        openssl("x509", "-req", "-in", p(f"{name}.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
                "-CAcreateserial", "-out", p(f"{name}.pem"), "-days", "2", "-extfile", p(f"{name}.ext"))
    with open(p("tokens"), "w") as f:
        f.write("bench s3cret-bench-token\n")
    der = subprocess.run(["openssl", "x509", "-in", p("server.pem"), "-outform", "der"],
                         check=True, capture_output=True).stdout
    import hashlib
    return hashlib.sha256(der).hexdigest()


def timed(argv, env, cwd):
    t = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=150)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "tls.txt"))
    args = ap.parse_args()
    rel = build_ours()
    ours, daemon = os.path.join(rel, "distcc"), os.path.join(rel, "distccd")
    out = [f"bench/tls.py, {time.strftime('%Y-%m-%d %H:%M')}, load average "
           f"{open('/proc/loadavg').read().split()[0]}, {os.cpu_count()} CPUs"]
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as work:
        os.chmod(work, 0o755)
        pki = os.path.join(work, "pki")
        os.makedirs(pki)
        pin = make_pki(pki)
        with open(os.path.join(work, "x.c"), "w") as f:
            f.write("int twice(int x) { return 2 * x; }\n")
        p = lambda n: os.path.join(pki, n)  # noqa: E731
        d = Daemon(daemon, 4, os.path.join(work, "distccd.log"), extra_args=[
            "--tls-cert", p("server.pem"), "--tls-key", p("server.key"),
            "--tls-client-ca", p("ca.pem"), "--tls-tokens", p("tokens")])
        base = dict(os.environ, DISTCC_FALLBACK="0", DISTCC_CACHE="0", DISTCC_DIR=os.path.join(work, "dd"))
        for k in list(base):
            if k in ("DISTCC_VERBOSE", "DISTCC_LOG") or k.startswith("DISTCC_TLS_"):
                base.pop(k)
        os.makedirs(base["DISTCC_DIR"], exist_ok=True)
        tcp = f"127.0.0.1:{d.port}/4"
        envs = {
            "tcp": dict(base, DISTCC_HOSTS=tcp),
            "tls pin+token": dict(base, DISTCC_HOSTS=tcp + ",tls", DISTCC_TLS_PIN=pin,
                                  DISTCC_TLS_TOKEN="s3cret-bench-token"),
            "tls ca+cert": dict(base, DISTCC_HOSTS=tcp + ",tls", DISTCC_TLS_CA=p("ca.pem"),
                                DISTCC_TLS_CERT=p("client.pem"), DISTCC_TLS_KEY=p("client.key")),
        }
        argv = [ours, "gcc", "-c", "x.c", "-o", "x.o"]
        walls = {k: [] for k in envs}
        try:
            for _ in range(5):
                for k, e in envs.items():
                    timed(argv, e, work)
            for rnd in range(args.reps):
                order = list(envs) if rnd % 2 == 0 else list(reversed(list(envs)))
                for k in order:
                    walls[k].append(timed(argv, envs[k], work))
        finally:
            d.stop()
        with open(os.path.join(work, "distccd.log")) as f:
            problems = [l for l in f if "refused" in l or "failed" in l]
        if problems:
            raise SystemExit("the daemon refused or failed jobs:\n" + "".join(problems[:10]))
        anchor = statistics.median(walls["tcp"])
        out.append(f"trivial compile (gcc -c x.c), our client -> our distccd on 127.0.0.1, "
                   f"{args.reps} interleaved rounds, median wall per compile:")
        for k, w in walls.items():
            m = statistics.median(w)
            paired = statistics.median(a / b for a, b in zip(w, walls["tcp"]))
            out.append(f"  {k:14} {m * 1e3:8.2f} ms  ratio {m / anchor:.3f}  paired {paired:.3f}"
                       f"  (+{(m - anchor) * 1e3:.2f} ms)")
        out.append("target: tls / tcp <= 1.10 (a full TLS 1.3 handshake per compile: ECDSA P-256, "
                   "X25519, no resumption across client processes)")
    text = "\n".join(out)
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()

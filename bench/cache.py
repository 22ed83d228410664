#!/usr/bin/env python3
"""Issue 16, the result cache: libgit2 Release built through it, in one run.

1. A local build (no launcher): the reference objects and the anchor wall.
2. Ours: first with the cache off (DISTCC_CACHE=0: what the cache, on by default, costs a
   cold build), then our client with DISTCC_CACHE=1 and DISTCC_CACHE_DIRECT=1 against our distccd with
   --cache-dir, built cold (empty caches), then cleaned and rebuilt warm (every result in the
   client's local cache, found by manifest without preprocessing), and once more warm in
   preprocessor mode (DISTCC_CACHE_DIRECT=0: the preprocessor runs, then the lookup).
3. Debian's ccache 4 with CCACHE_PREFIX=distcc (3.4's client) against distcc 3.4's distccd:
   cold (empty ccache), then cleaned and rebuilt warm.
4. A second client machine: another $DISTCC_DIR (empty local cache) builds the same tree
   against our daemon: the share of its compiles the daemon answered from its cache (daemon
   log: "from the cache" against "exit 0" lines), with the daemon's bytes in as the proof
   that no source went up for them.
5. Pump mode (ours under our pump, hosts ,cpp,lzo, same daemon): cold (the pump keys are
   new: every file compiled), warm (every result in the local cache, keyed by the include
   server's files), and a second client machine's pump build (empty local cache): its
   share from the daemon's cache, as in 4.

Every build's objects must equal the local build's. Each client's $DISTCC_DIR first learns
(one small compile with the cache off) that the daemon speaks protocol 4 and shares a cache,
as it would have from any earlier build. Printed and written to bench/results/cache.txt.
Everything listens on 127.0.0.1. Run from the repository: python3 bench/cache.py [--jobs N]
"""
import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time

import common

CLIENT34 = "/usr/bin/distcc"
DAEMON34 = "/usr/bin/distccd"


def bytes_in(doc):
    """distccd's /json: the one "bytes_in" number, wherever it sits."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "bytes_in":
                return v
            got = bytes_in(v)
            if got is not None:
                return got
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=4, help="make -j and daemon --jobs")
    args = ap.parse_args()
    for tool in ("ccache", CLIENT34, DAEMON34, "cmake", "make", "gcc"):
        if shutil.which(tool) is None:
            raise SystemExit(f"missing {tool} (scripts/install-deps.sh installs it)")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "distcc", "--bin",
                    "distccd", "--bin", "pump", "--bin", "include-server"], cwd=common.ROOT,
                   check=True)
    rel = os.path.join(common.ROOT, "target", "release")
    ours, ours_daemon = os.path.join(rel, "distcc"), os.path.join(rel, "distccd")
    ours_pump = os.path.join(rel, "pump")
    work = tempfile.mkdtemp(prefix="distcc-bench-cache-")
    os.chmod(work, 0o755)
    build = common.configure_libgit2(work)
    make = ["make", "-C", build, f"-j{args.jobs}"]
    lines = []

    def say(text):
        print(text, flush=True)
        lines.append(text)

    def run_build(name, env, prefix=()):
        subprocess.run(["make", "-C", build, "clean"], check=True, capture_output=True)
        t = time.perf_counter()
        p = subprocess.run([*prefix, *make], env=env, capture_output=True)
        wall = time.perf_counter() - t
        if p.returncode != 0:
            raise SystemExit(f"{name}: make failed:\n{p.stderr.decode(errors='replace')[-3000:]}")
        if reference is not None and common.objects(build) != reference:
            raise SystemExit(f"{name}: objects differ from the local build")
        say(f"{name:<34} wall {wall:7.2f} s")
        return wall

    reference = None
    local = run_build("local (gcc, no launcher)", dict(os.environ, LAUNCH=""))
    reference = common.objects(build)
    say(f"  {len(reference)} objects; every build below is compared with these")
    trivial = os.path.join(work, "trivial.c")
    with open(trivial, "w") as f:
        f.write("int trivial;\n")

    # Ours: client cache + the daemon's shared cache.
    dcache = os.path.join(work, "daemon-cache")
    os.mkdir(dcache)
    os.chmod(dcache, 0o1777)
    stats_port = common.free_port()
    d = common.Daemon(ours_daemon, args.jobs, os.path.join(work, "ours-daemon.log"),
                      extra_args=["--log-level", "notice", "--cache-dir", dcache, "--stats",
                                  "--stats-port", str(stats_port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", stats_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        base = dict(os.environ, DISTCC_HOSTS=f"127.0.0.1:{d.port}/{args.jobs}",
                    DISTCC_FALLBACK="0")
        for k in ("DISTCC_VERBOSE", "DISTCC_LOG", "DISTCC_CACHE_DIR", "DISTCC_CACHE_SIZE"):
            base.pop(k, None)

        def client(ddir):
            os.makedirs(ddir, exist_ok=True)
            env = dict(base, DISTCC_DIR=ddir)
            subprocess.run([ours, "gcc", "-c", trivial, "-o", trivial + ".o"],
                           env=dict(env, DISTCC_CACHE="0"), check=True)
            return dict(env, LAUNCH=ours, DISTCC_CACHE="1")

        # What the cache (on by default) costs a cold build: the same build with it off
        # first (no key sent, so the daemon stores nothing), then with it on.
        off = dict(client(os.path.join(work, "client0")), DISTCC_CACHE="0")
        ours_off = run_build("ours cold, cache off", off)
        first = dict(client(os.path.join(work, "client1")), DISTCC_CACHE_DIRECT="1")
        ours_cold = run_build("ours cold (client + daemon cache)", first)
        ours_warm = run_build("ours warm (direct mode)", first)
        ours_warm_cpp = run_build("ours warm (preprocessor mode)",
                                  dict(first, DISTCC_CACHE_DIRECT="0"))

        def log_counts():
            with open(os.path.join(work, "ours-daemon.log")) as f:
                text = f.read()
            return text.count(" from the cache "), text.count(" exit 0 ")

        second = client(os.path.join(work, "client2"))
        hits0, ran0 = log_counts()
        in0 = bytes_in(common.stats_json(stats_port))
        second_wall = run_build("second client (empty local cache)", second)
        hits1, ran1 = log_counts()
        in1 = bytes_in(common.stats_json(stats_port))
        hits, ran = hits1 - hits0, ran1 - ran0

        # Pump mode: the same daemon, hosts marked ,cpp,lzo, each build under our pump.
        pump_host = f"127.0.0.1:{d.port}/{args.jobs},cpp,lzo"
        third = dict(client(os.path.join(work, "client3")), DISTCC_HOSTS=pump_host)
        pump_cold = run_build("ours pump cold", third, [ours_pump])
        pump_warm = run_build("ours pump warm (local cache)", third, [ours_pump])
        fourth = dict(client(os.path.join(work, "client4")), DISTCC_HOSTS=pump_host)
        phits0, pran0 = log_counts()
        pin0 = bytes_in(common.stats_json(stats_port))
        pump_second = run_build("ours pump, second client", fourth, [ours_pump])
        phits1, pran1 = log_counts()
        pin1 = bytes_in(common.stats_json(stats_port))
        phits, pran = phits1 - phits0, pran1 - pran0
    finally:
        d.stop()
    c4stats = subprocess.run([ours, "--show-stats"], env=fourth, capture_output=True,
                             text=True).stdout
    c2stats = subprocess.run([ours, "--show-stats"], env=second, capture_output=True,
                             text=True).stdout

    # ccache 4 with 3.4's client, against 3.4's daemon.
    d34 = common.Daemon(DAEMON34, args.jobs, os.path.join(work, "daemon34.log"))
    try:
        ccache_dir = os.path.join(work, "ccache")
        env = dict(os.environ, LAUNCH="ccache", CCACHE_DIR=ccache_dir, CCACHE_PREFIX=CLIENT34,
                   DISTCC_HOSTS=f"127.0.0.1:{d34.port}/{args.jobs}", DISTCC_FALLBACK="0",
                   DISTCC_DIR=os.path.join(work, "client34"))
        for k in ("DISTCC_VERBOSE", "DISTCC_LOG", "CCACHE_DISABLE", "CCACHE_RECACHE"):
            env.pop(k, None)
        os.makedirs(env["DISTCC_DIR"], exist_ok=True)
        cc_cold = run_build("ccache + distcc 3.4 cold", env)
        cc_warm = run_build("ccache + distcc 3.4 warm", env)
        ccs = subprocess.run(["ccache", "-s"], env=env, capture_output=True, text=True).stdout
    finally:
        d34.stop()

    say("")
    say(f"warm rebuild, ours / ccache: {ours_warm / cc_warm:.3f} (target <= 1.0); in "
        f"preprocessor mode {ours_warm_cpp / cc_warm:.3f}")
    say(f"cold build, ours / ccache: {ours_cold / cc_cold:.3f}; ours cold / local "
        f"{ours_cold / local:.3f}; ours warm / local {ours_warm / local:.3f}; "
        f"ccache warm / local {cc_warm / local:.3f}")
    say(f"the cache's cost on a cold build: cache on (the default) / off "
        f"{ours_cold / ours_off:.3f}")
    rate = hits / max(hits + ran, 1)
    say(f"second client: {hits} of {hits + ran} compiles from the daemon's cache "
        f"({rate * 100:.1f} %, target >= 95 %), {ran} compiled; {in1 - in0} bytes reached the "
        f"daemon in that build (request heads only for the hits); wall {second_wall:.2f} s, "
        f"/ ours warm {second_wall / ours_warm:.3f}")
    say(f"pump mode: cold / ccache cold {pump_cold / cc_cold:.3f}; warm rebuild (local "
        f"cache, keyed by the include server's files) / ccache warm {pump_warm / cc_warm:.3f}")
    prate = phits / max(phits + pran, 1)
    say(f"pump second client: {phits} of {phits + pran} compiles from the daemon's cache "
        f"({prate * 100:.1f} %, target >= 95 %), {pran} compiled; {pin1 - pin0} bytes reached "
        f"the daemon; wall {pump_second:.2f} s")
    say("second client's --show-stats:")
    lines.extend("  " + l for l in c2stats.splitlines() if l.strip())
    say("pump second client's --show-stats:")
    lines.extend("  " + l for l in c4stats.splitlines() if l.strip())
    say("ccache -s after its warm build:")
    lines.extend("  " + l for l in ccs.splitlines() if l.strip())
    load = open("/proc/loadavg").read().split()[:3]
    say(f"(one run; make -j{args.jobs}; 2-CPU machine shared with other builds, load "
        f"{' '.join(load)} at the end; objects equal to the local build's in every build)")
    out = os.path.join(common.ROOT, "bench", "results", "cache.txt")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

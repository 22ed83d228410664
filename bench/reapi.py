#!/usr/bin/env python3
"""Issue 18: the same build direct to our daemon and through an REAPI engine, in one run.

A real engine (scripts/buildgrid.sh: BuildGrid 0.9.1 over a fresh PostgreSQL 15), one distccd
(--jobs 2) that serves both the direct rows and, through `distcc-reapi worker --bots 2`, the
engine. Lua's C files (../shared/corpus) are compiled with -O2, two at a time, by our client:

  direct        DISTCC_HOSTS=127.0.0.1:PORT (the anchor)
  reapi cold    DISTCC_HOSTS=reapi://... on a fresh engine: every Action executed by the worker
  reapi cached  the same again after removing the objects: every Action from the Action Cache

Per row: wall time of the whole build (ratio to the anchor), and the bytes that went to the
server: for direct, the preprocessed sources sent (the client's "for N bytes" speed lines);
for REAPI, the blob bytes uploaded to the engine's CAS after FindMissingBlobs, as
distcc-reapi reports them (DISTCC_REAPI_DEBUG), and the bytes read back.

Then the trivial compile (one tiny file, one at a time, to the same daemon over TCP): this
tree's `distcc` (the reapi:// transport built in, no gRPC linked) against a `distcc` built
without it: --base-client, else built here from the main line just before the transport
was merged (the first parent of the oldest first-parent commit of crates/client/src/reapi.rs,
in a temporary git worktree,
with a target directory of its own, the `distcc` binary only). Median of --trivial runs each,
interleaved.

Usage: python3 bench/reapi.py [--profile debug|release] [--trivial 200] [--base-client PATH]
Writes bench/results/reapi.txt. Everything listens on 127.0.0.1 only and is stopped at the end.
"""
import argparse, glob, os, re, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ROOT = common.ROOT


def build(bins, client_env, hosts, files, out_dir, state):
    """Compiles every file, two at a time; returns (wall, stderr texts)."""
    env = dict(os.environ, DISTCC_HOSTS=hosts, DISTCC_DIR=state, DISTCC_CACHE="0", DISTCC_VERBOSE="1",
               DISTCC_REAPI_DEBUG="1", DISTCC_FALLBACK="0", **client_env)
    distcc = os.path.join(bins, "distcc")
    start = time.time()
    running, texts = [], []
    for f in files:
        obj = os.path.join(out_dir, os.path.basename(f)[:-2] + ".o")
        p = subprocess.Popen([distcc, "gcc", "-O2", "-c", f, "-o", obj], env=env,
                             stderr=subprocess.PIPE, text=True, cwd=os.path.dirname(f))
        running.append(p)
        if len(running) == 2:
            q = running.pop(0)
            texts.append(q.communicate()[1])
            if q.returncode != 0:
                raise SystemExit(f"compile failed: {texts[-1]}")
    for q in running:
        texts.append(q.communicate()[1])
        if q.returncode != 0:
            raise SystemExit(f"compile failed: {texts[-1]}")
    return time.time() - start, texts


def bytes_direct(texts):
    return sum(int(m) for t in texts for m in re.findall(r" ms for (\d+) bytes", t))


def bytes_reapi(texts):
    sent = sum(int(m) for t in texts for m in re.findall(r"sent (\d+) bytes", t))
    got = sum(int(m) for t in texts for m in re.findall(r"received (\d+)", t))
    return sent, got


def cargo_build(profile, cwd, target):
    args = ["cargo", "build", "--quiet", "--bin", "distcc"] + (
        ["--release"] if profile == "release" else [])
    if cwd == ROOT:
        args[3:5] = ["--bins"]
    env = dict(os.environ, CARGO_TARGET_DIR=target)
    subprocess.run(args, cwd=cwd, env=env, check=True)


def base_client(profile, work):
    """`distcc` from the commit before the reapi:// transport, and that commit's name."""
    # The main line just before the transport was merged (first parents only: the REAPI
    # branch itself started from an older main, without later unrelated client work).
    revs = subprocess.run(["git", "log", "--first-parent", "--format=%h", "--",
                           "crates/client/src/reapi.rs"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.split()
    rev = revs[-1] + "^1"
    tree = os.path.join(work, "base-tree")
    subprocess.run(["git", "worktree", "add", "--detach", tree, rev], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # A target directory of its own: cargo names a workspace's crates alike in two
        # worktrees, so sharing this tree's would mix their builds.
        target = os.path.join(work, "base-target")
        cargo_build(profile, tree, target)
        out = os.path.join(work, "base-bin")
        os.mkdir(out)
        shutil.copy(os.path.join(target, profile, "distcc"), out)
        shutil.rmtree(target, ignore_errors=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", tree], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return os.path.join(out, "distcc"), rev


def trivial(client, port, src, state, n):
    env = dict(os.environ, DISTCC_HOSTS=f"127.0.0.1:{port}", DISTCC_DIR=state, DISTCC_CACHE="0")
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([client, "gcc", "-c", src, "-o", src + ".o"], env=env, check=True,
                       cwd=os.path.dirname(src))
        times.append(time.perf_counter() - t)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="release", choices=["debug", "release"])
    ap.add_argument("--trivial", type=int, default=200)
    ap.add_argument("--base-client", default=None)
    a = ap.parse_args()
    cargo_build(a.profile, ROOT, os.path.join(ROOT, "target"))
    lua = common.corpus("lua")
    work = tempfile.mkdtemp(prefix="distcc-bench-reapi-")
    os.chmod(work, 0o755)
    # This tree's binaries, copied aside (distcc finds distcc-reapi beside itself).
    bins = os.path.join(work, "bin")
    os.mkdir(bins)
    for b in ["distcc", "distccd", "distcc-reapi"]:
        shutil.copy(os.path.join(ROOT, "target", a.profile, b), bins)
    if a.base_client:
        base, base_rev = a.base_client, "given"
    else:
        base, base_rev = base_client(a.profile, work)
    src_dir = os.path.join(work, "src")
    os.mkdir(src_dir)
    for f in glob.glob(os.path.join(lua, "*.[ch]")):
        shutil.copy(f, src_dir)
    files = sorted(glob.glob(os.path.join(src_dir, "*.c")))
    engine_dir = os.path.join(work, "engine")
    port, pgport = common.free_port(), None
    pgport = port + 1 if port + 1 < 32768 else port - 1
    daemon = worker = None
    lines = []
    try:
        subprocess.run(["bash", os.path.join(ROOT, "scripts/buildgrid.sh"), "up", engine_dir,
                        str(port), str(pgport)], check=True, stdout=subprocess.DEVNULL)
        daemon = common.Daemon(os.path.join(bins, "distccd"), 2, os.path.join(work, "d.log"))
        worker = subprocess.Popen(
            [os.path.join(bins, "distcc-reapi"), "worker", "--engine",
             f"reapi://127.0.0.1:{port}/main", "--daemon", f"127.0.0.1:{daemon.port}",
             "--bots", "2", "--compiler", "gcc"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "w.log"), "w"))
        time.sleep(2)
        url = f"reapi://127.0.0.1:{port}/main"
        rows = []
        for name, hosts in [("direct", f"127.0.0.1:{daemon.port}/2"), ("reapi cold", url),
                            ("reapi cached", url)]:
            # The REAPI rows write the same paths (the -o path is part of the Action), the
            # second after the first's objects are removed: a clean rebuild.
            out = os.path.join(work, "out-direct" if name == "direct" else "out-reapi")
            shutil.rmtree(out, ignore_errors=True)
            os.mkdir(out)
            wall, texts = build(bins, {}, hosts, files, out, os.path.join(work, "state"))
            if name == "direct":
                sent, got = bytes_direct(texts), None
            else:
                sent, got = bytes_reapi(texts)
                hits = sum("served from the action cache" in t for t in texts)
                name = f"{name} ({hits}/{len(files)} from the AC)"
            rows.append((name, wall, sent, got))
        anchor = rows[0][1]
        lines.append(f"build: {len(files)} Lua files, gcc -O2, 2 at a time, our client "
                     f"({a.profile} build); one distccd --jobs 2 behind both routes")
        lines.append(f"{'route':<34} {'wall s':>8} {'ratio':>6} {'bytes sent':>11} "
                     f"{'bytes back':>11}")
        for name, wall, sent, got in rows:
            back = "-" if got is None else str(got)
            lines.append(f"{name:<34} {wall:8.2f} {wall / anchor:6.2f} {sent:11d} {back:>11}")
        # The trivial compile, interleaved.
        tiny = os.path.join(work, "tiny.c")
        with open(tiny, "w") as f:
            f.write("int f(void) { return 1; }\n")
        ours = os.path.join(bins, "distcc")
        if os.path.exists(base):
            t_ours, t_base = [], []
            for _ in range(4):
                t_base += trivial(base, daemon.port, tiny, os.path.join(work, "s1"),
                                  a.trivial // 4)
                t_ours += trivial(ours, daemon.port, tiny, os.path.join(work, "s2"),
                                  a.trivial // 4)
            mb, mo = statistics.median(t_base), statistics.median(t_ours)
            lines.append("")
            lines.append(f"trivial compile over TCP (median of {len(t_ours)}, {a.profile}):")
            lines.append(f"  without the reapi transport (built at {base_rev}): {mb * 1000:.2f} ms")
            lines.append(f"  with it (this branch):                 {mo * 1000:.2f} ms "
                         f"(ratio {mo / mb:.3f})")
        else:
            lines.append(f"trivial compile: no base client at {base}; not measured")
    finally:
        if worker:
            worker.kill()
            worker.wait()
        if daemon:
            daemon.stop()
        subprocess.run(["bash", os.path.join(ROOT, "scripts/buildgrid.sh"), "down",
                        engine_dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(lines) + "\n"
    print(text, end="")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "reapi.txt"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Issue 15's farm benchmark: three client machines (each its own $DISTCC_DIR and its own
make, in its own session) build at once with make -j48 against one farm of 8 of our daemons x
4 slots of mixed speed, running issue 4's sleeping stand-in compiler (bench/farm/standin.c), so
that what is measured is who gets which slot, not this machine's two cores.

Printed, in one run, for distcc 3.4's client, ours without the coordinator and ours with it
(DISTCC_COORDINATOR; the same host list stays as its fallback):
- total makespan of the three builds over the zero-overhead ideal (bench/farm/ideal.py: one
  queue of all jobs, interleaved in the makes' order, -j144, each on the free slot that ends it
  first) — target <= 1.08 with the coordinator;
- each build's slowdown: its wall time at once over its wall time alone (same client, same
  farm);
- Jain's fairness index over the three builds' throughputs (1/slowdown) — target >= 0.95.

Each configuration first builds all three once untimed (speeds learned, farm warm). Every
job must run remotely exactly once (DISTCC_FALLBACK=0, the stand-in's log) and leave the
stand-in's object. Results: bench/results/farm_coord.txt.

usage: bench/farm_coord.py [--jobs N] [--min-ms N] [--max-ms N] [--rounds N]
"""
import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import common  # noqa: E402
from farm import ideal, jobs, report  # noqa: E402

HOSTS = 8
SLOTS = 4
# Mixed speeds: two fast pairs, two middling, two 3x slower.
FACTORS = [1, 1, 1, 1, 1.5, 1.5, 3, 3]
MACHINES = 3
MAKE_J = 48


def low_port(n):
    return 20000 + (os.getpid() * 17 + n * 37) % 12000


def clean_env():
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("DISTCC_", "STANDIN_", "MAKEFLAGS", "MFLAGS"))}


def build_standin(bindir):
    os.makedirs(bindir, exist_ok=True)
    os.chmod(bindir, 0o755)
    out = os.path.join(bindir, "cc")
    subprocess.run(["gcc", "-O2", "-Wall", "-o", out, os.path.join(BENCH, "farm", "standin.c")],
                   check=True)
    os.chmod(out, 0o755)


class Proc:
    def __init__(self, args, log, env=None):
        self.log = open(log, "w")
        self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=self.log, env=env, start_new_session=True)

    def stop(self):
        try:
            os.killpg(self.p.pid, 15)
        except ProcessLookupError:
            pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, 9)
            self.p.wait()


def wait_port(port):
    import socket
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"nothing listens on {port}")


def start_farm(rel, work, bindir, log):
    cport = low_port(0)
    coord = Proc([os.path.join(rel, "distcc-coordinator"), "--listen", "127.0.0.1",
                  "--port", str(cport)], os.path.join(work, "coordinator.log"))
    wait_port(cport)
    daemons = []
    for i, f in enumerate(FACTORS):
        port = low_port(i + 1)
        env = dict(clean_env(), PATH=bindir + ":" + os.environ["PATH"], STANDIN_LOG=log,
                   STANDIN_HOST=f"h{i}", STANDIN_SLOWDOWN=str(f))
        d = Proc([os.path.join(rel, "distccd"), "--daemon", "--no-detach", "--log-stderr",
                  "--log-level", "warning", "--no-sandbox", "--port", str(port), "--listen",
                  "127.0.0.1", "--allow", "127.0.0.1/32", "--jobs", str(SLOTS),
                  "--coordinator", f"127.0.0.1:{cport}"],
                 os.path.join(work, f"distccd-h{i}.log"), env=env)
        d.port = port
        daemons.append(d)
    for d in daemons:
        wait_port(d.port)
    # Every daemon registered.
    import json
    import urllib.request
    deadline = time.time() + 15
    while True:
        j = json.load(urllib.request.urlopen(f"http://127.0.0.1:{cport}/json", timeout=2))
        if len(j["hosts"]) == HOSTS:
            break
        if time.time() > deadline:
            raise SystemExit(f"only {len(j['hosts'])} daemons registered")
        time.sleep(0.1)
    return coord, cport, daemons


def start_make(client, tree, hosts, coord, work, m):
    ddir = os.path.join(work, f"distcc-dir-{m}")
    shutil.rmtree(ddir, ignore_errors=True)
    os.makedirs(ddir)
    env = dict(clean_env(), PATH=os.path.join(work, "bin") + ":" + os.environ["PATH"],
               DISTCC_HOSTS=hosts, DISTCC_DIR=ddir, DISTCC_FALLBACK="0", DISTCC_CACHE="0")
    if coord:
        env["DISTCC_COORDINATOR"] = coord
    return subprocess.Popen(["make", "-s", "-C", tree, f"-j{MAKE_J}", f"CC={client} cc"],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def run(client, trees, costs, which, hosts, coord, work, log):
    """Builds the trees in `which` at once; returns {m: wall seconds}, total seconds."""
    for m in which:
        jobs.clean(trees[m], len(costs[m]))
    with open(log, "w"):
        pass
    os.chmod(log, 0o666)
    t0 = time.monotonic()
    procs = {m: start_make(client, trees[m], hosts, coord, work, m) for m in which}
    walls = {}
    for m, p in procs.items():
        _, err = p.communicate()
        walls[m] = time.monotonic() - t0
        if p.returncode != 0:
            raise SystemExit(f"make {m} ({client}) failed: {err.decode(errors='replace')[-800:]}")
    total = time.monotonic() - t0
    for m in which:
        bad = jobs.check_objects(trees[m], costs[m])
        if bad:
            raise SystemExit(f"{client}: {len(bad)} objects wrong, first {bad[:3]}")
    ran = len(report.parse_log(log))
    want = sum(len(costs[m]) for m in which)
    if ran != want:
        raise SystemExit(f"{client}: {ran} jobs ran on the farm, {want} expected")
    return walls, total


def jain(xs):
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=100, help="jobs per build")
    ap.add_argument("--min-ms", type=int, default=50)
    ap.add_argument("--max-ms", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--client34", default=shutil.which("distcc") or "/usr/bin/distcc")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "distcc", "--bin",
                    "distccd", "--bin", "distcc-coordinator"], cwd=common.ROOT, check=True)
    rel = os.path.join(common.ROOT, "target", "release")
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    except OSError:
        pass
    work = tempfile.mkdtemp(prefix="bench-farm-coord-")
    os.chmod(work, 0o755)
    bindir = os.path.join(work, "bin")
    build_standin(bindir)
    log = os.path.join(work, "jobs.log")
    costs = [jobs.costs(a.jobs, a.min_ms, a.max_ms, 15 + m) for m in range(MACHINES)]
    trees = []
    for m in range(MACHINES):
        t = os.path.join(work, f"tree{m}")
        jobs.write_tree(t, costs[m])
        trees.append(t)
    # The ideal: one queue of every job, the makes' orders interleaved, -j of all three.
    merged = [c for row in zip(*costs) for c in row]
    slot_factors = [f for f in FACTORS for _ in range(SLOTS)]
    ideal_s = ideal.makespan(merged, slot_factors, MAKE_J * MACHINES) / 1000
    coord, cport, daemons = start_farm(rel, work, bindir, log)
    hosts = " ".join(f"127.0.0.1:{d.port}/{SLOTS}" for d in daemons)
    configs = [("3.4", os.path.abspath(a.client34), None),
               ("ours", os.path.join(rel, "distcc"), None),
               ("ours+coordinator", os.path.join(rel, "distcc"), f"127.0.0.1:{cport}")]
    rows = []
    try:
        for rnd in range(a.rounds):
            for name, client, c in configs:
                # One untimed build of all three first: the coordinator and our client learn
                # the hosts' speeds, and every config starts from a warm farm.
                run(client, trees, costs, list(range(MACHINES)), hosts, c, work, log)
                alone = {}
                for m in range(MACHINES):
                    w, _ = run(client, trees, costs, [m], hosts, c, work, log)
                    alone[m] = w[m]
                walls, total = run(client, trees, costs, list(range(MACHINES)), hosts, c, work,
                                   log)
                slow = [walls[m] / alone[m] for m in range(MACHINES)]
                rows.append((name, total, total / ideal_s, slow, jain([1 / s for s in slow]),
                             alone, walls))
                print(f"round {rnd + 1} {name:17s} makespan {total:6.2f} s = "
                      f"{total / ideal_s:.3f} x ideal; slowdowns "
                      + " ".join(f"{s:.2f}" for s in slow)
                      + f"; Jain {jain([1 / s for s in slow]):.3f}", flush=True)
    finally:
        for d in daemons:
            d.stop()
        coord.stop()
        shutil.rmtree(work, ignore_errors=True)
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT,
                         capture_output=True, text=True).stdout.strip()
    lines = [
        f"Issue 15 farm benchmark (bench/farm_coord.py), {datetime.date.today()}, commit {rev}, "
        f"{os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.1f}",
        f"farm: {HOSTS} of our distccd x {SLOTS} slots, speed factors {FACTORS}, sleeping "
        f"stand-in; {MACHINES} client machines (own DISTCC_DIR, own make session) x make "
        f"-j{MAKE_J} at once, {a.jobs} jobs each of {a.min_ms}-{a.max_ms} ms",
        f"ideal (one zero-overhead queue of all {MACHINES * a.jobs} jobs): {ideal_s:.2f} s",
        "",
        f"{'client':18s} {'makespan':>9s} {'/ideal':>7s}  {'slowdown per build (at once / alone)':38s} "
        f"{'Jain':>6s}",
    ]
    for name, total, ratio, slow, j, alone, walls in rows:
        lines.append(f"{name:18s} {total:8.2f}s {ratio:7.3f}  "
                     + f"{' '.join(f'{s:.2f}' for s in slow):38s} {j:6.3f}")
    lines.append("")
    lines.append("targets with the coordinator: makespan/ideal <= 1.08, Jain >= 0.95")
    lines.append("alone / at once wall times (s):")
    for name, total, ratio, slow, j, alone, walls in rows:
        lines.append(f"  {name:18s} alone " + " ".join(f"{alone[m]:.2f}" for m in alone)
                     + "  at once " + " ".join(f"{walls[m]:.2f}" for m in walls))
    text = "\n".join(lines) + "\n"
    print("\n" + text, end="")
    out = os.path.join(BENCH, "results", "farm_coord.txt")
    with open(out, "w") as f:
        f.write(text)
    print(f"written to {os.path.relpath(out)}")


if __name__ == "__main__":
    main()

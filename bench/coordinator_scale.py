#!/usr/bin/env python3
"""Issue 15's scale benchmark of the farm coordinator alone: 1,000 simulated daemons (4 slots
each) and 100 simulated clients on loopback, the coordinator's server pinned to one CPU and
the load generator to another (crates/coordinator/examples/coord_load.rs; its `serve` runs
the same `coordinator::server::Server` as `distcc-coordinator`).

Two figures per setting, against the issue's targets:
- throughput: lease+release pairs per second with every client asking again as soon as it
  is granted (closed loop; target >= 20,000 on one core);
- latency: p50/p99 from lease request to grant with 20,000 pairs/s offered, evenly spread over
  the clients (target p99 < 5 ms).

Settings: `default` (ordinary priority, sharing the machine with whatever else runs) and, when
allowed (root), `fifo` (both processes SCHED_FIFO, which keeps the rest of a busy machine from
preempting them: the coordinator's own cost). Results: bench/results/coordinator_scale.txt.

usage: bench/coordinator_scale.py [--seconds N] [--hosts N] [--clients N]
"""
import argparse, os, subprocess, time

from common import ROOT

TARGET_RATE = 20000
TARGET_P99_US = 5000


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "distcc-coordinator",
                    "--example", "coord_load"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "examples", "coord_load")


def low_port(n):
    # Below 32768 (outside the ephemeral range), spread by pid.
    return 20000 + (os.getpid() * 13 + n * 101) % 12000


def run(prog, prefix, port, hosts, clients, seconds, rate=None):
    server = subprocess.Popen([*prefix, "taskset", "-c", "0", prog, "serve", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.3)
        if server.poll() is not None:
            raise SystemExit("coordinator failed: " + server.stderr.read().decode())
        args = [*prefix, "taskset", "-c", "1", prog, "load", str(port), str(hosts), str(clients),
                str(seconds)] + ([str(rate)] if rate else [])
        out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    finally:
        server.terminate()
        server.wait()
    return {k: float(v) for k, v in (line.split() for line in out.splitlines())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=100)
    a = ap.parse_args()
    prog = build()
    settings = [("default", [])]
    if os.geteuid() == 0:
        settings.append(("fifo", ["chrt", "-f", "10"]))
    lines = [f"coordinator scale: {a.hosts} hosts x 4 slots, {a.clients} clients, "
             f"{a.seconds}s per measure, server on CPU 0, load generator on CPU 1",
             f"load average before: {open('/proc/loadavg').read().split()[0]} "
             f"({os.cpu_count()} CPUs)"]
    n = 0
    for name, prefix in settings:
        n += 1
        tp = run(prog, prefix, low_port(n), a.hosts, a.clients, a.seconds)
        n += 1
        lat = run(prog, prefix, low_port(n), a.hosts, a.clients, a.seconds, TARGET_RATE)
        lines.append(
            f"{name:8s} throughput {tp['pairs_per_sec']:8.0f} pairs/s "
            f"(x{tp['pairs_per_sec'] / TARGET_RATE:.2f} of target {TARGET_RATE})  |  "
            f"at {lat['pairs_per_sec']:.0f}/s offered: p50 {lat['p50_us'] / 1000:.2f} ms, "
            f"p99 {lat['p99_us'] / 1000:.2f} ms (x{lat['p99_us'] / TARGET_P99_US:.2f} of "
            f"target 5 ms), max {lat['max_us'] / 1000:.1f} ms")
    lines.append(f"load average after: {open('/proc/loadavg').read().split()[0]}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "coordinator_scale.txt"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()

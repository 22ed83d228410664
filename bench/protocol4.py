#!/usr/bin/env python3
"""Issue 14's protocol 4 benchmark: libgit2 Release (../shared/corpus/fetch.sh) built through
our client against our daemon over protocol 2 (LZO, `DISTCC_PROTOCOL=3`, host `,lzo`) and over
protocol 4 (zstd, `proto::zstd::LEVEL`, the host remembered as `protocol=4` and `chunks=1`:
large sources go as chunks, only those the daemon lacks compressed and sent), and protocol 4
with chunks off (`DISTCC_CHUNKS=0`: zstd alone, row "4z"), in one run on this machine, with
protocol 1 (no compression) once as the anchor of what the preprocessed sources weigh. Each
build has a fresh daemon, so its chunk store starts empty: what is measured is one clean
build, where a header's chunks travel once, with the first file that includes it.

Measured, per build:
- bytes on the wire, both directions: the daemon's own counters (`--stats`, /json
  `bytes_in`, `bytes_out`), which count every byte read from and written to the client's
  socket (request, reply, and the advertisement trailer after a 1-3 reply). A fresh daemon
  per build, so the counters are that build's.
- wall time of `make -j4`, after `make clean`, with the compiler launcher a shell script that
  execs the client (the `wall` rounds; protocols 2 and 4 alternate their order each round).
- the client's own CPU (the `cpu` round, one more build per protocol): the launcher is then
  a wrapper that forks the client, waits for it with WNOWAIT and reads the zombie's
  /proc/PID/schedstat (nanoseconds on a CPU of the client's main thread, where the bodies are
  compressed and the reply decoded; not its children, so cpp is excluded), then reaps it.
  (utime+stime of /proc/PID/stat is tick-sampled: a 5 ms client mostly reads 0.)
  Each build has a fresh `$DISTCC_DIR`, but every protocol 4 build gets the compiler
  identity cache (`$DISTCC_DIR/identity/`), made once before any measured build
  (`prime_identity`), as the host's `protocol=4` is given beforehand: both are
  once-per-machine state, and the identity probe (hashing cc1, tens of ms, once) is not a
  per-compile cost. (Before, the first protocol 4 build paid it: with `--rounds 0`, a cpu
  round.)
After every build the objects are checked byte-identical to a local build.

Targets (issue 14): protocol 4's bytes at most 2/3 of protocol 2's; the client's CPU no more
than with LZO. Also printed: the same two figures with chunks off (zstd alone), and the libgit2
wall ratios against protocol 2.

Usage: bench/protocol4.py [--rounds N] [--cpu-rounds N] [--jobs N] [--ours DIR] [--out FILE]"""
import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

# The launcher that measures the client's own CPU: python starts once per compile, but only
# the client's own CPU time (read from its zombie before it is reaped) is counted.
MEASURE = r'''#!/usr/bin/env python3
import os, sys
client = os.environ["P4_CLIENT"]
pid = os.fork()
if pid == 0:
    os.execv(client, [client] + sys.argv[1:])
os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
with open(f"/proc/{pid}/schedstat") as f:
    ns = int(f.read().split()[0])
with open(os.environ["P4_CPU_LOG"], "a") as f:
    f.write(f"{ns}\n")
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
'''


def build_once(args, ours, work, build, reference, variant, measure):
    """One distributed build; returns (wall s, bytes in, bytes out, client cpu s or None).
    `variant`: 1, 2, 4 (chunks on) or "4z" (protocol 4, chunks off)."""
    protocol = 4 if variant == "4z" else variant
    subprocess.run(["make", "-C", build, "clean"], check=True, capture_output=True)
    stats_port = common.free_port()
    d = common.Daemon(os.path.join(ours, "distccd"), args.jobs,
                      os.path.join(work, f"daemon-p{variant}.log"),
                      extra_args=("--stats", "--stats-port", str(stats_port),
                                  "--log-level", "debug"))
    ddir = tempfile.mkdtemp(dir=work)
    lzo = ",lzo" if protocol >= 2 else ""
    host = f"127.0.0.1:{d.port}/{args.jobs}{lzo}"
    identity = os.path.join(work, "identity")
    if protocol == 4 and os.path.isdir(identity):
        shutil.copytree(identity, os.path.join(ddir, "identity"))
    if protocol == 4:
        os.makedirs(os.path.join(ddir, "adverts"))
        with open(os.path.join(ddir, "adverts", f"tcp_127.0.0.1_{d.port}"), "w") as f:
            f.write("protocol=4\nchunks=1\n" if variant == 4 else "protocol=4\n")
    client = os.path.join(ours, "distcc")
    cpu_log = os.path.join(work, "cpu.log")
    if os.path.exists(cpu_log):
        os.remove(cpu_log)
    env = dict(os.environ, DISTCC_HOSTS=host, DISTCC_FALLBACK="0", DISTCC_CACHE="0", DISTCC_DIR=ddir,
               DISTCC_PROTOCOL="4" if protocol == 4 else "3",
               DISTCC_CHUNKS="0" if variant == "4z" else "1",
               LAUNCH=os.path.join(work, "measure.py") if measure else client,
               P4_CLIENT=client, P4_CPU_LOG=cpu_log)
    env.pop("DISTCC_LOG", None)
    env.pop("DISTCC_VERBOSE", None)
    try:
        wall = common.run_sampling(["make", "-C", build, f"-j{args.jobs}"], [], env=env)
        # Logs and counters are updated after each reply is sent; the last job's may lag.
        time.sleep(0.3)
        s = common.stats_json(stats_port)["counters"]
    finally:
        d.stop()
    if protocol == 4 and not os.path.isdir(identity):
        shutil.copytree(os.path.join(ddir, "identity"), identity)
    if common.objects(build) != reference:
        raise SystemExit(f"protocol {protocol}: objects differ from the local build")
    if s["compile_ok"] != len(reference):
        print(f"note: protocol {protocol}: the daemon compiled {s['compile_ok']} times for "
              f"{len(reference)} objects", flush=True)
    with open(os.path.join(work, f"daemon-p{variant}.log")) as f:
        log = f.read()
    v4 = log.count("protocol 4 request")
    if (v4 == 0) == (protocol == 4) or (protocol == 4 and v4 != s["compile_ok"]):
        raise SystemExit(f"protocol {protocol}: {v4} protocol 4 requests in the daemon's log, "
                         f"{s['compile_ok']} compiles")
    chunked = log.count("chunked source")
    if (chunked > 0) != (variant == 4):
        raise SystemExit(f"variant {variant}: {chunked} chunked sources in the daemon's log")
    cpu = None
    if measure:
        with open(cpu_log) as f:
            ns = [int(x) for x in f.read().split()]
        if len(ns) < len(reference):
            raise SystemExit(f"protocol {protocol}: {len(ns)} clients measured")
        cpu = sum(ns) / 1e9
    return wall, s["bytes_in"], s["bytes_out"], cpu, log


def prime_identity(ours, work):
    """Fills `work/identity` (the client's compiler identity cache, copied into every protocol
    4 build's `$DISTCC_DIR`) before any measured build: the first probe hashes cc1 (tens of ms
    of the client's own CPU), a once-per-machine cost that would otherwise land in whichever
    protocol 4 build runs first. One compile of a trivial file for a host that is not there
    (the client computes the identity, fails to connect, and compiles locally)."""
    ddir = tempfile.mkdtemp(dir=work)
    src = os.path.join(work, "prime.c")
    with open(src, "w") as f:
        f.write("int prime(void) { return 1; }\n")
    env = dict(os.environ, DISTCC_HOSTS=f"127.0.0.1:{common.free_port()}", DISTCC_DIR=ddir,
               DISTCC_PROTOCOL="4", DISTCC_CACHE="0", DISTCC_FALLBACK="1")
    env.pop("DISTCC_LOG", None)
    subprocess.run([os.path.join(ours, "distcc"), "gcc", "-c", src, "-o",
                    os.path.join(work, "prime.o")], env=env, check=True, capture_output=True)
    if not os.path.isdir(os.path.join(ddir, "identity")):
        raise SystemExit("priming the compiler identity cache made none")
    shutil.copytree(os.path.join(ddir, "identity"), os.path.join(work, "identity"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2,
                    help="wall rounds of protocols 2 and 4 (0: the bytes come from the cpu rounds)")
    ap.add_argument("--cpu-rounds", type=int, default=1,
                    help="cpu rounds (protocols 2 and 4 alternate their order; the median ratio counts)")
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--ours", help="directory of our release binaries (default: build them)")
    ap.add_argument("--out", default=os.path.join(common.ROOT, "bench", "results", "protocol4.txt"))
    args = ap.parse_args()

    ours = os.path.abspath(args.ours) if args.ours else common.build_ours()
    work = tempfile.mkdtemp(prefix="bench-p4-")
    os.chmod(work, 0o755)
    with open(os.path.join(work, "measure.py"), "w") as f:
        f.write(MEASURE)
    os.chmod(os.path.join(work, "measure.py"), 0o755)
    build = common.configure_libgit2(work)
    subprocess.run(["make", "-C", build, f"-j{args.jobs}"], env=dict(os.environ, LAUNCH=""),
                   check=True, capture_output=True)
    reference = common.objects(build)
    prime_identity(ours, work)

    variants = (2, 4, "4z")
    runs = {1: [], 2: [], 4: [], "4z": []}
    lines = []

    def note(kind, p, r):
        wall, bin_, bout, cpu, _ = r
        cpu_s = f", client cpu {cpu:6.2f} s" if cpu is not None else ""
        line = (f"{kind:>4} protocol {p}: wall {wall:6.2f} s, bytes to daemon {bin_:>10}, "
                f"from daemon {bout:>10}, total {bin_ + bout:>10}{cpu_s}")
        print(line, flush=True)
        lines.append(line)

    r = build_once(args, ours, work, build, reference, 1, False)
    runs[1].append(r)
    note("wall", 1, r)
    def order(rnd):
        # Each variant first, second and last in turn.
        k = rnd % 3
        return variants[k:] + variants[:k]

    for rnd in range(args.rounds):
        for p in order(rnd):
            r = build_once(args, ours, work, build, reference, p, False)
            runs[p].append(r)
            note("wall", p, r)
    cpu_runs = {2: [], 4: [], "4z": []}
    for rnd in range(args.cpu_rounds):
        for p in order(rnd):
            r = build_once(args, ours, work, build, reference, p, True)
            cpu_runs[p].append(r)
            note("cpu", p, r)
    def round_ratios(v):
        return [c[3] / max(c2[3], 1e-9) for c2, c in zip(cpu_runs[2], cpu_runs[v])]

    ratios = round_ratios(4)
    ratios_z = round_ratios("4z")
    # The round whose ratio is the median stands for the cpu figures.
    mid = sorted(range(len(ratios)), key=lambda i: ratios[i])[len(ratios) // 2]
    mid_z = sorted(range(len(ratios_z)), key=lambda i: ratios_z[i])[len(ratios_z) // 2]
    cpu = {2: cpu_runs[2][mid], 4: cpu_runs[4][mid]}
    cpu_z = {2: cpu_runs[2][mid_z], 4: cpu_runs["4z"][mid_z]}
    for p in variants:
        if not runs[p]:
            runs[p] = cpu_runs[p]

    def med(p, i):
        return statistics.median(x[i] for x in runs[p])

    total = {p: med(p, 1) + med(p, 2) for p in (1, 2, 4, "4z")}
    wall = {p: med(p, 0) for p in variants}
    byte_ratio = total[4] / total[2]
    cpu_ratio = ratios[mid]
    n = len(reference)
    summary = [
        "",
        f"libgit2 Release, {len(reference)} objects, -j{args.jobs}, our client and daemon, "
        f"{args.rounds} wall rounds (medians) + {args.cpu_rounds} cpu rounds:",
        f"  bytes on the wire (to + from the daemon): protocol 1 {total[1]:.0f}, "
        f"protocol 2 (lzo) {total[2]:.0f} ({total[2] / total[1]:.3f} of protocol 1), "
        f"protocol 4 (zstd, chunks) {total[4]:.0f} ({total[4] / total[1]:.3f} of protocol 1)",
        f"  to the daemon: p2 {med(2, 1):.0f}, p4 {med(4, 1):.0f} (ratio {med(4, 1) / med(2, 1):.3f}); "
        f"from the daemon: p2 {med(2, 2):.0f}, p4 {med(4, 2):.0f} (ratio {med(4, 2) / med(2, 2):.3f})",
        f"  bytes ratio p4/p2: {byte_ratio:.3f} (target <= 0.667: "
        f"{'met' if byte_ratio <= 2 / 3 else 'NOT met'}); chunks off (zstd alone): "
        f"{total['4z']:.0f}, ratio {total['4z'] / total[2]:.3f}; to the daemon with chunks "
        f"{med(4, 1) / med(2, 1):.3f}, chunks off {med('4z', 1) / med(2, 1):.3f} of p2's",
        f"  client cpu (own, cpp excluded): p2 {cpu[2][3]:.2f} s, p4 {cpu[4][3]:.2f} s, "
        f"ratio {cpu_ratio:.3f} (target <= 1.00: {'met' if cpu_ratio <= 1.0 else 'NOT met'})"
        + (f"; every round's ratio: {', '.join(f'{x:.3f}' for x in ratios)} (the median counts)"
           if len(ratios) > 1 else ""),
        f"  client cpu per compile: p2 {cpu[2][3] / n * 1e3:.2f} ms, "
        f"p4 {cpu[4][3] / n * 1e3:.2f} ms "
        f"({(cpu[4][3] - cpu[2][3]) / n * 1e3:+.2f} ms)",
        f"  chunks off (zstd alone): client cpu p2 {cpu_z[2][3]:.2f} s, p4z {cpu_z[4][3]:.2f} s, "
        f"ratio {ratios_z[mid_z]:.3f}"
        + (f"; every round's ratio: {', '.join(f'{x:.3f}' for x in ratios_z)}"
           if len(ratios_z) > 1 else "")
        + f" ({(cpu_z[4][3] - cpu_z[2][3]) / n * 1e3:+.2f} ms a compile)",
        f"  libgit2 wall: p2 {wall[2]:.2f} s, p4 {wall[4]:.2f} s (ratio {wall[4] / wall[2]:.3f}), "
        f"p4z {wall['4z']:.2f} s (ratio {wall['4z'] / wall[2]:.3f})",
    ]
    for s in summary:
        print(s)
    with open(args.out, "w") as f:
        f.write(f"# bench/protocol4.py, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
                f"{os.cpu_count()}-CPU machine shared with other work\n")
        f.write("\n".join(lines + summary) + "\n")
    shutil.rmtree(work, ignore_errors=True)


main()

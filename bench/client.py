#!/usr/bin/env python3
"""Issue 3's client benchmark: our client against distcc 3.4's, against the same daemons on
loopback, in one run. Two parts; each prints its table, and a full run writes both to
bench/results/client.txt.

1. trivial: the per-job overhead on a tiny C file. The floor is the same file preprocessed and
   then compiled from its `.i`, back to back, here (`gcc -E x.c -o x.i`, then
   `gcc -c x.i -o x.o`, each spawned directly, no shell). Against it: `distcc gcc -c x.c -o x.o`
   with our client and with 3.4's, each against our distccd and against 3.4's. All variants
   are interleaved round by round (so drift in the machine's load hits them alike); each is
   timed with time.perf_counter around spawn + wait4 (no perf stat), and its CPU is the
   user+sys that wait4 reports (the process and every child it waited for, so the client
   includes its cpp). Printed: medians, the ratio of medians to the floor, and the median of
   per-round ratios (each variant over the floor of the same round).

2. libgit2: a Release build of libgit2 (../shared/corpus/fetch.sh) through a compiler launcher
   script (as bench/daemon_libgit2.py), with our client and 3.4's in alternating rounds against
   one daemon, same -j; after every round the objects are checked byte-identical to a local
   build. Wall ratio ours/3.4 (medians). CPU accounting, per round:
   - client side = RUSAGE of make as returned by wait4 on make: make itself and every process
     below it that was waited for -- cmake's helper commands, the launcher, the distcc client,
     its cpp (gcc -E, cc1), and the link. This tree contains no daemon process.
   - daemon side = the daemon started by this script as its child in a session of its own; when
     it is stopped, wait4 on it returns its own CPU and that of every process it reaped (the
     server compilers; for 3.4 also its pre-forked workers). This script is a child subreaper
     (prctl PR_SET_CHILD_SUBREAPER), so anything the daemon left unreaped (3.4's workers alive
     at shutdown, and their compilers) is reparented to it and reaped here, and counted on the
     daemon side too.
   - client-side share = client side / (client side + daemon side): the whole build's CPU.
   Also printed: the machine's busy share during the build (/proc/stat), to show how much
   other work was competing.
   With --pump, one more variant joins the rotation: our client under our pump, hosts marked
   `,cpp,lzo`, no local preprocessing. The include server daemonizes, so it is reaped here as
   an orphan and counted on the client side. (Debian 12's 3.4 pump cannot be the reference:
   its include server fails on Python 3.11 and its client then compiles in plain mode.)

The daemons run with `--nice 0`: by default distccd lowers its own priority by 5, which on a
machine shared with other work makes the remote compile slower than the same compile in the
floor and would be charged to the client. With --boost (the default when run as root) the
whole benchmark runs at nice -10 so that other users' work disturbs it less; both clients and
the floor get the same treatment.

3. bound (--part bound, not in "both"): the libgit2 build where the farm is never the
   bottleneck, as with many fast volunteers. The daemon's compiler is a stand-in shell script
   (first on the daemon's PATH, as cc, gcc and the cross name) that copies the object, and in
   pump mode the .d, that the local reference build made for the same source, so the wall is
   the client side's alone: make, the launcher, the client, and its cpp (plain) or include
   server (pump). Variants: 3.4's client, ours, ours under our pump. The objects are still
   checked against the local build, which here checks the stand-in's bookkeeping.

Usage: bench/client.py [--part trivial|libgit2|both|bound] [--reps N] [--rounds N] [--jobs N] [--pump]
                       [--daemon-tmpdir DIR]
                       [--daemon 3.4|ours] [--ours PATH] [--out FILE] [--no-boost]"""
import argparse
import ctypes
import datetime
import json
import shlex
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import common  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36
CLIENT34 = "/usr/bin/distcc"
DAEMON34 = "/usr/bin/distccd"


def set_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("prctl(PR_SET_CHILD_SUBREAPER) failed")


def cpu_of(ru):
    return ru.ru_utime + ru.ru_stime


def reap_strays():
    """Reaps every exited child not waited for elsewhere (orphans reparented to us)."""
    total = 0.0
    while True:
        try:
            pid, _, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return total
        if pid == 0:
            return total
        total += cpu_of(ru)


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v), idle


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


class Daemon:
    """A distccd on a loopback port, our direct child in a session of its own."""

    def __init__(self, program, jobs, log, env=None):
        self.port = common.free_port()
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [program, "--daemon", "--no-detach", "--log-stderr", "--log-level", "warning",
             "--port", str(self.port), "--listen", "127.0.0.1", "--allow", "127.0.0.1/32",
             "--jobs", str(jobs), "--nice", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log,
            env=env, start_new_session=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise SystemExit(f"{program} did not start listening")

    def stop(self):
        """Stops the daemon; returns the CPU seconds of its whole tree."""
        try:
            os.kill(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.time() + 10
        cpu = None
        while time.time() < deadline:
            pid, _, ru = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                cpu = cpu_of(ru)
                break
            time.sleep(0.01)
        if cpu is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            _, _, ru = os.wait4(self.proc.pid, 0)
            cpu = cpu_of(ru)
        self.proc.returncode = 0
        # Whatever it left behind (3.4's workers and their compilers) was reparented to us.
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        time.sleep(0.2)
        cpu += reap_strays()
        self.log.close()
        return cpu


def timed(argv, env=None, cwd=None):
    """Runs argv; returns (wall s, user+sys s of it and its waited-for children)."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{argv} failed with {p.returncode}")
    return wall, cpu_of(ru)


def trivial(args, ours, ours_daemon, work, out):
    src = os.path.join(work, "x.c")
    with open(src, "w") as f:
        f.write("int twice(int x) { return 2 * x; }\n")
    d_ours = Daemon(ours_daemon, 4, os.path.join(work, "trivial-ours.log"))
    d_34 = Daemon(DAEMON34, 4, os.path.join(work, "trivial-34.log"))
    base = dict(os.environ, DISTCC_FALLBACK="0", DISTCC_CACHE="0", DISTCC_DIR=os.path.join(work, "distcc-dir"))
    base.pop("DISTCC_VERBOSE", None)
    base.pop("DISTCC_LOG", None)
    os.makedirs(base["DISTCC_DIR"], exist_ok=True)
    envs = {name: dict(base, DISTCC_HOSTS=f"127.0.0.1:{d.port}/4")
            for name, d in (("ours", d_ours), ("3.4", d_34))}
    compile_args = ["gcc", "-c", "x.c", "-o", "x.o"]
    variants = [
        ("ours client, ours daemon", [ours, *compile_args], envs["ours"]),
        ("ours client, 3.4 daemon", [ours, *compile_args], envs["3.4"]),
        ("3.4 client, ours daemon", [CLIENT34, *compile_args], envs["ours"]),
        ("3.4 client, 3.4 daemon", [CLIENT34, *compile_args], envs["3.4"]),
        ("local gcc -c x.c", ["gcc", "-c", "x.c", "-o", "x.o"], None),
    ]
    floor, results = [], {v[0]: [] for v in variants}
    loads = [loadavg()]
    try:
        for _ in range(3):  # warm caches, first connections, lock files
            for _, argv, env in variants:
                timed(argv, env, work)
        for rnd in range(args.reps):
            w1, c1 = timed(["gcc", "-E", "x.c", "-o", "x.i"], None, work)
            w2, c2 = timed(["gcc", "-c", "x.i", "-o", "x.o"], None, work)
            floor.append((w1 + w2, c1 + c2))
            order = variants if rnd % 2 == 0 else list(reversed(variants))
            for name, argv, env in order:
                results[name].append(timed(argv, env, work))
            if rnd % 50 == 49:
                loads.append(loadavg())
    finally:
        d_ours.stop()
        d_34.stop()
    loads.append(loadavg())
    fw = statistics.median(f[0] for f in floor)
    fc = statistics.median(f[1] for f in floor)
    lines = [f"trivial compile, {args.reps} interleaved rounds, medians; load average "
             f"{' '.join(loads)}",
             f"  {'variant':28} {'wall ms':>8} {'x floor':>8} {'paired':>8} {'cpu ms':>8}",
             f"  {'floor: gcc -E, then gcc -c .i':28} {fw * 1e3:8.2f} {1:8.3f} {1:8.3f} "
             f"{fc * 1e3:8.2f}"]
    for name, rs in results.items():
        w = statistics.median(r[0] for r in rs)
        c = statistics.median(r[1] for r in rs)
        paired = statistics.median(r[0] / f[0] for r, f in zip(rs, floor))
        lines.append(f"  {name:28} {w * 1e3:8.2f} {w / fw:8.3f} {paired:8.3f} {c * 1e3:8.2f}")
    lines.append("  (paired = median over rounds of the variant's wall / that round's floor; "
                 "cpu = user+sys of the process and its waited-for children; target for ours: "
                 "<= 1.05 x floor)")
    text = "\n".join(lines)
    print(text, flush=True)
    out.append(text)


def preprocess_cpu(build):
    """CPU seconds of running every compile command of the build as a preprocessor only."""
    import json
    import shlex
    with open(os.path.join(build, "compile_commands.json")) as f:
        commands = json.load(f)
    totals = []
    for _ in range(3):
        total = 0.0
        for c in commands:
            argv = shlex.split(c["command"])
            # Drop the launcher, then make it -E to /dev/null, as the client's cpp_argv does.
            while argv and not argv[0].endswith("cc"):
                argv.pop(0)
            out_argv, skip = [], False
            for a in argv:
                if skip:
                    skip = False
                    continue
                if a in ("-o", "-MF", "-MT", "-MQ"):
                    skip = True
                    continue
                if a in ("-MD", "-MMD"):
                    continue
                out_argv.append("-E" if a == "-c" else a)
            _, cpu = timed([*out_argv, "-o", "/dev/null"], None, c["directory"])
            total += cpu
        totals.append(total)
    return statistics.median(totals)


STANDIN = r"""#!/bin/sh
# bench/client.py --part bound: the "compiler" of an infinitely fast farm. It copies the object
# (and, in pump mode, the .d) that the local reference build made for the same source.
out= deps= src= prev=
for a in "$@"; do
    case $prev in -o) out=$a ;; -MF) deps=$a ;; esac
    case $a in *.c|*.i) src=$a ;; esac
    prev=$a
done
case $src in
    *.i) IFS= read -r line < "$src"; src=${line#*\"}; src=${src%%\"*} ;;
    */root/*) src=/${src#*/root/} ;;
esac
cp "$BENCH_CACHE$src.o" "$out" || exit 1
if [ -n "$deps" ]; then cp "$BENCH_CACHE$src.d" "$deps" || exit 1; fi
"""


def standin_farm(work, build):
    """The stand-in compiler (as cc, gcc and the cross name) and its cache of the reference
    build's objects and .d files by absolute source path; returns the daemon's environment."""
    bindir = os.path.join(work, "standin-bin")
    cache = os.path.join(work, "standin-cache")
    os.makedirs(bindir, exist_ok=True)
    for name in ("cc", "gcc", "x86_64-linux-gnu-gcc"):
        path = os.path.join(bindir, name)
        with open(path, "w") as f:
            f.write(STANDIN)
        os.chmod(path, 0o755)
    with open(os.path.join(build, "compile_commands.json")) as f:
        commands = json.load(f)
    for c in commands:
        argv = shlex.split(c["command"])
        obj = os.path.join(c["directory"], argv[argv.index("-o") + 1])
        src = os.path.abspath(os.path.join(c["directory"], c["file"]))
        dest = cache + src
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(obj, dest + ".o")
        shutil.copyfile(obj + ".d", dest + ".d")
    os.chmod(work, 0o755)  # the daemon drops root to the distccd user: it must read these
    return dict(os.environ, PATH=bindir + ":" + os.environ["PATH"], BENCH_CACHE=cache)


def libgit2(args, ours, ours_daemon, work, out, bound=False):
    src = common.corpus("libgit2")
    build = os.path.join(work, "build")
    launcher = os.path.join(work, "launch.sh")
    with open(launcher, "w") as f:
        # Bound: the compiler by its bare name, so that the daemon finds the stand-in on its
        # PATH (it runs an absolute /usr/bin/cc as it is).
        f.write('#!/bin/sh\nc=${1##*/}; shift; exec $LAUNCH "$c" "$@"\n' if bound else
                '#!/bin/sh\nexec $LAUNCH "$@"\n')
    os.chmod(launcher, 0o755)
    subprocess.run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                    "-DBUILD_TESTS=OFF", "-DBUILD_CLI=OFF", "-DUSE_SSH=OFF", "-DUSE_HTTPS=OFF",
                    "-DCMAKE_C_COMPILER=/usr/bin/cc", f"-DCMAKE_C_COMPILER_LAUNCHER={launcher}",
                    "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"],
                   check=True, capture_output=True)
    make = ["make", "-C", build, f"-j{args.jobs}"]
    subprocess.run(make, env=dict(os.environ, LAUNCH=""), check=True, capture_output=True)
    reference = common.objects(build)
    cpp_cpu = preprocess_cpu(build)
    daemon = DAEMON34 if args.daemon == "3.4" else ours_daemon
    daemon_env = standin_farm(work, build) if bound else None
    if args.daemon_tmpdir:
        daemon_env = dict(daemon_env or os.environ, TMPDIR=args.daemon_tmpdir)
    clients = [("3.4", CLIENT34, None), ("ours", ours, None)]
    if args.pump or bound:
        # Pump mode, ours under our pump, hosts marked ,cpp,lzo. There is no 3.4 pump row:
        # Debian 12's 3.4 include server fails on Python 3.11 (its C extension lacks
        # PY_SSIZE_T_CLEAN), so 3.4's client under it quietly compiles in plain mode.
        clients += [("ours pump", ours, os.path.join(os.path.dirname(ours), "pump"))]
    results = {name: [] for name, _, _ in clients}
    for rnd in range(args.rounds):
        order = clients if rnd % 2 == 0 else list(reversed(clients))
        for name, client, pump in order:
            subprocess.run(["make", "-C", build, "clean"], check=True, capture_output=True)
            reap_strays()
            d = Daemon(daemon, args.jobs, os.path.join(work, f"libgit2-{name}.log"),
                       env=daemon_env)
            ddir = tempfile.mkdtemp(dir=work)
            host = f"127.0.0.1:{d.port}/{args.jobs}" + (",cpp,lzo" if pump else "")
            env = dict(os.environ, LAUNCH=client, DISTCC_FALLBACK="0", DISTCC_CACHE="0", DISTCC_DIR=ddir,
                       DISTCC_HOSTS=host)
            env.pop("DISTCC_VERBOSE", None)
            env.pop("DISTCC_LOG", None)
            load = loadavg()
            total0, idle0 = machine_busy()
            try:
                t = time.perf_counter()
                p = subprocess.Popen([pump, *make] if pump else make, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                err = p.stderr.read()
                _, status, ru = os.wait4(p.pid, 0)
                wall = time.perf_counter() - t
                p.returncode = os.waitstatus_to_exitcode(status)
                # The include server daemonizes, so it is reparented to us (a subreaper) and
                # reaped here: client side.
                strays = 0.0
                if pump:
                    time.sleep(0.5)
                    strays = reap_strays()
            finally:
                daemon_cpu = d.stop()
            total1, idle1 = machine_busy()
            if p.returncode != 0:
                raise SystemExit(f"make failed:\n{err.decode(errors='replace')[-3000:]}")
            if common.objects(build) != reference:
                raise SystemExit(f"round {rnd + 1}: {name}'s objects differ from the local build")
            client_cpu = cpu_of(ru) + strays
            busy = 1 - (idle1 - idle0) / max(total1 - total0, 1)
            share = client_cpu / (client_cpu + daemon_cpu)
            results[name].append((wall, client_cpu, daemon_cpu, share))
            print(f"round {rnd + 1} {name:>4}: wall {wall:6.2f} s, client side {client_cpu:6.2f} s, "
                  f"daemon side {daemon_cpu:6.2f} s, client share {share * 100:5.1f} %, "
                  f"machine busy {busy * 100:3.0f} %, load {load}", flush=True)

    def med(name, i):
        return statistics.median(r[i] for r in results[name])

    lines = [f"client-bound: the daemon's compiler is a stand-in that copies each object from the "
             f"local build (an infinitely fast farm), so the wall is the client side's alone"] \
        if bound else []
    lines += [f"libgit2 Release, {len(reference)} objects, -j{args.jobs}, daemon "
             f"{'3.4' if args.daemon == '3.4' else 'ours'} (--jobs {args.jobs}, --nice 0), "
             f"{args.rounds} alternating rounds, medians:"]
    for name, _, _ in clients:
        lines.append(f"  {name:>9} client: wall {med(name, 0):6.2f} s, client side "
                     f"{med(name, 1):6.2f} s cpu, daemon side {med(name, 2):6.2f} s cpu, "
                     f"client-side share {med(name, 3) * 100:5.1f} %")
    lines.append(f"  of the client side, the local preprocessor alone (every compile command with -E, "
                 f"run serially, median of 3): {cpp_cpu:.2f} s cpu; the rest is make, cmake's helper "
                 f"commands, the link, and the distcc client itself")
    lines.append(f"  wall ours/3.4: {med('ours', 0) / med('3.4', 0):.3f} (target <= 0.85); "
                 f"client-side share ours {med('ours', 3) * 100:.1f} % (target <= 14 %)")
    lines.append("  per round: " + "; ".join(
        f"{name} {r[0]:.2f} s/{r[3] * 100:.1f} %" for name, _, _ in clients
        for r in results[name]))
    if args.pump:
        lines.append(f"  pump mode: wall ours pump/3.4 {med('ours pump', 0) / med('3.4', 0):.3f}; "
                     f"client-side share ours pump {med('ours pump', 3) * 100:.1f} %")
    text = "\n".join(lines)
    print(text, flush=True)
    out.append(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["trivial", "libgit2", "both", "bound"], default="both")
    ap.add_argument("--reps", type=int, default=200, help="trivial rounds (default 200)")
    ap.add_argument("--rounds", type=int, default=3, help="libgit2 rounds per client")
    ap.add_argument("--daemon-tmpdir",
                    help="TMPDIR for the daemon's job directories (e.g. a tmpfs: /dev/shm)")
    ap.add_argument("--pump", action="store_true",
                    help="libgit2 also in pump mode: 3.4's client under 3.4's pump and ours under ours")
    ap.add_argument("--jobs", type=int, default=4, help="make -j and daemon --jobs (libgit2)")
    ap.add_argument("--daemon", choices=["3.4", "ours"], default="3.4",
                    help="the one daemon of the libgit2 part")
    ap.add_argument("--ours", help="our client (default: built here, target/release/distcc)")
    ap.add_argument("--out", default=os.path.join(BENCH, "results", "client.txt"))
    ap.add_argument("--no-boost", action="store_true", help="do not run at nice -10")
    args = ap.parse_args()
    for tool in (CLIENT34, DAEMON34):
        if not os.path.exists(tool):
            raise SystemExit(f"{tool} is required (apt-get install distcc)")
    boosted = False
    if not args.no_boost and os.geteuid() == 0:
        os.nice(-10)
        boosted = True
    set_subreaper()
    if args.ours:
        ours = os.path.abspath(args.ours)
        ours_daemon = os.path.join(os.path.dirname(ours), "distccd")
    else:
        release = common.build_ours()
        ours, ours_daemon = os.path.join(release, "distcc"), os.path.join(release, "distccd")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT,
                            capture_output=True, text=True).stdout.strip()
    out = [f"Issue 3 client benchmark (bench/client.py), {datetime.date.today()}, commit {commit}, "
           f"{os.cpu_count()} CPUs shared with other work, nice {'-10' if boosted else '0'}; "
           f"ours = {ours}, 3.4 = {CLIENT34}"]
    work = tempfile.mkdtemp(prefix="bench-client-")
    os.chmod(work, 0o755)
    try:
        if args.part in ("trivial", "both"):
            trivial(args, ours, ours_daemon, work, out)
        if args.part in ("libgit2", "both"):
            libgit2(args, ours, ours_daemon, work, out)
        if args.part == "bound":
            libgit2(args, ours, ours_daemon, work, out, bound=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write("\n\n".join(out) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Issue 4's scheduling benchmark: a farm of distccd daemons on loopback (8 hosts x 4 slots by
default) running a stand-in compiler that sleeps instead of computing, so that slot choice and
hand-over -- not this machine's two cores -- are what is measured. A few hundred generated jobs
of mixed length are built by a generated Makefile in make's order through distcc 3.4's client
and through ours, against the same farm, in the same run.

The figure is makespan / ideal makespan, where the ideal is a zero-overhead single queue (see
farm/ideal.py). Scenarios: make -j equal to the slot count; -j three times the slot count; the
same with half the hosts (every other one, starting with the first) three times slower.

Usage: bench/farm.py [--quick] [--rounds N] [--daemon 3.4|ours|PATH] [--ours PATH] [--out FILE]

How the stand-in gets past distccd 3.4's compiler allow-list: it is compiled by this script and
installed as `cc`, a basename 3.4 allow-lists (/usr/lib/distcc/cc exists), in a directory put
first on PATH for the client and for every daemon. 3.4 checks only that the basename is listed
and then runs argv[0] from its PATH, so no `--enable-tcp-insecure` is needed; that keeps the
daemons' configuration the ordinary one, and works for any daemon that resolves an allow-listed
name through PATH. Each daemon's environment carries STANDIN_HOST (its tag in the job log),
STANDIN_SLOWDOWN (its speed) and STANDIN_LOG; the client's environment carries none of them, so
a job compiled on the client would be missing from the log and the run would be rejected.

A full run writes its table to bench/results/farm.txt; --quick is a smoke run (fewer, shorter
jobs, one round) that writes nothing unless --out is given."""
import argparse
import datetime
import os
import resource
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

# (title, make -j as a multiple of the slot count, whether half the hosts are 3x slower)
SCENARIOS = [
    ("-j = slots", 1, False),
    ("-j = 3 x slots", 3, False),
    ("-j = 3 x slots, half the hosts 3x slower", 3, True),
]
# Issue 4's targets for our client, per scenario; ours must also beat 3.4 in each.
TARGETS = [1.05, 1.08, 1.10]
SLOWDOWN = 3


class RunFailed(Exception):
    pass


def build_standin(bindir):
    os.makedirs(bindir, exist_ok=True)
    os.chmod(bindir, 0o755)
    out = os.path.join(bindir, "cc")
    subprocess.run(["gcc", "-O2", "-Wall", "-o", out + ".tmp",
                    os.path.join(BENCH, "farm", "standin.c")], check=True)
    os.chmod(out + ".tmp", 0o755)
    os.rename(out + ".tmp", out)


def cpu_busy():
    """(busy, total) jiffies of the whole machine, from /proc/stat's first line."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def clean_env():
    """The caller's environment without anything that would steer distcc or the stand-in."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("DISTCC_", "STANDIN_", "MAKEFLAGS", "MFLAGS"))}


class Farm:
    """hosts daemons of one implementation on loopback, each with slots jobs and its own
    slowdown factor, all running the stand-in and logging to one file."""

    def __init__(self, program, hosts, slots, factors, work, bindir, extra_args,
                 hosts_extra="", client_env=None):
        self.hosts_extra = hosts_extra
        self.client_env = client_env or {}
        self.log = os.path.join(work, "jobs.log")
        self.truncate_log()
        self.daemons = []
        self.tags = [f"h{i}" for i in range(hosts)]
        self.factors = factors
        self.slots = slots
        try:
            for tag, factor in zip(self.tags, factors):
                env = dict(clean_env(), PATH=bindir + ":" + os.environ["PATH"],
                           STANDIN_LOG=self.log, STANDIN_HOST=tag, STANDIN_SLOWDOWN=str(factor))
                self.daemons.append(common.Daemon(program, slots,
                                                  os.path.join(work, f"distccd-{tag}.log"),
                                                  env=env, extra_args=extra_args))
        except BaseException:
            self.stop()
            raise

    def truncate_log(self):
        # Daemons running as root drop to nobody, whose stand-in must still append here.
        with open(self.log, "w"):
            pass
        os.chmod(self.log, 0o666)

    def hosts_spec(self):
        spec = " ".join(f"127.0.0.1:{d.port}/{self.slots}" for d in self.daemons)
        return f"{spec} {self.hosts_extra}".strip()

    def host_slots(self):
        return {tag: self.slots for tag in self.tags}

    def slot_factors(self):
        """One factor per slot, in host-list order."""
        return [f for f in self.factors for _ in range(self.slots)]

    def stop(self):
        for d in self.daemons:
            d.stop()


def run_make(client, farm, tree, job_costs, make_jobs, work, bindir):
    """Builds the tree once through client; returns report.analyse's figures plus the ratio
    inputs. Raises RunFailed if make fails, an object is wrong, or a job did not run remotely
    exactly once."""
    jobs.clean(tree, len(job_costs))
    farm.truncate_log()
    ddir = tempfile.mkdtemp(prefix="distcc-dir-", dir=work)
    env = dict(clean_env(), PATH=bindir + ":" + os.environ["PATH"],
               DISTCC_HOSTS=farm.hosts_spec(), DISTCC_DIR=ddir, DISTCC_FALLBACK="0", DISTCC_CACHE="0",
               **farm.client_env)
    busy0, total0 = cpu_busy()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic_ns()
    p = subprocess.run(["make", "-s", "-C", tree, f"-j{make_jobs}", f"CC={client} cc"],
                       env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    t1 = time.monotonic_ns()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, total1 = cpu_busy()
    shutil.rmtree(ddir, ignore_errors=True)
    if p.returncode != 0:
        raise RunFailed(f"make exited {p.returncode}: "
                        + p.stderr.decode(errors="replace")[-1500:].strip())
    bad = jobs.check_objects(tree, job_costs)
    if bad:
        raise RunFailed(f"{len(bad)} objects missing or wrong, first {bad[:3]}")
    try:
        figures = report.analyse(report.parse_log(farm.log), t0, t1, farm.host_slots(),
                                 len(job_costs))
    except ValueError as e:
        raise RunFailed(str(e)) from None
    figures["cpu"] = (busy1 - busy0) / max(total1 - total0, 1)
    # make, the clients and their local cpp: what the client side costs per job.
    figures["client_ms"] = ((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)) \
        * 1000 / len(job_costs)
    return figures


def probe(client, farm, work, bindir):
    """None if client builds one job on the farm, else why not."""
    if not os.access(client, os.X_OK):
        return f"{client} is not built"
    tree = os.path.join(work, "probe")
    costs = [20]
    jobs.write_tree(tree, costs)
    try:
        run_make(client, farm, tree, costs, 1, work, bindir)
    except RunFailed as e:
        return f"{client} cannot build on the farm: {e}"
    return None


def daemon_program(choice):
    if choice == "3.4":
        found = shutil.which("distccd")
        if not found:
            raise SystemExit("Debian's distccd 3.4 is required (apt-get install distcc)")
        return found
    if choice == "ours":
        return os.path.join(common.ROOT, "target", "release", "distccd")
    return os.path.abspath(choice)


def describe(fig, factors, slots):
    slow = {f"h{i}" for i, f in enumerate(factors) if f != 1}
    per = fig["per_host"]
    jobs_on = " ".join(str(per[h]["jobs"]) for h in sorted(per, key=lambda h: int(h[1:])))
    peak = max(v["peak"] for v in per.values())
    line = (f"util {fig['utilisation']:.2f}, idle slot-s before last start "
            f"{fig['starved_slot_s']:6.1f}, first start {fig['first_start_s'] * 1000:4.0f} ms, "
            f"tail {fig['tail_s']:5.2f} s, overtaken by >= 1 s {fig['overtaken']:3d}, machine cpu {fig['cpu'] * 100:3.0f} %, "
            f"client cpu {fig['client_ms']:4.1f} ms/job, "
            f"peak/host {peak}/{slots}, jobs per host {jobs_on}")
    if slow:
        n_slow = sum(per[h]["jobs"] for h in slow)
        line += f" ({n_slow} on slow hosts)"
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 96 short jobs, 1 round")
    ap.add_argument("--hosts", type=int, default=8)
    ap.add_argument("--slots", type=int, default=4, help="slots per host (distccd --jobs)")
    ap.add_argument("--jobs", type=int, help="number of jobs (default 300, quick 96)")
    ap.add_argument("--min-ms", type=int, help="shortest job (default 50)")
    ap.add_argument("--max-ms", type=int, help="longest job (default 2000, quick 600)")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--rounds", type=int, help="runs per client and scenario (default 3, quick 1)")
    ap.add_argument("--daemon", default="3.4",
                    help="farm daemon: 3.4 (Debian's distccd), ours (target/release/distccd) "
                         "or a path")
    ap.add_argument("--daemon-arg", action="append", default=[],
                    help="extra argument for every daemon (repeatable)")
    ap.add_argument("--client34", default=shutil.which("distcc") or "/usr/bin/distcc")
    ap.add_argument("--ours", default=os.path.join(common.ROOT, "target", "release", "distcc"),
                    help="our client (default target/release/distcc; not built here)")
    ap.add_argument("--scenario", type=int, action="append", choices=[1, 2, 3],
                    help="run only this scenario (repeatable; default all three)")
    ap.add_argument("--hosts-extra", default="",
                    help="appended to DISTCC_HOSTS, e.g. --localslots_cpp=32 (exploration)")
    ap.add_argument("--client-env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra client environment, e.g. DISTCC_PAUSE_TIME_MSEC=20 (repeatable)")
    ap.add_argument("--only", choices=["3.4", "ours"], help="drive the farm with one client")
    ap.add_argument("--out", help="results file (default bench/results/farm.txt; none if quick)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--nice", type=int, default=-10,
                    help="niceness of the harness, daemons, make and clients (default -10 when "
                         "allowed): the farm's own CPU is small, and a raised priority keeps "
                         "other work on this machine out of the slot hand-over times")
    args = ap.parse_args()
    n_jobs = args.jobs or (96 if args.quick else 300)
    lo = args.min_ms if args.min_ms is not None else 50
    hi = args.max_ms or (600 if args.quick else 2000)
    rounds = args.rounds or (1 if args.quick else 3)
    out = args.out or (None if args.quick else os.path.join(BENCH, "results", "farm.txt"))
    if not 0 < lo <= hi or n_jobs < 1 or rounds < 1 or args.hosts < 1 or args.slots < 1:
        raise SystemExit("farm: need 0 < min-ms <= max-ms and positive jobs, rounds, hosts, slots")
    client_env = {}
    for kv in args.client_env:
        k, sep, v = kv.partition("=")
        if not sep or not k:
            raise SystemExit(f"farm: --client-env wants NAME=VALUE, not {kv!r}")
        client_env[k] = v
    program = daemon_program(args.daemon)
    if not os.access(program, os.X_OK):
        raise SystemExit(f"farm: daemon {program} is not built")
    if not os.access(args.client34, os.X_OK) and args.only != "ours":
        raise SystemExit("farm: distcc 3.4's client is required (apt-get install distcc)")

    try:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    except OSError as e:
        print(f"farm: cannot set niceness {args.nice} ({e.strerror}); running at "
              f"{os.getpriority(os.PRIO_PROCESS, 0)}", flush=True)
    work = tempfile.mkdtemp(prefix="bench-farm-")
    os.chmod(work, 0o755)  # 3.4's daemons run as nobody when started as root
    bindir = os.path.join(work, "bin")
    build_standin(bindir)
    tree = os.path.join(work, "tree")
    job_costs = jobs.costs(n_jobs, lo, hi, args.seed)
    jobs.write_tree(tree, job_costs)
    slots_total = args.hosts * args.slots

    # make runs in the job tree, so relative client paths would point nowhere.
    clients = {"3.4": os.path.abspath(args.client34), "ours": os.path.abspath(args.ours)}
    if args.only:
        clients = {args.only: clients[args.only]}
    not_measured = {}
    results = {}  # (scenario index, client) -> list of figures
    failures = {}
    ideals = []
    print(f"farm: {args.hosts} x {args.slots} slots ({os.path.basename(program)} "
          f"{args.daemon}), {n_jobs} jobs of {lo}-{hi} ms (seed {args.seed}, "
          f"{sum(job_costs) / 1000:.0f} s of work), {rounds} round(s)", flush=True)
    try:
        for si, (title, mult, slow) in enumerate(SCENARIOS):
            if args.scenario and si + 1 not in args.scenario:
                continue
            factors = [SLOWDOWN if slow and i % 2 == 0 else 1 for i in range(args.hosts)]
            make_jobs = mult * slots_total
            farm = Farm(program, args.hosts, args.slots, factors, work, bindir, args.daemon_arg,
                        args.hosts_extra, client_env)
            ideal_s = ideal.makespan(job_costs, farm.slot_factors(), make_jobs) / 1000
            ideals.append((si, title, make_jobs, ideal_s))
            print(f"\n{title}: make -j{make_jobs}, ideal makespan {ideal_s:.2f} s", flush=True)
            try:
                for name, client in clients.items():
                    if name not in not_measured:
                        why = probe(client, farm, work, bindir)
                        if why:
                            not_measured[name] = why
                            print(f"  {name}: not measured: {why}", flush=True)
                order = [n for n in clients if n not in not_measured]
                for rnd in range(rounds):
                    # Alternate which client goes first, so neither always gets a warm farm.
                    for name in (order if rnd % 2 == 0 else order[::-1]):
                        try:
                            fig = run_make(clients[name], farm, tree, job_costs, make_jobs,
                                           work, bindir)
                        except RunFailed as e:
                            if name == "3.4":
                                raise SystemExit(f"farm: 3.4's client failed: {e}")
                            failures.setdefault((si, name), []).append(str(e))
                            print(f"  round {rnd + 1} {name:>4}: FAILED: {e}", flush=True)
                            continue
                        fig["ratio"] = fig["makespan_s"] / ideal_s
                        results.setdefault((si, name), []).append(fig)
                        print(f"  round {rnd + 1} {name:>4}: {fig['makespan_s']:6.2f} s = "
                              f"{fig['ratio']:.3f} x ideal; {describe(fig, factors, args.slots)}",
                              flush=True)
            finally:
                farm.stop()
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    text = table(args, program, n_jobs, lo, hi, rounds, job_costs, ideals, results, failures,
                 not_measured, clients)
    print("\n" + text, end="")
    if out:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out + ".tmp", "w") as f:
            f.write(text)
        os.rename(out + ".tmp", out)
        print(f"written to {os.path.relpath(out)}")


def table(args, program, n_jobs, lo, hi, rounds, job_costs, ideals, results, failures,
          not_measured, clients):
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT,
                         capture_output=True, text=True).stdout.strip() or "unknown"
    lines = [
        "Issue 4 scheduling farm (bench/farm.py): makespan / ideal makespan, median of "
        f"{rounds} round(s) [min-max]",
        f"{datetime.date.today()}, commit {rev}, {os.cpu_count()} CPUs; farm: {args.hosts} "
        f"daemons x {args.slots} slots on loopback, daemon {program} ({args.daemon}); "
        f"{n_jobs} jobs, {lo}-{hi} ms uniform, seed {args.seed}, "
        f"{sum(job_costs) / 1000:.0f} s of stand-in sleep; farm processes at nice "
        f"{os.getpriority(os.PRIO_PROCESS, 0)}",
        "clients: " + ", ".join(f"{n} = {c}" for n, c in clients.items())
        + f"; load average at the end {os.getloadavg()[0]:.1f} (other work on this machine "
        "lengthens slot hand-overs: see machine cpu below)",
        "ideal: zero-overhead single queue, make's order, each job on the free slot that "
        "finishes it first",
        "",
        f"{'scenario':<42} {'-j':>4} {'ideal':>7}  " + "  ".join(f"{n + ' client':<22}"
                                                             for n in ("3.4", "ours")),
    ]
    for si, title, make_jobs, ideal_s in ideals:
        cells = []
        for name in ("3.4", "ours"):
            figs = results.get((si, name))
            if name not in clients:
                cells.append("not run (--only)")
            elif name in not_measured:
                cells.append("not measured")
            elif not figs:
                cells.append("failed")
            else:
                r = [f["ratio"] for f in figs]
                cell = f"{statistics.median(r):.3f} [{min(r):.3f}-{max(r):.3f}]"
                if (si, name) in failures:
                    cell += " +fail"
                cells.append(cell)
        lines.append(f"{title:<42} {make_jobs:>4} {ideal_s:6.2f}s  "
                     + "  ".join(f"{c:<22}" for c in cells))
    lines.append("")
    lines.append("targets for ours: " + ", ".join(f"{t[0]} <= {g:.2f}"
                                                 for t, g in zip(SCENARIOS, TARGETS))
                 + "; and better than 3.4 in each")
    for name, why in not_measured.items():
        lines.append(f"{name}: not measured: {why}")
    for (si, name), errs in failures.items():
        lines.append(f"{name}, {SCENARIOS[si][0]}: {len(errs)} failed run(s): {errs[0][:200]}")
    lines.append("")
    lines.append("per run (util = stand-in busy time / (slots x makespan); idle slot-s = slot "
                 "time idle before the last job started, which the ideal does not have):")
    for si, title, make_jobs, ideal_s in ideals:
        slow = SCENARIOS[si][2]
        factors = [SLOWDOWN if slow and i % 2 == 0 else 1 for i in range(args.hosts)]
        for name in ("3.4", "ours"):
            for i, fig in enumerate(results.get((si, name), [])):
                lines.append(f"  {title}, {name} #{i + 1}: {fig['makespan_s']:.2f} s "
                             f"({fig['ratio']:.3f}); {describe(fig, factors, args.slots)}")
    return "\n".join(lines) + "\n"


main()

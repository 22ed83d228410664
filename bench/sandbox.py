#!/usr/bin/env python3
"""Issue 20: what the job sandbox costs per job. Our client compiles a trivial file through
two of our daemons started as root (so they drop to their own user): one sandboxing every
job (the default), one with --no-sandbox (today's behaviour before the sandbox). Rounds
alternate between the two, so both see the same machine; medians and the paired ratio
(sandboxed / unsandboxed wall of the same round) are printed. Target: <= 1.10.

Also a -O2 compile of a mid-sized file (Lua's lvm.c, preprocessed) for the cost relative to
real work. Usage: bench/sandbox.py [--reps N] [--out FILE]"""
import argparse, os, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Daemon, build_ours, corpus  # noqa: E402


def timed(argv, env, cwd):
    t = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def measure(name, args, ours, env_for, work, reps, out):
    walls = {"sandbox": [], "no-sandbox": []}
    for _ in range(3):
        for k in walls:
            timed([ours, *args], env_for[k], work)
    for rnd in range(reps):
        order = list(walls) if rnd % 2 == 0 else list(reversed(list(walls)))
        for k in order:
            walls[k].append(timed([ours, *args], env_for[k], work))
    sb = statistics.median(walls["sandbox"])
    ns = statistics.median(walls["no-sandbox"])
    paired = statistics.median(a / b for a, b in zip(walls["sandbox"], walls["no-sandbox"]))
    text = (f"{name}: {reps} interleaved rounds, medians\n"
            f"  no sandbox  {ns * 1e3:8.2f} ms\n"
            f"  sandbox     {sb * 1e3:8.2f} ms\n"
            f"  ratio {sb / ns:.3f}, paired {paired:.3f}, extra {(sb - ns) * 1e3:.2f} ms per job "
            f"(target: <= 1.10)")
    print(text, flush=True)
    out.append(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--out")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the daemons drop to their own user, as in production")
    rel = build_ours()
    ours, daemon = os.path.join(rel, "distcc"), os.path.join(rel, "distccd")
    out = [f"bench/sandbox.py, {time.strftime('%Y-%m-%d %H:%M')}, load average "
           f"{open('/proc/loadavg').read().split()[0]}"]
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as work:
        os.chmod(work, 0o755)
        with open(os.path.join(work, "x.c"), "w") as f:
            f.write("int twice(int x) { return 2 * x; }\n")
        lua = corpus("lua")
        i = subprocess.run(["gcc", "-E", os.path.join(lua, "lvm.c")], capture_output=True,
                           check=True).stdout
        mid = os.path.join(work, "lvm.i")
        with open(mid, "wb") as f:
            f.write(i)
        daemons = {
            "sandbox": Daemon(daemon, 4, os.path.join(work, "sandbox.log")),
            "no-sandbox": Daemon(daemon, 4, os.path.join(work, "plain.log"),
                                 extra_args=["--no-sandbox"]),
        }
        base = dict(os.environ, DISTCC_FALLBACK="0", DISTCC_CACHE="0", DISTCC_DIR=os.path.join(work, "dd"))
        for k in ("DISTCC_VERBOSE", "DISTCC_LOG"):
            base.pop(k, None)
        os.makedirs(base["DISTCC_DIR"], exist_ok=True)
        env_for = {k: dict(base, DISTCC_HOSTS=f"127.0.0.1:{d.port}/4")
                   for k, d in daemons.items()}
        try:
            measure("trivial compile, source preprocessed by the client (gcc -c x.c)", ["gcc", "-c", "x.c", "-o", "x.o"], ours,
                    env_for, work, args.reps, out)
            with open(os.path.join(work, "x.i"), "w") as f:
                f.write("int twice(int x) { return 2 * x; }\n")
            measure("trivial compile of a .i (no preprocessing to overlap the sandbox's set-up)",
                    ["gcc", "-c", "x.i", "-o", "x.o"], ours, env_for, work, args.reps, out)
            if len(i) > 0:
                measure(f"Lua's lvm.c preprocessed ({len(i) // 1024} KiB), gcc -O2 -c",
                        ["gcc", "-O2", "-c", "lvm.i", "-o", "lvm.o"], ours, env_for, work,
                        max(args.reps // 4, 20), out)
        finally:
            for d in daemons.values():
                d.stop()
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n".join(out) + "\n\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Issue 2's benchmark: libgit2 built through Debian's distcc 3.4 client, once against
Debian's distccd 3.4 and once against ours, alternating, in the same run on this machine.
Prints the wall-clock and daemon-CPU ratios (ours / 3.4); lower is better for ours.

Usage: bench/daemon_libgit2.py [--rounds N] [--lzo]

The daemons' CPU is their own utime+stime from /proc (compilers excluded), sampled every
50 ms; 3.4's pre-forked children are summed. Objects are checked byte-identical to a local
build after every round, so a fast wrong answer cannot win."""
import argparse, os, shutil, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--lzo", action="store_true", help="protocol 2 instead of 1")
    ap.add_argument("--jobs", type=int, default=4)
    args = ap.parse_args()

    ours = os.path.join(common.build_ours(), "distccd")
    theirs = shutil.which("distccd")
    client = shutil.which("distcc")
    if not theirs or not client:
        raise SystemExit("Debian's distcc and distccd 3.4 are required (apt-get install distcc)")
    work = tempfile.mkdtemp(prefix="bench-libgit2-")
    os.chmod(work, 0o755)
    build = common.configure_libgit2(work)
    env = dict(os.environ, LAUNCH="")
    subprocess.run(["make", "-C", build, f"-j{args.jobs}"], env=env, check=True, capture_output=True)
    reference = common.objects(build)

    results = {"3.4": [], "ours": []}
    for rnd in range(args.rounds):
        for name, program in (("3.4", theirs), ("ours", ours)):
            subprocess.run(["make", "-C", build, "clean"], check=True, capture_output=True)
            d = common.Daemon(program, args.jobs, os.path.join(work, f"{name}.log"))
            ddir = tempfile.mkdtemp(dir=work)
            host = f"127.0.0.1:{d.port}/{args.jobs}" + (",lzo" if args.lzo else "")
            env = dict(os.environ, LAUNCH=client, DISTCC_HOSTS=host, DISTCC_FALLBACK="0", DISTCC_CACHE="0",
                       DISTCC_DIR=ddir)
            try:
                wall = common.run_sampling(["make", "-C", build, f"-j{args.jobs}"], [d], env=env)
            finally:
                d.stop()
            if common.objects(build) != reference:
                raise SystemExit(f"round {rnd}: {name}'s objects differ from the local build")
            results[name].append((wall, d.cpu_seconds()))
            print(f"round {rnd + 1} {name:>4}: wall {wall:6.2f} s, daemon cpu {d.cpu_seconds():6.2f} s",
                  flush=True)

    def med(name, i):
        return statistics.median(r[i] for r in results[name])

    proto = "2 (lzo)" if args.lzo else "1"
    print(f"\nlibgit2 Release, {len(reference)} objects, protocol {proto}, -j{args.jobs}, "
          f"{args.rounds} rounds, medians:")
    print(f"  distccd 3.4: wall {med('3.4', 0):6.2f} s, daemon cpu {med('3.4', 1):6.2f} s")
    print(f"  ours       : wall {med('ours', 0):6.2f} s, daemon cpu {med('ours', 1):6.2f} s")
    print(f"  ratio ours/3.4: wall {med('ours', 0) / med('3.4', 0):.3f}, "
          f"daemon cpu {med('ours', 1) / max(med('3.4', 1), 1e-9):.3f}")
    shutil.rmtree(work, ignore_errors=True)


main()

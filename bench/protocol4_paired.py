#!/usr/bin/env python3
"""Issue 14's client-CPU target measured file by file: the same preprocessed source sent by our
client over protocol 2 (LZO), protocol 4 (zstd, chunks) and protocol 4 with chunks off
(`DISTCC_CHUNKS=0`), back to back, to one of our daemons on loopback; the client's own CPU
read from its zombie (as bench/protocol4.py does: /proc/PID/schedstat of the main thread, no
children), and the three compared per file. Whole-build rounds (bench/protocol4.py) swing by
10-20 % on a shared 2-CPU machine; three sends of one file a few milliseconds apart see the
same load, so the paired ratios are far steadier.

The inputs are `.i` files (the client sends them as they are: no preprocessor runs), e.g.
libgit2's preprocessed sources made as in bench/results/protocol4.txt ("How I measured":
`gcc -E` of every compile_commands.json entry). The daemon's chunk store fills as the files
go by, as in a build (each file's new chunks are sent once, with the first file that has
them). The compiles are `-O0`, to keep the run short: the compile is the daemon's, not
measured here.

Usage: bench/protocol4_paired.py [--corpus DIR] [--files N] [--ours DIR] [--out FILE]"""
import argparse
import datetime
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "protocol4", os.path.join(os.path.dirname(os.path.abspath(__file__)), "protocol4.py"))


def measure_script():
    # The same launcher as bench/protocol4.py (read from it, not copied).
    with open(_spec.origin) as f:
        text = f.read()
    start = text.index("MEASURE = r'''") + len("MEASURE = r'''")
    return text[start:text.index("'''", start)]


VARIANTS = (2, 4, "4z")


def libgit2_corpus(work):
    """libgit2's Release sources preprocessed, one `<i>.i` per compile_commands.json entry
    (`gcc -E` of its command without `-c` and `-o`); returns the directory."""
    build = common.configure_libgit2(work, extra=("-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",))
    out = os.path.join(work, "i")
    os.makedirs(out)
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    for n, e in enumerate(entries):
        argv = shlex.split(e["command"])
        o = argv.index("-o")
        del argv[o:o + 2]
        argv = [a for a in argv if a != "-c" and not a.endswith("launch.sh")]
        subprocess.run(argv + ["-E", "-o", os.path.join(out, f"{n}.i")], cwd=e["directory"],
                       check=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", help="directory of preprocessed .i files (default: libgit2's, "
                    "made here with gcc -E)")
    ap.add_argument("--files", type=int, default=70, help="how many of them (evenly spread)")
    ap.add_argument("--ours", help="directory of our release binaries (default: build them)")
    ap.add_argument("--out", default=os.path.join(common.ROOT, "bench", "results",
                                                  "protocol4_paired.txt"))
    args = ap.parse_args()
    ours = os.path.abspath(args.ours) if args.ours else common.build_ours()
    if not args.corpus:
        args.corpus = libgit2_corpus(tempfile.mkdtemp(prefix="bench-p4p-corpus-"))
    files = sorted(os.path.join(args.corpus, f) for f in os.listdir(args.corpus)
                   if f.endswith(".i"))
    step = max(1, len(files) // max(1, args.files))
    files = files[::step][:args.files]
    work = tempfile.mkdtemp(prefix="bench-p4p-")
    os.chmod(work, 0o755)
    measure = os.path.join(work, "measure.py")
    with open(measure, "w") as f:
        f.write(measure_script())
    os.chmod(measure, 0o755)
    d = common.Daemon(os.path.join(ours, "distccd"), 2, os.path.join(work, "daemon.log"))
    host = f"127.0.0.1:{d.port}/2,lzo"
    client = os.path.join(ours, "distcc")
    dirs = {}
    for v in VARIANTS:
        dirs[v] = os.path.join(work, f"dir-{v}")
        os.makedirs(os.path.join(dirs[v], "adverts"))
        if v != 2:
            with open(os.path.join(dirs[v], "adverts", f"tcp_127.0.0.1_{d.port}"), "w") as f:
                f.write("protocol=4\nchunks=1\n" if v == 4 else "protocol=4\n")
    cpu_log = os.path.join(work, "cpu.log")

    def send(v, src, out):
        env = dict(os.environ, DISTCC_HOSTS=host, DISTCC_FALLBACK="0", DISTCC_CACHE="0",
                   DISTCC_DIR=dirs[v], DISTCC_PROTOCOL="3" if v == 2 else "4",
                   DISTCC_CHUNKS="0" if v == "4z" else "1",
                   P4_CLIENT=client, P4_CPU_LOG=cpu_log)
        env.pop("DISTCC_LOG", None)
        env.pop("DISTCC_VERBOSE", None)
        if os.path.exists(cpu_log):
            os.remove(cpu_log)
        subprocess.run([measure, "gcc", "-O0", "-w", "-c", src, "-o", out], env=env,
                       check=True, cwd=work, capture_output=True)
        with open(cpu_log) as f:
            return int(f.read().split()[0])

    try:
        # Warm-up: each variant's compiler identity cache and first contexts.
        warm = os.path.join(work, "warm.i")
        with open(warm, "w") as f:
            f.write("int warm(void) { return 1; }\n")
        for v in VARIANTS:
            send(v, warm, os.path.join(work, "warm.o"))
        ns = {v: [] for v in VARIANTS}
        sizes = []
        for i, src in enumerate(files):
            # Each variant first, second and last in turn.
            k = i % 3
            for v in VARIANTS[k:] + VARIANTS[:k]:
                ns[v].append(send(v, src, os.path.join(work, f"out-{v}.o")))
            sizes.append(os.path.getsize(src))
            outs = [open(os.path.join(work, f"out-{v}.o"), "rb").read() for v in VARIANTS]
            if outs[1:] != outs[:-1]:
                raise SystemExit(f"{src}: the objects differ between protocols")
    finally:
        d.stop()
    with open(os.path.join(work, "daemon.log")) as f:
        log = f.read()

    lines = []

    def say(s):
        print(s, flush=True)
        lines.append(s)

    n = len(files)
    say(f"{n} preprocessed sources from {args.corpus}, {sum(sizes) / n / 1024:.0f} KiB on average; "
        f"our client to our daemon, each file sent as protocol 2, 4 and 4z back to back")
    for v in (4, "4z"):
        per_file = [a / b for a, b in zip(ns[v], ns[2])]
        diff = [(a - b) / 1e3 for a, b in zip(ns[v], ns[2])]
        name = "protocol 4 (chunks)" if v == 4 else "protocol 4z (zstd, chunks off)"
        say(f"  {name}: client cpu {sum(ns[v]) / 1e9:.3f} s against protocol 2's "
            f"{sum(ns[2]) / 1e9:.3f} s: ratio {sum(ns[v]) / sum(ns[2]):.3f}; per file: median "
            f"ratio {statistics.median(per_file):.3f}, median difference "
            f"{statistics.median(diff):+.0f} us (quartiles "
            f"{statistics.quantiles(diff, n=4)[0]:+.0f} / {statistics.quantiles(diff, n=4)[2]:+.0f} us)")
    say(f"  client cpu per file (medians): p2 {statistics.median(ns[2]) / 1e3:.0f} us, "
        f"p4 {statistics.median(ns[4]) / 1e3:.0f} us, p4z {statistics.median(ns['4z']) / 1e3:.0f} us")
    if "panicked" in log:
        raise SystemExit("the daemon panicked")
    with open(args.out, "w") as f:
        f.write(f"# bench/protocol4_paired.py, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
                f"{os.cpu_count()}-CPU machine shared with other work\n")
        f.write("\n".join(lines) + "\n")
    shutil.rmtree(work, ignore_errors=True)


main()

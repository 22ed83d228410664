#!/usr/bin/env python3
"""Issue 5: per-file latency of many small compiles over SSH, in one run.

A real OpenSSH server on a loopback port (host and user keys generated into a temp dir; run as
root), `DISTCC_SSH` naming a wrapper that runs `ssh -F <generated config>`. The same files are
compiled one after another (as make -j1 would) by:

  3.4 ssh        Debian's distcc client over ssh (a handshake per file)
  ours ssh       our client over ssh, DISTCC_SSH_HOARD=0 (a handshake per file)
  ours hoarded   our client over ssh with hoarding (one held connection)
  ours tcp       our client over plain TCP
  3.4 tcp        Debian's distcc client over plain TCP (for reference)

and, against our distccd, the two ways a hoarded job reaches it: through the held daemon
(`distccd --held-socket`, which the first job's `--inetd` starts; later jobs are one channel
over the held connection to its unix socket, forwarded with `ssh -O forward`), and a session
and `distccd --inetd` per job as before (the far command a wrapper adding `--ssh-hold 0`).

against the same daemon implementation per group: Debian's distccd 3.4 (as `distccd --inetd`
started by sshd for the ssh rows, standalone on 127.0.0.1 for the tcp rows), then ours (the same
three rows of our client against our distccd). A reference row runs 3.4's `distccd --inetd` through
a stand-in "ssh" that execs it locally: 3.4's inetd mode polls its compiler with a 1 s select on
the client's descriptor, so every job it serves takes about 1 s whatever the transport, and the
rows against it are run over fewer files (--files-34-inetd). Rounds are interleaved so that drift
hits every row alike (file by file: each row compiles file i before any compiles i + 1); the
figure per row is the median over rounds of the mean wall time per file, and the paired figure
the median over files of one row's time over another's for the same file in the same round.
Target (issue 14): ours hoarded (held daemon) / ours tcp <= 1.3 against the same daemon, over
40 trivial compiles.

The sshd gets `SetEnv SHLVL=1`: bash, as the far login shell, otherwise sources the account's
~/.bashrc for every ssh session (bash does that when SSH_CLIENT is set), and this machine's root
.bashrc runs `pyenv init` (~0.25 s): a cost of that account, not of ssh.

The sshd also sets HOME to a directory of the run, where the held daemon's socket lives
(`~/.distcc/held`); the held daemons are killed at the end.

Usage: sudo python3 bench/ssh_latency.py [--files 40] [--files-34-inetd 20] [--rounds 3]
                                         [--part all|held]
(`--part held`: only the rows against our distccd, a few minutes shorter.)
Writes bench/results/ssh.txt. Everything listens on 127.0.0.1 only; sshd, its connections and
every connection master are stopped at the end.
"""
import argparse, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ALIAS = "sshbench"


def build_ours():
    env = dict(os.environ)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bins"], cwd=common.ROOT,
                   check=True, env=env)
    target = env.get("CARGO_TARGET_DIR") or os.path.join(common.ROOT, "target")
    return os.path.join(target, "release")


def keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "distcc-bench", "-f", path],
                   check=True, stdin=subprocess.DEVNULL)


class Sshd:
    """sshd on 127.0.0.1:<free port> with generated keys; `wrapper` is the DISTCC_SSH program."""

    def __init__(self, work):
        self.dir = os.path.join(work, "sshd")
        os.makedirs(self.dir)
        os.makedirs("/run/sshd", exist_ok=True)
        d = self.dir
        for k in ("host_key", "user_key"):
            keygen(os.path.join(d, k))
        shutil.copy(os.path.join(d, "user_key.pub"), os.path.join(d, "authorized_keys"))
        self.port = common.free_port()
        with open(os.path.join(d, "sshd_config"), "w") as f:
            f.write(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n"
                    f"PidFile none\nAuthorizedKeysFile {d}/authorized_keys\nStrictModes no\n"
                    "UsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\nMaxSessions 64\nMaxStartups 64:30:128\n"
                    f"PrintMotd no\nLogLevel INFO\nSetEnv SHLVL=1 HOME={d}/home\n")
        os.makedirs(os.path.join(d, "home"))
        kind, key = open(os.path.join(d, "host_key.pub")).read().split()[:2]
        with open(os.path.join(d, "known_hosts"), "w") as f:
            f.write(f"[127.0.0.1]:{self.port} {kind} {key}\n")
        with open(os.path.join(d, "ssh_config"), "w") as f:
            f.write(f"Host {ALIAS}\n  HostName 127.0.0.1\n  Port {self.port}\n  User root\n"
                    f"  IdentityFile {d}/user_key\n  IdentitiesOnly yes\n"
                    f"  UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n"
                    "  StrictHostKeyChecking yes\n  CheckHostIP no\n  BatchMode yes\n"
                    "  LogLevel ERROR\n")
        self.wrapper = os.path.join(d, "ssh-wrapper")
        with open(self.wrapper, "w") as f:
            f.write(f"#!/bin/sh\nexec ssh -F {d}/ssh_config \"$@\"\n")
        os.chmod(self.wrapper, 0o755)
        self.log = open(os.path.join(d, "sshd.log"), "w")
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", os.path.join(d, "sshd_config")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log, start_new_session=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise SystemExit("sshd did not start: " + open(os.path.join(d, "sshd.log")).read())

    def stop(self):
        # Per-connection children live in sessions of their own: kill them first, so every
        # connection master sees its connection close and exits by itself.
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except OSError:
            pass
        self.proc.wait(timeout=10)


def kill_masters(under):
    """Connection masters whose control socket lives under `under`."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("ssh: ") and "[mux]" in cmd and under in cmd:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def kill_held(under):
    """Held daemons (`distccd --held-socket`) whose socket lives under `under`."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
        except OSError:
            continue
        if "--held-socket\0" + under in cmd:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def write_sources(src, n):
    os.makedirs(src)
    for i in range(n):
        with open(os.path.join(src, f"f{i}.c"), "w") as f:
            f.write(f"static int table[{i + 1}];\n"
                    f"int f{i}(int x) {{ table[x % {i + 1}] = x; return x * {i} + table[0]; }}\n")


def compile_one(client, env, src, out, i):
    """Compiles file `i`; returns its wall time in seconds."""
    start = time.perf_counter()
    r = subprocess.run([client, "gcc", "-O2", "-c", os.path.join(src, f"f{i}.c"), "-o",
                        os.path.join(out, f"f{i}.o")], env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit(f"{client} failed on f{i}.c: {r.stderr.decode(errors='replace')}")
    return time.perf_counter() - start


def run_row(client, env, src, out, n):
    """Compiles every file in turn; returns the mean seconds per file."""
    os.makedirs(out, exist_ok=True)
    return sum(compile_one(client, env, src, out, i) for i in range(n)) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--files-34-inetd", type=int, default=20,
                    help="files for the rows served by 3.4's distccd --inetd (about 1 s each)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--part", choices=("all", "held"), default="all")
    ap.add_argument("--out", default=os.path.join(common.ROOT, "bench", "results", "ssh.txt"))
    args = ap.parse_args()
    # Stop cleanly (sshd, masters, daemon) on SIGTERM, and on SIGINT even when started in the
    # background, where a shell leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if os.geteuid() != 0:
        raise SystemExit("run as root: sshd must be able to log in as a user")
    for tool in ("distcc", "distccd", "gcc", "ssh", "ssh-keygen"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed")
    bindir = build_ours()
    ours = os.path.join(bindir, "distcc")
    ours_d = os.path.join(bindir, "distccd")
    work = tempfile.mkdtemp(prefix="distcc-ssh-bench-")
    sshd = Sshd(work)
    tcp = common.Daemon(shutil.which("distccd"), 4, os.path.join(work, "distccd.log"))
    ours_tcp = common.Daemon(ours_d, 4, os.path.join(work, "ours-distccd.log"))
    fake = os.path.join(work, "fakessh")
    with open(fake, "w") as f:
        # Drops ssh's options and the host name and runs the far command right here.
        f.write('#!/bin/sh\nwhile [ $# -gt 0 ]; do case "$1" in -o|-l) shift 2;; -*) shift;; '
                '*) break;; esac; done\nshift\nexec "$@"\n')
    os.chmod(fake, 0o755)
    no_hold = os.path.join(work, "distccd-no-hold")
    with open(no_hold, "w") as f:
        f.write(f'#!/bin/sh\nexec {ours_d} --ssh-hold 0 "$@"\n')
    os.chmod(no_hold, 0o755)
    src = os.path.join(work, "src")
    write_sources(src, args.files)

    base = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC_")}
    base.update(DISTCC_SSH=sshd.wrapper, DISTCC_FALLBACK="0", DISTCC_CACHE="0", DISTCC_BACKOFF_PERIOD="0")

    def env(tag, hosts, **extra):
        d = os.path.join(work, "dir-" + tag)
        # 3.4 compiles locally (or, without fallback, fails) when DISTCC_DIR is missing.
        os.makedirs(d, exist_ok=True)
        e = dict(base, DISTCC_DIR=d, DISTCC_HOSTS=hosts)
        e.update(extra)
        return e

    ssh_host = f"@{ALIAS}/4"
    tcp_host = f"127.0.0.1:{tcp.port}/4"
    ours_ssh_host = f"@{ALIAS}/4:{ours_d}"
    ours_tcp_host = f"127.0.0.1:{ours_tcp.port}/4"
    n34, n = min(args.files_34_inetd, args.files), args.files
    HELD = "ours, ssh, hoarded: held daemon (our distccd)"
    PER_JOB = "ours, ssh, hoarded: --inetd per job (our distccd)"
    TCP = "ours, tcp (our distccd)"
    rows = [
        (HELD, ours, env("ours-held", ours_ssh_host), n),
        (PER_JOB, ours, env("ours-per-job", f"@{ALIAS}/4:{no_hold}"), n),
        (TCP, ours, env("ours-tcp-od", ours_tcp_host), n),
        ("ours, ssh, no hoarding (our distccd --inetd)", ours,
         env("ours-ssh-od", ours_ssh_host, DISTCC_SSH_HOARD="0"), n),
        ("3.4 client, ssh (our distccd --inetd)", "distcc",
         env("c34-ssh-od", ours_ssh_host), n),
    ]
    rows34 = [
        ("3.4 client, ssh (3.4 distccd --inetd)", "distcc", env("c34-ssh", ssh_host), n34),
        ("ours, ssh, no hoarding (3.4 distccd --inetd)", ours,
         env("ours-ssh", ssh_host, DISTCC_SSH_HOARD="0"), n34),
        ("ours, ssh, hoarded (3.4 distccd --inetd)", ours, env("ours-hoard", ssh_host), n34),
        ("ours, no ssh: pipe to 3.4 distccd --inetd", ours,
         env("ours-pipe", "@nowhere/4", DISTCC_SSH=fake, DISTCC_SSH_HOARD="0"), n34),
        ("ours, tcp (3.4 distccd)", ours, env("ours-tcp", tcp_host), n),
        ("3.4 client, tcp (3.4 distccd)", "distcc", env("c34-tcp", tcp_host), n),
    ]
    if args.part == "all":
        rows += rows34
    times = {name: [] for name, _, _, _ in rows}
    load_before = os.getloadavg()[0]
    try:
        for name, client, e, _ in rows:
            # Warm-up: page cache, and the held connection (its one handshake is not counted).
            run_row(client, e, src, os.path.join(work, "warm"), min(2, args.files))
        # Interleaved file by file (every row compiles file i before any compiles i + 1), so
        # that the machine's drift hits every row alike; each file's times are kept for the
        # paired ratios.
        per_file = {name: [] for name, _, _, _ in rows}
        for r in range(args.rounds):
            out = os.path.join(work, f"out-{r}")
            os.makedirs(out, exist_ok=True)
            total = {name: 0.0 for name, _, _, _ in rows}
            for i in range(n):
                for name, client, e, files in rows:
                    if i < files:
                        t = compile_one(client, e, src, out, i)
                        total[name] += t
                        per_file[name].append(t)
            for name, _, _, files in rows:
                times[name].append(total[name] / files)
                print(f"round {r + 1}: {name}: {total[name] / files * 1000:.1f} ms/file",
                      flush=True)
        # The held row really went through the held daemon, the per-job row never did.
        for name, client, e, _ in rows[:2]:
            d = os.path.join(e["DISTCC_DIR"], "ssh")
            held = any(f.endswith(".to") for f in os.listdir(d))
            if held != (name == HELD):
                raise SystemExit(f"{name}: forward to a held daemon set up: {held}")
        local = []
        for r in range(args.rounds):
            start = time.perf_counter()
            for i in range(args.files):
                subprocess.run(["gcc", "-O2", "-c", os.path.join(src, f"f{i}.c"), "-o",
                                os.path.join(work, f"local{i}.o")], check=True)
            local.append((time.perf_counter() - start) / args.files)
    finally:
        kill_masters(work)
        kill_held(work)
        sshd.stop()
        tcp.stop()
        ours_tcp.stop()
    med = {k: statistics.median(v) for k, v in times.items()}
    tcp_ms = med[TCP]
    hoard_ms = med[HELD]
    ratio = hoard_ms / tcp_ms
    cpus = os.cpu_count()
    lines = [
        "# bench/ssh_latency.py: per-file latency, many small compiles over SSH (issues 5, 14)",
        f"# {args.files} files ({n34} for rows served by 3.4's distccd --inetd) of one small C"
        " function each, gcc -O2 -c, one after another;"
        f" {args.rounds} interleaved rounds, median of per-round means; {cpus} CPUs;",
        "# sshd and distccd on 127.0.0.1; " + subprocess.run(["ssh", "-V"], capture_output=True,
                                                               text=True).stderr.strip(),
        f"# load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}"
        " (other work on the machine makes every row noisier)",
        "",
        f"{'row':52} {'ms/file':>8} {'rounds (ms/file)':>24}",
    ]
    for name, _, _, _ in rows:
        per = " ".join(f"{t * 1000:.1f}" for t in times[name])
        lines.append(f"{name:52} {med[name] * 1000:8.1f} {per:>24}")
    lines.append(f"{'local gcc, no distcc':52} {statistics.median(local) * 1000:8.1f}")
    def paired(a, b):
        return statistics.median(x / y for x, y in zip(per_file[a], per_file[b]))

    lines += [
        "",
        f"our daemon:  hoarded ssh (held daemon) / tcp, median of per-file ratios"
        f" ({len(per_file[HELD])} pairs): {paired(HELD, TCP):.2f}",
        f"our daemon:  hoarded ssh, --inetd per job / tcp, median of per-file ratios:"
        f" {paired(PER_JOB, TCP):.2f}",
        f"our daemon:  hoarded ssh (held daemon) / tcp: {ratio:.2f}"
        f"   (target <= 1.3: {'met' if ratio <= 1.3 else 'NOT met'})",
        f"our daemon:  hoarded ssh, --inetd per job / tcp: {med[PER_JOB] / tcp_ms:.2f}",
        f"our daemon:  hoarded ssh, --inetd per job / held daemon: {med[PER_JOB] / hoard_ms:.2f}",
        f"our daemon:  no hoarding / held daemon: "
        f"{med['ours, ssh, no hoarding (our distccd --inetd)'] / hoard_ms:.2f}",
        f"our daemon:  3.4 client over ssh / ours held daemon: "
        f"{med['3.4 client, ssh (our distccd --inetd)'] / hoard_ms:.2f}",
    ]
    if args.part == "all":
        h34 = med["ours, ssh, hoarded (3.4 distccd --inetd)"]
        lines += [
            f"3.4 daemon:  hoarded ssh / tcp: {h34 / med['ours, tcp (3.4 distccd)']:.2f}"
            "   (3.4's --inetd 1 s compiler poll dominates)",
            f"3.4 daemon:  hoarded ssh / same daemon over a local pipe (the cost of ssh itself): "
            f"{h34 / med['ours, no ssh: pipe to 3.4 distccd --inetd']:.2f}",
            f"3.4 daemon:  3.4 client over ssh / ours hoarded: "
            f"{med['3.4 client, ssh (3.4 distccd --inetd)'] / h34:.2f}",
            f"3.4 daemon:  ours no hoarding / hoarded: "
            f"{med['ours, ssh, no hoarding (3.4 distccd --inetd)'] / h34:.2f}",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.out)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Shared pieces of the benchmarks: corpus lookup, free ports, daemons on loopback, and CPU
accounting of daemon processes from /proc. Everything listens on 127.0.0.1 only."""
import hashlib, json, os, signal, socket, subprocess, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


def corpus(name):
    out = subprocess.run(["bash", os.path.join(ROOT, "..", "shared", "corpus", "fetch.sh")],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith(name + "="):
            return line.split("=", 1)[1]
    raise SystemExit(f"fetch.sh did not provide {name}")


def build_ours():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bins"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release")


def free_port():
    """A loopback port below 32768 that nothing listens on now (the kernel's own choice,
    port 0, comes from the ephemeral range above it)."""
    import random
    for _ in range(1000):
        port = random.randrange(20000, 32768)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise SystemExit("no free loopback port below 32768")


class Daemon:
    """A distccd (ours or 3.4) on a loopback port, in its own process group. env replaces the
    daemon's environment (the compilers it runs inherit it); extra_args are appended."""

    def __init__(self, program, jobs, log, env=None, extra_args=()):
        self.port = free_port()
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [program, "--daemon", "--no-detach", "--log-stderr", "--log-level", "warning",
             "--port", str(self.port), "--listen", "127.0.0.1", "--allow", "127.0.0.1/32",
             "--jobs", str(jobs), *extra_args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log,
            env=env, start_new_session=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.02)
        else:
            raise SystemExit(f"{program} did not start listening")
        self.cpu = {}

    def sample_cpu(self):
        """Records utime+stime of every process in the daemon's session. /proc's per-process
        times exclude children, so the compilers the daemon runs are not counted."""
        sid = self.proc.pid
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue  # gone between listdir and open
            # comm is field 2, in parentheses; fields[0] is then field 3 (state), session is
            # field 6, utime 14, stime 15.
            comm = stat[stat.find("(") + 1:stat.rfind(")")]
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) != sid or comm != "distccd":
                continue
            self.cpu[pid] = (int(fields[11]) + int(fields[12])) / TICK

    def cpu_seconds(self):
        return sum(self.cpu.values())

    def stop(self):
        self.sample_cpu()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def run_sampling(cmd, daemons, env=None, cwd=None):
    """Runs cmd to completion while sampling the daemons' CPU every 50 ms; returns wall s."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while p.poll() is None:
        for d in daemons:
            d.sample_cpu()
        time.sleep(0.05)
    wall = time.monotonic() - start
    err = p.stderr.read().decode(errors="replace")
    if p.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{err[-3000:]}")
    return wall


def objects(build):
    """Every `.o` under `build`, by its path relative to `build`, as a SHA-256."""
    found = {}
    for dirpath, _, files in os.walk(build):
        for f in files:
            if f.endswith(".o"):
                p = os.path.join(dirpath, f)
                with open(p, "rb") as fh:
                    found[os.path.relpath(p, build)] = hashlib.sha256(fh.read()).hexdigest()
    return found


def stats_json(port):
    """distccd's `/json` stats page on loopback."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10) as r:
        return json.load(r)


LAUNCH_SCRIPT = '#!/bin/sh\nexec $LAUNCH "$@"\n'


def configure_libgit2(work, launch_script=LAUNCH_SCRIPT, extra=()):
    """Configures a libgit2 Release build in `work`/build whose compiles go through the
    launcher script `work`/launch.sh (`$LAUNCH` empty: the local compiler); returns the
    build directory."""
    build = os.path.join(work, "build")
    launcher = os.path.join(work, "launch.sh")
    with open(launcher, "w") as f:
        f.write(launch_script)
    os.chmod(launcher, 0o755)
    subprocess.run(["cmake", "-S", corpus("libgit2"), "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                    "-DBUILD_TESTS=OFF", "-DBUILD_CLI=OFF", "-DUSE_SSH=OFF", "-DUSE_HTTPS=OFF",
                    "-DCMAKE_C_COMPILER=/usr/bin/cc", f"-DCMAKE_C_COMPILER_LAUNCHER={launcher}",
                    *extra],
                   check=True, capture_output=True)
    return build

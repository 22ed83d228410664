//! `pump`: distcc 3.4's pump script in Rust, same command line, output and environment.
//!
//! - `pump COMMAND [ARG…]`: check the host list, start an include server, run COMMAND with
//!   `PATH`, `INCLUDE_SERVER_PORT`, `INCLUDE_SERVER_PID`, `INCLUDE_SERVER_DIR` set, then stop
//!   the server and remove its directory, also when interrupted (SIGINT/SIGTERM are passed on
//!   to COMMAND, which is in our process group as under the shell script).
//! - `pump --startup`: the same start, then print `export NAME='value'` lines to `eval`.
//! - `pump --shutdown`: stop the server those variables name and remove its directory.
//!
//! The include server is the `include-server` binary beside this one (or in
//! `$DISTCC_LOCATION`); its socket is `<dir>/socket` in a private `mkdtemp` directory, which
//! 3.4's client also uses to find `<dir>/discrepancy_counter`.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const USAGE: &str = "Usage:
    pump COMMAND [ARG...]
or
    pump --startup
    pump --shutdown

Description:
  Pump, also known as distcc-pump, accelerates remote compilation with
  distcc by also distributing preprocessing to the servers.

  \"pump COMMAND [ARG...]\" starts an include server, sets the environment
  variables the distcc client needs, puts the distcc client first on PATH,
  runs COMMAND (typically \"make -j80\") and then shuts the include server down.

  \"pump --startup\" starts the include server and prints the environment
  settings for the caller to eval; \"pump --shutdown\" stops it:

      eval `pump --startup`
      make -j80
      pump --shutdown

  Sources must not change while the include server runs (this one notices
  edited headers, but other tools may not).

Environment variables (all optional):
  DISTCC_LOCATION        Where the distcc client and include-server binaries are
                         (default: the directory of this program).
  DISTCC_POTENTIAL_HOSTS Servers to probe with lsdistcc to build DISTCC_HOSTS.
  DISTCC_HOSTS           Passed to distcc when DISTCC_POTENTIAL_HOSTS is not set.
  LSDISTCC_ARGS          Extra arguments to lsdistcc.
  INCLUDE_SERVER_ARGS    Extra arguments to the include server.
  DISTCC_MAX_DISCREPANCY Failures on the server that succeed locally before
                         pump mode is demoted to plain mode (default 1).
";

struct Pump {
    program: String,
    location: PathBuf,
    verbose: bool,
    redirect_io: bool,
}

struct Started {
    dir: PathBuf,
    socket: PathBuf,
    pid: i32,
}

/// Runs `pump` with `args` (without the program name); returns the exit status.
pub fn main(program: &str, args: &[OsString]) -> i32 {
    let first = args.first().map(|a| a.to_string_lossy().into_owned());
    if matches!(first.as_deref(), None | Some("" | "-h" | "--help")) {
        print!("{USAGE}");
        return 0;
    }
    if let Ok(d) = std::env::var("DISTCC_MAX_DISCREPANCY")
        && d.trim().parse::<i64>().map_or(true, |n| n <= 0)
    {
        eprintln!(
            "{program}: Bad DISTCC_MAX_DISCREPANCY value: \"{d}\". Needs to be 1 or greater."
        );
        return 1;
    }
    let location = match std::env::var_os("DISTCC_LOCATION") {
        Some(l) => PathBuf::from(l),
        None => std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    if !is_executable(&location.join("distcc")) {
        eprintln!(
            "{program}: error: can't find distcc (looked in {})",
            location.display()
        );
        return 1;
    }
    let mut p = Pump {
        program: program.to_string(),
        location,
        verbose: true,
        redirect_io: false,
    };
    match (first.as_deref(), args.len()) {
        (Some("--startup"), 1) => {
            p.verbose = false;
            p.redirect_io = true;
            match p.start() {
                Some(s) => {
                    p.dump_environment(&s);
                    0
                }
                None => 1,
            }
        }
        (Some("--shutdown"), 1) => {
            let pid = std::env::var("INCLUDE_SERVER_PID")
                .ok()
                .and_then(|s| s.trim().parse().ok());
            let dir = std::env::var_os("INCLUDE_SERVER_DIR").map(PathBuf::from);
            shut_down(pid, dir.as_deref());
            0
        }
        _ => p.run(args),
    }
}

fn is_executable(p: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid C string; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

fn path_with(location: &Path) -> OsString {
    let mut p = location.as_os_str().to_os_string();
    if let Some(old) = std::env::var_os("PATH") {
        p.push(":");
        p.push(old);
    }
    p
}

impl Pump {
    fn run(&self, args: &[OsString]) -> i32 {
        println!(
            "__________Using distcc-pump from {}",
            self.location.display()
        );
        let Some(s) = self.start() else { return 1 };
        let _ = io::stdout().flush();
        let code = match run_command(args, &self.location, &s) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{}: {}: {e}", self.program, args[0].to_string_lossy());
                127
            }
        };
        shut_down(Some(s.pid), Some(&s.dir));
        code
    }

    /// Checks the hosts and starts the include server; `None` after printing why not.
    fn start(&self) -> Option<Started> {
        if let Some(potential) =
            std::env::var_os("DISTCC_POTENTIAL_HOSTS").filter(|v| !v.is_empty())
        {
            let mut cmd = Command::new(self.location.join("lsdistcc"));
            if let Ok(extra) = std::env::var("LSDISTCC_ARGS") {
                cmd.args(extra.split_whitespace());
            }
            cmd.args(potential.to_string_lossy().split_whitespace());
            let out = cmd.stderr(Stdio::inherit()).output().ok()?;
            let hosts: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(String::from)
                .collect();
            if hosts.is_empty() {
                eprintln!(
                    "{}: error: no hosts of DISTCC_POTENTIAL_HOSTS are up",
                    self.program
                );
                return None;
            }
            // SAFETY-free: set before any thread starts (the front end runs none).
            unsafe { std::env::set_var("DISTCC_HOSTS", hosts.join(" ")) };
        } else if !self.check_hosts() {
            return None;
        }
        let started = self.start_server();
        if self.verbose {
            if started.is_some() {
                println!("__________Started distcc-pump include server");
            } else {
                eprintln!("__________Could not start distcc-pump include server");
            }
        } else if started.is_none() {
            eprintln!("__________Could not start distcc-pump include server");
        }
        started
    }

    fn check_hosts(&self) -> bool {
        let has_file = |p: Option<PathBuf>| p.is_some_and(|p| p.is_file());
        let env_path = |v: &str, rel: &str| {
            std::env::var_os(v)
                .filter(|s| !s.is_empty())
                .map(|d| PathBuf::from(d).join(rel))
        };
        if std::env::var_os("DISTCC_HOSTS").is_none_or(|h| h.is_empty())
            && !has_file(env_path("DISTCC_DIR", "hosts"))
            && !has_file(env_path("HOME", ".distcc/hosts"))
            && !Path::new("/etc/distcc/hosts").is_file()
        {
            eprintln!(
                "{}: expected environment variables \"DISTCC_HOSTS\" or \"DISTCC_POTENTIAL_HOSTS\" to be set, or to find a distcc hosts file in \"$DISTCC_DIR/hosts\", \"$HOME/.distcc/hosts\", or \"/etc/distcc/hosts\".",
                self.program
            );
            return false;
        }
        let out = Command::new(self.location.join("distcc"))
            .arg("--show-hosts")
            .stderr(Stdio::inherit())
            .output();
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let hosts: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        let pump = hosts.iter().filter(|l| l.contains(",cpp")).count();
        if hosts.is_empty() {
            eprintln!("{}: error: distcc hosts list is empty!", self.program);
            return false;
        }
        if pump == 0 {
            eprintln!(
                "{}: error: pump mode requested, but distcc hosts list does not contain any hosts with ',cpp' option",
                self.program
            );
            return false;
        }
        if self.verbose {
            let word = if hosts.len() == 1 {
                "server"
            } else {
                "servers"
            };
            if hosts.len() == pump {
                println!("__________Using {} distcc {word} in pump mode", hosts.len());
            } else {
                println!(
                    "__________Using {} distcc {word}, of which only {pump} support(s) pump mode",
                    hosts.len()
                );
            }
        }
        true
    }

    fn start_server(&self) -> Option<Started> {
        let tmp = os::tempdir::TempDir::new("distcc-pump.").ok()?;
        // The directory outlives this value: the server's shutdown (or --shutdown) removes it.
        let dir = tmp.path().to_path_buf();
        std::mem::forget(tmp);
        let socket = dir.join("socket");
        let pid_file = dir.join("pid");
        let mut cmd = Command::new(self.location.join("include-server"));
        cmd.arg("--port")
            .arg(&socket)
            .arg("--pid_file")
            .arg(&pid_file);
        if let Ok(extra) = std::env::var("INCLUDE_SERVER_ARGS") {
            cmd.args(extra.split_whitespace());
        }
        if self.redirect_io {
            let out = std::fs::File::create(dir.join("stdout")).ok()?;
            let err = std::fs::File::create(dir.join("stderr")).ok()?;
            cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        }
        let ok = cmd.status().is_ok_and(|s| s.success());
        let is_socket = std::fs::metadata(&socket).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_socket()
        });
        if !ok || !is_socket {
            eprintln!("__________Expected a socket at '{}'", socket.display());
            let _ = std::fs::remove_dir_all(&dir);
            return None;
        }
        let pid: Option<i32> = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        let _ = std::fs::remove_file(&pid_file);
        let Some(pid) = pid else {
            let _ = std::fs::remove_dir_all(&dir);
            return None;
        };
        // SAFETY-free: single-threaded front end; children inherit these.
        unsafe {
            std::env::set_var("INCLUDE_SERVER_PORT", &socket);
            std::env::set_var("INCLUDE_SERVER_PID", pid.to_string());
            std::env::set_var("INCLUDE_SERVER_DIR", &dir);
        }
        Some(Started { dir, socket, pid })
    }

    fn dump_environment(&self, s: &Started) {
        println!("export INCLUDE_SERVER_PID='{}'", s.pid);
        println!("export INCLUDE_SERVER_DIR='{}'", s.dir.display());
        println!("export INCLUDE_SERVER_PORT='{}'", s.socket.display());
        if let Some(h) = std::env::var_os("DISTCC_HOSTS").filter(|h| !h.is_empty()) {
            println!("export DISTCC_HOSTS='{}'", h.to_string_lossy());
        }
        println!(
            "export PATH='{}'",
            path_with(&self.location).to_string_lossy()
        );
    }
}

/// Runs the user's command in our process group (so a terminal's Ctrl-C reaches it as under
/// the shell script); a SIGINT/SIGTERM sent to us alone is passed on to it.
fn run_command(args: &[OsString], location: &Path, _s: &Started) -> io::Result<i32> {
    let shutdown = os::signal::install_shutdown_handlers()?;
    let mut child = Command::new(&args[0])
        .args(&args[1..])
        .env("PATH", path_with(location))
        .spawn()?;
    let mut forwarded = false;
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)));
        }
        let mut p = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&shutdown),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, 50) };
        if n == 1 && !forwarded {
            forwarded = true;
            // SAFETY: plain syscall on our child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        }
    }
}

fn report_discrepancies(dir: &Path) {
    let n = std::fs::metadata(dir.join("discrepancy_counter"))
        .map(|m| m.len())
        .unwrap_or(0);
    if n == 0 {
        return;
    }
    let max: u64 = std::env::var("DISTCC_MAX_DISCREPANCY")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1);
    eprintln!(
        "__________Warning: {n} pump-mode compilation(s) failed on server, but succeeded locally."
    );
    if n >= max {
        eprintln!("__________Distcc-pump was demoted to plain mode.");
    }
    eprintln!("See the Distcc Discrepancy Symptoms section in the include_server(1) man page.");
}

/// Stops the server `pid` (SIGTERM, then waits for it to go) and removes `dir`.
pub fn shut_down(pid: Option<i32>, dir: Option<&Path>) {
    if let Some(d) = dir {
        report_discrepancies(d);
    }
    if let Some(pid) = pid.filter(|p| *p > 0)
        && os::alive::process_exists(pid as u64)
    {
        println!("__________Shutting down distcc-pump include server");
        // SAFETY: plain syscalls on a pid we were given.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let mut waited = Duration::ZERO;
        while os::alive::process_exists(pid as u64) && waited < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
            waited += Duration::from_millis(10);
        }
    }
    if let Some(d) = dir {
        if let Ok(out) = std::fs::read(d.join("stdout")) {
            let _ = io::stdout().write_all(&out);
        }
        if let Ok(err) = std::fs::read(d.join("stderr")) {
            let _ = io::stderr().write_all(&err);
        }
        let _ = std::fs::remove_dir_all(d);
    }
}

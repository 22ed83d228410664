//! `distcc-zeroconf DIR`: the background browser behind the client's `+zeroconf`, as 3.4's
//! client forks one (zeroconf.c's `daemon_proc`). It detaches at once, runs only if it can
//! take `DIR/lock` (one browser per `$DISTCC_DIR`), browses `_distcc._tcp` over mDNS, keeps
//! the daemons whose TXT `cc_machine`/`cc_version` are this machine's `cc` (mangled as 3.4's
//! subtype), and rewrites `DIR/hosts` (`addr:port/jobs` lines, 3.4's format, under an
//! exclusive fcntl lock) at each change (`DISTCC_ZEROCONF_INTERFACE` keeps it on one
//! interface). It exits when no client has read the file for 20
//! seconds (its access time, which clients set), as 3.4's does.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use discovery::zeroconf as zc;
use zeroconf::{Browser, Scope, Seen};

/// 3.4's `MAX_IDLE_TIME`.
const MAX_IDLE: Duration = Duration::from_secs(20);

const USAGE: &str = "usage: distcc-zeroconf DIR\n\
The background mDNS browser that distcc starts for +zeroconf; it keeps DIR/hosts.\n";

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.len() == 2 && (args[1] == "--help" || args[1] == "-h") {
        let _ = std::io::stdout().write_all(USAGE.as_bytes());
        return;
    }
    if args.len() != 2 {
        let _ = std::io::stderr().write_all(USAGE.as_bytes());
        std::process::exit(os::exit::ExitCode::BadArguments as i32);
    }
    let dir = PathBuf::from(&args[1]);
    // Before any thread: mdns-sd starts one.
    if let Err(e) = os::daemonize::detach() {
        let _ = writeln!(std::io::stderr(), "distcc-zeroconf: cannot detach: {e}");
        std::process::exit(os::exit::ExitCode::Distcc as i32);
    }
    std::process::exit(run(&dir));
}

fn run(dir: &Path) -> i32 {
    let lock = match os::lock::FileLock::try_lock(&dir.join("lock")) {
        Ok(Some(l)) => l,
        // Another browser keeps the file.
        Ok(None) => return 0,
        Err(_) => return os::exit::ExitCode::IoError as i32,
    };
    let pid_file = dir.join("browser.pid");
    let _ = std::fs::write(&pid_file, format!("{}\n", std::process::id()));
    let hosts_path = dir.join("hosts");
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .open(&hosts_path)
    {
        Ok(f) => f,
        Err(_) => return os::exit::ExitCode::IoError as i32,
    };
    let mut found: BTreeMap<String, (IpAddr, u16, u32)> = BTreeMap::new();
    write_hosts(&file, &found);
    let want = zc::local_compiler();
    // DISTCC_ZEROCONF_INTERFACE keeps the browser's mDNS on one interface.
    let scope = match std::env::var("DISTCC_ZEROCONF_INTERFACE") {
        Ok(name) if !name.is_empty() => Scope::Interface(name),
        _ => Scope::All,
    };
    let browser = match Browser::start(scope) {
        Ok(b) => b,
        Err(_) => return os::exit::ExitCode::Distcc as i32,
    };
    let started = SystemTime::now();
    loop {
        if let Some(seen) = browser.next(Duration::from_secs(1)) {
            let changed = match seen {
                Seen::Up {
                    fullname,
                    addrs,
                    port,
                    machine,
                    version,
                    cpus,
                    jobs,
                } => {
                    let serves = want
                        .as_ref()
                        .is_none_or(|w| zc::serves(machine.as_deref(), version.as_deref(), w));
                    match addrs.first() {
                        Some(&addr) if serves && port != 0 => {
                            let entry = (addr, port, zc::slots(cpus.as_deref(), jobs.as_deref()));
                            found.insert(fullname, entry) != Some(entry)
                        }
                        _ => found.remove(&fullname).is_some(),
                    }
                }
                Seen::Gone { fullname } => found.remove(&fullname).is_some(),
            };
            if changed {
                write_hosts(&file, &found);
            }
        }
        let used = std::fs::metadata(&hosts_path)
            .and_then(|m| m.accessed())
            .unwrap_or(started)
            .max(started);
        if SystemTime::now()
            .duration_since(used)
            .is_ok_and(|idle| idle > MAX_IDLE)
        {
            break;
        }
    }
    drop(browser);
    let _ = std::fs::remove_file(&pid_file);
    drop(lock);
    0
}

/// Rewrites the host file in place under an exclusive lock, as 3.4's `write_hosts` does (its
/// readers hold a shared lock while they read, so they never see half of it).
fn write_hosts(file: &std::fs::File, found: &BTreeMap<String, (IpAddr, u16, u32)>) {
    let text: String = found
        .values()
        .map(|&(addr, port, jobs)| zc::host_line(addr, port, jobs))
        .collect();
    if os::lock::wait_lock(file, true).is_err() {
        return;
    }
    let _ = file.set_len(0);
    let _ = file.write_all_at(text.as_bytes(), 0);
    let _ = os::lock::unlock_file(file);
}

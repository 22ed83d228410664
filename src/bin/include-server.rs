//! `include-server --port SOCKET [--pid_file FILE] [-s] [--foreground] [3.4 options…]`: the
//! include server for pump mode. Like 3.4's `include_server.py` it binds the socket, forks,
//! writes the server's pid to FILE and returns at once; the server runs until SIGTERM or
//! SIGINT, then removes its client root and the socket. `--foreground` stays in the
//! foreground instead (tests, measurements). `-s` prints counters to stderr at exit.
//! 3.4's other options are accepted and ignored (see `pump` crate docs for the limits).

use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;

use pump::root::ClientRoot;
use pump::server::{self, Server};

fn usage() -> ! {
    eprintln!(
        "usage: include-server --port INCLUDE_SERVER_PORT [--pid_file FILE] [-s] [--foreground]"
    );
    std::process::exit(1);
}

fn main() {
    let mut port: Option<PathBuf> = None;
    let mut pid_file: Option<PathBuf> = None;
    let mut stats = false;
    let mut foreground = false;
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        let s = a.to_string_lossy().into_owned();
        let (name, inline) = match s.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (s.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .map(PathBuf::from)
                .or_else(|| args.next().map(PathBuf::from))
        };
        match name.as_str() {
            "--port" => port = value(),
            "--pid_file" => pid_file = value(),
            "-s" | "--statistics" => stats = true,
            "--foreground" => foreground = true,
            "--email_bound"
            | "--path_observation_re"
            | "--stat_reset_triggers"
            | "--debug_pattern" => {
                value();
            }
            "-h" | "--help" => usage(),
            _ => {} // 3.4's other flags (-d1, -e, -t, -v, -w, -x, …) change nothing here.
        }
    }
    let Some(port) = port else {
        eprintln!("INCLUDE_SERVER_PORT not provided. Aborting.");
        usage();
    };
    let listener = match UnixListener::bind(&port) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("include-server: cannot listen on {}: {e}", port.display());
            std::process::exit(1);
        }
    };
    if !foreground {
        if let Err(e) = server::fork_background(pid_file.as_deref()) {
            eprintln!("include-server: fork failed: {e}");
            std::process::exit(1);
        }
    } else if let Some(f) = &pid_file {
        let _ = std::fs::write(f, format!("{}\n", std::process::id()));
    }
    let shutdown = match os::signal::install_shutdown_handlers() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("include-server: cannot install signal handlers: {e}");
            std::process::exit(1);
        }
    };
    let root = match ClientRoot::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("include-server: cannot create the client root: {e}");
            let _ = std::fs::remove_file(&port);
            std::process::exit(1);
        }
    };
    let srv = Arc::new(Server::new(root));
    let result = server::serve(&listener, &srv, shutdown);
    let _ = std::fs::remove_file(&port);
    srv.close();
    if stats {
        let _ = server::print_stats(&mut std::io::stderr(), &srv.stats());
    }
    if let Err(e) = result {
        eprintln!("include-server: {e}");
        std::process::exit(1);
    }
}

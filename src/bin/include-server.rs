//! `include-server --port SOCKET [--pid_file FILE] [-s] [--foreground] [3.4 options…]`: the
//! include server for pump mode. Like 3.4's `include_server.py` it binds the socket, forks,
//! writes the server's pid to FILE and returns at once; the server runs until SIGTERM or
//! SIGINT, then removes its client root and the socket. `--foreground` stays in the
//! foreground instead (tests, measurements). 3.4's options and what each does here:
//! `pump::options`.

use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::time::Instant;

use pump::options::{self, Parsed};
use pump::root::ClientRoot;
use pump::server::{self, Server};

const USAGE: &str = "\
usage: include-server --port INCLUDE_SERVER_PORT [OPTIONS]
  --pid_file FILE              write the server's pid to FILE
  -dPAT, --debug_pattern=PAT   1 = warnings (the default); 0 = none
  -s, --statistics             print counters to stderr at exit
  -t, --time                   print elapsed, user and system time to stderr at exit
  --unsafe_absolute_includes   leave absolute includes out of the closure
  --no_force_dirs              make no forcing files for include directories
  --foreground                 do not fork
  -e, --email, --no-email, --email_bound N, -v, -w, -x, --stat_reset_triggers=LIST,
  --path_observation_re=RE, --simple_algorithm: accepted (3.4's); see the pump crate docs
";

fn usage(code: i32) -> ! {
    eprint!("{USAGE}");
    std::process::exit(code);
}

fn main() {
    let started = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match options::parse(&args) {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("include-server: {e}");
            usage(1);
        }
    };
    let Some(port) = o.port.clone() else {
        eprintln!("INCLUDE_SERVER_PORT not provided. Aborting.");
        usage(1);
    };
    if o.email {
        eprintln!(
            "include-server: warning: -e/--email: no e-mail reports are sent by this include server"
        );
    }
    for name in &o.ignored {
        eprintln!("include-server: warning: {name} is not implemented here; ignored");
    }
    let pid_file = o.pid_file.clone();
    let foreground = o.foreground;
    let stats = o.statistics;
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
        Ok(mut r) => {
            r.set_force_dirs(o.force_dirs);
            r
        }
        Err(e) => {
            eprintln!("include-server: cannot create the client root: {e}");
            let _ = std::fs::remove_file(&port);
            std::process::exit(1);
        }
    };
    let srv = Arc::new(Server::new(root).with_options(o.unsafe_absolute_includes, o.warnings()));
    let result = server::serve(&listener, &srv, shutdown);
    let _ = std::fs::remove_file(&port);
    srv.close();
    if stats {
        let _ = server::print_stats(&mut std::io::stderr(), &srv.stats());
    }
    if o.time {
        print_times(started);
    }
    if let Err(e) = result {
        eprintln!("include-server: {e}");
        std::process::exit(1);
    }
}

/// `-t`: elapsed, user and system time of this process, on stderr.
fn print_times(started: Instant) {
    let (user, sys) = os::usage::self_times().unwrap_or_default();
    eprintln!(
        "include server timing: elapsed {:.1} s, user {:.1} s, system {:.1} s",
        started.elapsed().as_secs_f64(),
        user.as_secs_f64(),
        sys.as_secs_f64()
    );
}

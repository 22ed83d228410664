//! systemd's two daemon protocols, with std and libc only (no libsystemd):
//! socket activation (`LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES`: listening sockets handed
//! over from descriptor 3 on) and readiness notification (`READY=1` and friends sent as one
//! datagram to `$NOTIFY_SOCKET`, a path or an `@abstract` name).
//!
//! Both are read from values passed in, so they stay testable; which descriptor serves which
//! port is the caller's decision.

use std::io;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::net::UnixDatagram;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

/// Most descriptors we take from `LISTEN_FDS` (distccd uses two at most: its port and the
/// stats port); a larger count is refused rather than trusted.
const MAX_FDS: usize = 16;

/// One listening socket handed over by systemd, with its `FileDescriptorName=`.
#[derive(Debug)]
pub struct Passed {
    pub name: String,
    pub listener: TcpListener,
}

/// Why the handed-over descriptors could not be used.
#[derive(Debug)]
pub enum ActivationError {
    /// `LISTEN_FDS` is not a number, or too large.
    BadCount(String),
    /// A descriptor is not a listening TCP stream socket.
    NotListening { fd: RawFd, why: String },
}

impl std::fmt::Display for ActivationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActivationError::BadCount(v) => {
                write!(
                    f,
                    "LISTEN_FDS={v:?} is not a count of 1 to {MAX_FDS} sockets"
                )
            }
            ActivationError::NotListening { fd, why } => write!(
                f,
                "descriptor {fd} from systemd is not a listening TCP socket ({why}); \
                 use a socket unit with ListenStream= and Accept=no"
            ),
        }
    }
}

impl std::error::Error for ActivationError {}

/// The sockets systemd passed to this process, if any: `None` when `LISTEN_PID` is unset or
/// names another process (the variables were inherited, not meant for us). Each descriptor
/// is checked to be a listening stream socket and marked close-on-exec, so compilers never
/// inherit it. Call once, early, before anything else can open descriptor 3.
pub fn listen_fds(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    names: Option<&str>,
) -> Result<Option<Vec<Passed>>, ActivationError> {
    let ours = listen_pid
        .and_then(|p| p.trim().parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    if !ours {
        return Ok(None);
    }
    let Some(count) = listen_fds else {
        return Ok(None);
    };
    let n: usize = count
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=MAX_FDS).contains(n))
        .ok_or_else(|| ActivationError::BadCount(count.to_owned()))?;
    let names: Vec<&str> = names.map(|n| n.split(':').collect()).unwrap_or_default();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let fd = LISTEN_FDS_START + i as RawFd;
        check_listening(fd).map_err(|why| ActivationError::NotListening { fd, why })?;
        // SAFETY: systemd handed this descriptor to this process (LISTEN_PID matched) and
        // nothing else owns it; it was just checked to be a listening stream socket.
        let listener = unsafe { TcpListener::from_raw_fd(fd) };
        out.push(Passed {
            name: names.get(i).copied().unwrap_or("").to_owned(),
            listener,
        });
    }
    Ok(Some(out))
}

fn check_listening(fd: RawFd) -> Result<(), String> {
    let get = |opt: libc::c_int| -> Result<libc::c_int, String> {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `v`.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if r == 0 {
            Ok(v)
        } else {
            Err(io::Error::last_os_error().to_string())
        }
    };
    if get(libc::SO_TYPE)? != libc::SOCK_STREAM {
        return Err("not a stream socket".into());
    }
    if get(libc::SO_ACCEPTCONN)? == 0 {
        return Err("not listening".into());
    }
    let domain = get(libc::SO_DOMAIN)?;
    if domain != libc::AF_INET && domain != libc::AF_INET6 {
        return Err("not an IPv4 or IPv6 socket".into());
    }
    // SAFETY: F_SETFD on a descriptor we own; only the close-on-exec flag changes.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error().to_string());
    }
    Ok(())
}

/// Sends `state` (for example `"READY=1\nSTATUS=listening"`) to the service manager at
/// `notify_socket` (`$NOTIFY_SOCKET`). `Ok(false)` when there is no manager to tell.
pub fn notify(notify_socket: Option<&str>, state: &str) -> io::Result<bool> {
    let Some(target) = notify_socket.filter(|s| !s.is_empty()) else {
        return Ok(false);
    };
    let sock = UnixDatagram::unbound()?;
    if let Some(abstract_name) = target.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
    } else if target.starts_with('/') {
        sock.send_to(state.as_bytes(), target)?;
    } else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("NOTIFY_SOCKET={target:?} is neither an absolute path nor @abstract"),
        ));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_ignores_variables_meant_for_another_process() {
        assert!(listen_fds(None, Some("1"), None).unwrap().is_none());
        assert!(listen_fds(Some("1"), Some("1"), None).unwrap().is_none());
        assert!(listen_fds(Some("x"), Some("1"), None).unwrap().is_none());
    }

    #[test]
    fn activation_refuses_a_bad_count() {
        let me = std::process::id().to_string();
        for bad in ["0", "-1", "x", "17"] {
            let e = listen_fds(Some(&me), Some(bad), None).unwrap_err();
            assert!(e.to_string().contains("LISTEN_FDS"), "{e}");
        }
    }

    #[test]
    fn notify_reaches_a_path_and_an_abstract_socket() {
        let dir = std::env::temp_dir().join(format!("distcc-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        assert!(notify(Some(path.to_str().unwrap()), "READY=1").unwrap());
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        std::fs::remove_dir_all(&dir).unwrap();

        use std::os::linux::net::SocketAddrExt;
        let name = format!("distcc-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        assert!(notify(Some(&format!("@{name}")), "STOPPING=1").unwrap());
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");

        assert!(!notify(None, "READY=1").unwrap());
        assert!(!notify(Some(""), "READY=1").unwrap());
        assert!(notify(Some("relative"), "READY=1").is_err());
    }
}

//! What the machine is doing, read from `/proc` and `statvfs` when a page is asked for: load
//! averages, runnable processes, free space where jobs run, processes in disk sleep and the
//! largest process that is not a compiler — the machine-wide fields of 3.4's stats page.
//!
//! Every reader returns `None` (shown as -1, as 3.4 does) rather than failing: a page with a
//! missing figure is better than no page.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The machine-wide figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct System {
    pub load: Option<[f64; 3]>,
    /// Runnable processes now (`/proc/loadavg`'s fourth field; 3.4's `dcc_current_load`).
    pub running: Option<u64>,
    /// Free megabytes in the directory jobs use (`$TMPDIR`, else /tmp).
    pub free_space_mb: Option<u64>,
    /// Processes in uninterruptible sleep.
    pub procs_d: u64,
    /// Largest resident set of a process that is not a compiler, in KiB, and its `(name)`.
    pub max_rss_kb: u64,
    pub max_rss_name: String,
}

/// Reads everything once.
pub fn read() -> System {
    let (load, running) = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map_or((None, None), |s| parse_loadavg(&s));
    let tmp = std::env::var_os("TMPDIR")
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "/tmp".into());
    let (procs_d, max_rss_kb, max_rss_name) = processes();
    System {
        load,
        running,
        free_space_mb: free_mb(Path::new(&tmp)),
        procs_d,
        max_rss_kb,
        max_rss_name,
    }
}

/// `0.52 0.58 0.59 3/612 12345` → the three averages and the runnable count.
pub fn parse_loadavg(s: &str) -> (Option<[f64; 3]>, Option<u64>) {
    let mut it = s.split_ascii_whitespace();
    let mut avg = [0.0; 3];
    for a in &mut avg {
        match it.next().and_then(|x| x.parse().ok()) {
            Some(v) => *a = v,
            None => return (None, None),
        }
    }
    let running = it
        .next()
        .and_then(|x| x.split_once('/'))
        .and_then(|(r, _)| r.parse().ok());
    (Some(avg), running)
}

fn free_mb(dir: &Path) -> Option<u64> {
    let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into a zeroed struct we own; the path is NUL-terminated.
    let st = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return None;
        }
        st
    };
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64) / (1024 * 1024))
}

/// One `/proc/<pid>/stat` line → (name with parentheses, state, rss pages).
pub fn parse_stat(s: &str) -> Option<(&str, char, u64)> {
    // The name may hold spaces and parentheses: it ends at the last ')'.
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let name = s.get(open..=close)?;
    let mut rest = s.get(close + 1..)?.split_ascii_whitespace();
    let state = rest.next()?.chars().next()?;
    // After the state, rss is field 24 of the line, the 22nd after the state.
    let rss = rest.nth(20)?.parse().ok()?;
    Some((name, state, rss))
}

/// A compiler's own processes are expected to be large; 3.4 leaves them out of `max_RSS`.
fn is_compiler(name: &str) -> bool {
    let n = name.trim_start_matches('(').trim_end_matches(')');
    n.starts_with("cc1") || n.ends_with("cc") || n.ends_with("++") || n.starts_with("clang")
}

fn processes() -> (u64, u64, String) {
    // SAFETY: sysconf has no memory effects.
    let page_kb = (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(1024) as u64 / 1024;
    let (mut d, mut max, mut name) = (0, 0, String::new());
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return (0, 0, name);
    };
    for e in dir.flatten() {
        let f = e.file_name();
        if !f.as_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        let Ok(s) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some((n, state, rss)) = parse_stat(&s) else {
            continue;
        };
        if state == 'D' {
            d += 1;
        }
        let kb = rss * page_kb;
        if kb > max && !is_compiler(n) {
            max = kb;
            name = n.to_owned();
        }
    }
    (d, max, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_lines() {
        let (l, r) = parse_loadavg("0.52 0.58 1.59 3/612 12345\n");
        assert_eq!(l, Some([0.52, 0.58, 1.59]));
        assert_eq!(r, Some(3));
        assert_eq!(parse_loadavg("garbage"), (None, None));
    }

    #[test]
    fn stat_lines_with_odd_names() {
        let line = "42 (a) b) (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 100 \
                    10000000 777 18446744073709551615 1 1 0 0 0";
        assert_eq!(parse_stat(line), Some(("(a) b) (c)", 'S', 777)));
        assert_eq!(parse_stat("42 (x"), None);
        assert_eq!(parse_stat("42 (x) R 1"), None);
    }

    #[test]
    fn compilers_are_not_the_largest_process() {
        assert!(is_compiler("(cc1plus)"));
        assert!(is_compiler("(gcc)"));
        assert!(is_compiler("(x86_64-linux-gnu-g++)"));
        assert!(!is_compiler("(rustc)"));
    }

    #[test]
    fn reads_this_machine() {
        let s = read();
        assert!(s.load.is_some());
        assert!(s.free_space_mb.is_some());
        assert!(s.max_rss_kb > 0);
    }
}

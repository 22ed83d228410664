//! What distcc 3.4's zeroconf says and reads, as pure functions: the service type, the
//! instance name, the TXT records, the compiler subtype with 3.4's character mangling
//! (`dcc_make_dnssd_subtype`: lowercase letters and digits kept, capitals lowered, every
//! other byte `-`, each part cut at 63 bytes), the slot count a browser derives from the TXT
//! records, and the host file a browser keeps (`$DISTCC_DIR/zeroconf/hosts`, lines
//! `addr:port/jobs`, `[v6]:port/jobs`). The mDNS traffic itself is `distcc-zeroconf`'s; the
//! compiler's identity comes from `cc -dumpmachine` and `cc -dumpversion`, as in 3.4.

use std::net::IpAddr;
use std::time::Duration;

/// 3.4's `DCC_DNS_SERVICE_TYPE`.
pub const SERVICE_TYPE: &str = "_distcc._tcp";

/// The compiler a daemon serves and a client wants: `cc -dumpmachine`, `cc -dumpversion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiler {
    pub machine: String,
    pub version: String,
}

/// 3.4's `strip_bad_chars` on at most 63 bytes (its 64-byte buffers).
pub fn mangle(s: &str) -> String {
    s.bytes()
        .take(63)
        .map(|b| match b {
            b'a'..=b'z' | b'0'..=b'9' => b as char,
            b'A'..=b'Z' => b.to_ascii_lowercase() as char,
            _ => '-',
        })
        .collect()
}

/// `_<machine>--<version>._sub._distcc._tcp`, e.g. `_x86-64-linux-gnu--12._sub._distcc._tcp`.
pub fn subtype(c: &Compiler) -> String {
    format!(
        "_{}--{}._sub.{SERVICE_TYPE}",
        mangle(&c.machine),
        mangle(&c.version)
    )
}

/// The instance name: 3.4's `distcc@<hostname>` on the default port; on another port
/// `distcc@<hostname>:<port>`, so that two daemons of one machine do not claim one name
/// (Avahi would rename the second `distcc@<hostname> #2`; 3.4's clients drop a service
/// whose name they have already seen, so the names must differ either way).
pub fn instance_name(hostname: &str, port: u16) -> String {
    if port == 3632 {
        format!("distcc@{hostname}")
    } else {
        format!("distcc@{hostname}:{port}")
    }
}

/// The TXT records 3.4's distccd registers, in its order (`jobs` as Debian's 3.4 adds it).
pub fn txt_records(
    cpus: u32,
    jobs: u32,
    distcc_version: &str,
    gnu_host: &str,
    cc: Option<&Compiler>,
) -> Vec<(String, String)> {
    let mut t = vec![
        ("txtvers".to_owned(), "1".to_owned()),
        ("cpus".to_owned(), cpus.to_string()),
        ("jobs".to_owned(), jobs.to_string()),
        ("distcc".to_owned(), distcc_version.to_owned()),
        ("gnuhost".to_owned(), gnu_host.to_owned()),
    ];
    if let Some(c) = cc {
        t.push(("cc_version".to_owned(), c.version.clone()));
        t.push(("cc_machine".to_owned(), c.machine.clone()));
    }
    t
}

/// C's `atoi`: leading blanks, a sign, digits; anything else ends it; 0 when none.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = (n * 10 + i64::from(b - b'0')).min(i64::from(i32::MAX));
    }
    if neg { -n } else { n }
}

/// The slots 3.4's browser gives a service: `jobs` if positive, else (when `jobs` is
/// present but not positive) 4 × `cpus` (`cpus` below 1 counts as 1); 4 when `jobs` is
/// absent.
pub fn slots(cpus: Option<&str>, jobs: Option<&str>) -> u32 {
    let cpus = cpus.map_or(1, |c| atoi(c).max(1));
    match jobs {
        None => 4,
        Some(j) => {
            let j = atoi(j);
            let n = if j > 0 { j } else { 4 * cpus };
            u32::try_from(n).unwrap_or(u32::MAX)
        }
    }
}

/// Whether a service's TXT `cc_machine`/`cc_version` are the wanted compiler's, compared as
/// 3.4 compares them (through the subtype, so mangled). A service without them is not.
pub fn serves(machine: Option<&str>, version: Option<&str>, want: &Compiler) -> bool {
    match (machine, version) {
        (Some(m), Some(v)) => {
            mangle(m) == mangle(&want.machine) && mangle(v) == mangle(&want.version)
        }
        _ => false,
    }
}

/// One line of the host file.
pub fn host_line(addr: IpAddr, port: u16, jobs: u32) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}/{jobs}\n"),
        IpAddr::V6(a) => format!("[{a}]:{port}/{jobs}\n"),
    }
}

/// Asks `cc` (on `PATH`) for its machine and version, as 3.4 does; `None` if it cannot.
pub fn local_compiler() -> Option<Compiler> {
    let ask = |flag: &str| -> Option<String> {
        let mut c = os::process::Command::new("cc");
        c.arg(flag)
            .stdin(os::process::Input::Null)
            .stdout(os::process::Output::Capture { limit: 256 })
            .stderr(os::process::Output::Null)
            .timeout(Duration::from_secs(10));
        let out = c.run().ok()?;
        if !out.success() {
            return None;
        }
        // 3.4 keeps the first line up to the first blank.
        let text = String::from_utf8_lossy(&out.stdout);
        let word = text.split([' ', '\t', '\n', '\r']).next()?.to_owned();
        (!word.is_empty()).then_some(word)
    };
    Some(Compiler {
        machine: ask("-dumpmachine")?,
        version: ask("-dumpversion")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtype_mangles_as_3_4() {
        let c = Compiler {
            machine: "x86_64-linux-gnu".into(),
            version: "12".into(),
        };
        assert_eq!(subtype(&c), "_x86-64-linux-gnu--12._sub._distcc._tcp");
        let c = Compiler {
            machine: "ARM.v7/GNU".into(),
            version: "4.9.2".into(),
        };
        assert_eq!(subtype(&c), "_arm-v7-gnu--4-9-2._sub._distcc._tcp");
        assert_eq!(mangle(&"a".repeat(80)).len(), 63);
    }

    #[test]
    fn slots_follow_3_4s_browser() {
        assert_eq!(slots(None, None), 4);
        assert_eq!(slots(Some("8"), None), 4);
        assert_eq!(slots(Some("8"), Some("10")), 10);
        assert_eq!(slots(Some("8"), Some("0")), 32);
        assert_eq!(slots(Some("0"), Some("x")), 4);
        assert_eq!(slots(None, Some(" 6 jobs")), 6);
    }

    #[test]
    fn a_service_matches_on_the_mangled_compiler() {
        let want = Compiler {
            machine: "x86_64-linux-gnu".into(),
            version: "12".into(),
        };
        assert!(serves(Some("X86_64-linux-gnu"), Some("12"), &want));
        assert!(serves(Some("x86.64-linux-gnu"), Some("12"), &want));
        assert!(!serves(Some("x86_64-linux-gnu"), Some("11"), &want));
        assert!(!serves(None, Some("12"), &want));
    }

    #[test]
    fn host_lines_parse_as_host_list_entries() {
        assert_eq!(
            host_line("10.0.0.1".parse().unwrap(), 3632, 4),
            "10.0.0.1:3632/4\n"
        );
        assert_eq!(
            host_line("fd00::1".parse().unwrap(), 4000, 2),
            "[fd00::1]:4000/2\n"
        );
    }
}

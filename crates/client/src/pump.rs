//! Pump mode (protocol 3) on the client side, as distcc 3.4's client does it: ask the include
//! server named by `$INCLUDE_SERVER_PORT` for the compile's include closure, turn its answer
//! into the `NFIL`/`NAME`/`FILE`/`LINK` list a v3 server expects, know when pump mode must
//! not be used, keep 3.4's discrepancy counter, and put the dependency file the server
//! returns where a local compile would have put it, in the layout gcc itself writes.
//!
//! It leaves to others: the choice of host and every fallback (`compile`), the connection and
//! the rest of the request and reply (`remote`, `proto`), and the include analysis itself (the
//! include server, a separate process started by `pump`).

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use args::Job;
use proto::include_server;

use crate::config::Config;

/// The include server puts every file under a client root this many path components deep
/// (`/dev/shm/tmpXXXX.include_server-PID-N`); 3.4's `INCLUDE_SERVER_DIR_DEPTH`.
const CLIENT_ROOT_DEPTH: usize = 3;

/// Longest wait for the include server's answer. 3.4 waits `DISTCC_IO_TIMEOUT` (300 s); an
/// include server limits its own analysis to a few seconds of CPU and answers "gave up" when
/// it runs out, so a minute means it is stuck, and preprocessing locally is better.
pub const INCLUDE_SERVER_TIMEOUT: Duration = Duration::from_secs(60);

/// Most names the include server may list for one compile, and the longest name.
const MAX_FILES: u32 = 200_000;
const MAX_NAME: u32 = 4096;

/// 3.4's default for `DISTCC_MAX_DISCREPANCY` (the same as the `pump` script's).
const DEFAULT_MAX_DISCREPANCY: u64 = 1;

/// One entry of the file list sent to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A file: its name on this machine and its contents, LZO-compressed by the include
    /// server; sent exactly as read.
    File { name: Vec<u8>, lzo: Vec<u8> },
    /// A symbolic link the include server made (system include directories and the like).
    Link { name: Vec<u8>, target: Vec<u8> },
}

/// Everything the server needs besides the command line.
#[derive(Debug, Clone, Default)]
pub struct Closure {
    pub entries: Vec<Entry>,
    /// Bytes of file bodies, for the speed model.
    pub bytes: u64,
}

/// The pump settings of one compile, once it is known that pump mode may be used.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The include server's socket.
    pub socket: PathBuf,
    /// The command line for the include server (compiler already renamed for cross use).
    pub scan_argv: Vec<Vec<u8>>,
    /// The command line for the server: `scan_argv`, plus `-MT` when a dependency file is
    /// wanted and no target was named (the server's own output name must not show).
    pub server_argv: Vec<Vec<u8>>,
    /// Where the dependency file the server returns goes, when one is wanted.
    pub deps_file: Option<PathBuf>,
    /// The client's working directory (`CDIR`).
    pub cwd: Vec<u8>,
    /// 3.4's discrepancy counter, next to the socket.
    pub discrepancy_file: Option<PathBuf>,
    pub max_discrepancy: u64,
}

/// Why a compile does not go in pump mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoPump {
    pub why: String,
    /// Worth a warning (3.4 warns for these); otherwise an expected case, logged as info.
    pub warn: bool,
}

impl From<String> for NoPump {
    fn from(why: String) -> NoPump {
        NoPump { why, warn: true }
    }
}

/// Why this compile cannot go in pump mode, or its plan. `argv` is the command line as it
/// will be sent (cross-compile renames done).
pub fn plan(config: &Config, job: &Job, argv: &[OsString]) -> Result<Plan, NoPump> {
    let socket = config.include_server_port.clone().ok_or_else(|| {
        NoPump::from("INCLUDE_SERVER_PORT is not set (not running under pump?)".to_owned())
    })?;
    let discrepancy_file = discrepancy_file(&socket);
    let max_discrepancy = match &config.max_discrepancy {
        None => DEFAULT_MAX_DISCREPANCY,
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(
                    format!("bad DISTCC_MAX_DISCREPANCY value {v:?}: needs 1 or more").into(),
                );
            }
        },
    };
    if let Some(f) = &discrepancy_file {
        let n = discrepancies(f);
        if n >= max_discrepancy {
            // 3.4 warns once, when the limit is reached; each compile after it only notes it.
            return Err(NoPump {
                why: format!(
                    "pump mode was given up for this build after {n} pump-mode failure(s) that succeeded otherwise ({})",
                    f.display()
                ),
                warn: false,
            });
        }
    }
    if job.is_preprocessed() {
        return Err("the source is already preprocessed".to_owned().into());
    }
    if let Some(var) = config.include_path_env {
        return Err(format!(
            "{var} is set (it adds include directories the include server cannot see)"
        )
        .into());
    }
    if let Some(var) = config.dependency_env {
        return Err(format!("{var} is set (dependency output through the environment)").into());
    }
    if let Some(a) = argv.iter().find(|a| is_cpp_deps_option(a.as_bytes())) {
        return Err(format!(
            "{} asks the preprocessor itself for a dependency file",
            a.to_string_lossy()
        )
        .into());
    }
    let cwd = std::env::current_dir()
        .map_err(|e| NoPump::from(format!("cannot name the current directory: {e}")))?
        .into_os_string()
        .into_vec();
    let scan_argv: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    let mut server_argv = scan_argv.clone();
    let deps_file = job.deps.side_effect.then(|| deps_file(job));
    if job.deps.side_effect && !job.deps.target_given {
        // The server compiles to a name of its own: the target must be named, as a local
        // compile would have named it.
        server_argv.push(b"-MT".to_vec());
        server_argv.push(job.output.as_bytes().to_vec());
    }
    Ok(Plan {
        socket,
        scan_argv,
        server_argv,
        deps_file,
        cwd,
        discrepancy_file,
        max_discrepancy,
    })
}

/// `-Wp,-MD,file` and friends: 3.4 sends them in pump mode and the file is lost on the
/// server.
fn is_cpp_deps_option(a: &[u8]) -> bool {
    a.strip_prefix(b"-Wp,").is_some_and(|rest| {
        rest.split(|b| *b == b',')
            .any(|w| matches!(w, b"-MD" | b"-MMD" | b"-MF"))
    })
}

/// Where gcc puts the dependency file of `-MD`/`-MMD`: `-MF`'s value, else the output's name
/// with its suffix replaced by `.d`, else (no `-o`) the source's base name with `.d`.
/// (3.4 derives the last case from the source's full path, a place gcc never writes.)
pub(crate) fn deps_file(job: &Job) -> PathBuf {
    let argv = &job.argv;
    let mut mf: Option<&[u8]> = None;
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_bytes();
        if a == b"-MF" {
            mf = argv.get(i + 1).map(|v| v.as_bytes());
            i += 1;
        } else if let Some(v) = a.strip_prefix(b"-MF") {
            mf = Some(v);
        }
        i += 1;
    }
    if let Some(f) = mf {
        return PathBuf::from(std::ffi::OsStr::from_bytes(f));
    }
    let name: &[u8] = if job.output_given {
        job.output.as_bytes()
    } else {
        let input = job.input.as_bytes();
        &input[input.iter().rposition(|b| *b == b'/').map_or(0, |s| s + 1)..]
    };
    let start = name.iter().rposition(|b| *b == b'/').map_or(0, |s| s + 1);
    let end = name[start..]
        .iter()
        .rposition(|b| *b == b'.')
        .map_or(name.len(), |d| start + d);
    let mut d = name[..end].to_vec();
    d.extend_from_slice(b".d");
    PathBuf::from(OsString::from_vec(d))
}

/// 3.4's discrepancy counter: `…/discrepancy_counter` beside `…/socket`; none when the
/// socket has another name.
pub fn discrepancy_file(socket: &Path) -> Option<PathBuf> {
    (socket.file_name()? == "socket").then(|| socket.with_file_name("discrepancy_counter"))
}

/// The count is the file's length (one byte per discrepancy).
pub fn discrepancies(file: &Path) -> u64 {
    std::fs::metadata(file).map_or(0, |m| m.len())
}

/// Adds one discrepancy (one `@`, as 3.4). Returns true for the client whose note reached
/// the limit (appends are atomic, so exactly one sees the count equal to it).
pub fn note_discrepancy(file: &Path, max: u64) -> io::Result<bool> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    f.write_all(b"@")?;
    Ok(f.metadata()?.len() == max)
}

/// What went wrong asking the include server.
#[derive(Debug)]
pub enum AskError {
    Io(String),
    /// The include server answered with an empty list: it could not cover this compile.
    GaveUp,
    Bad(String),
}

impl std::fmt::Display for AskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AskError::Io(e) => write!(f, "{e}"),
            AskError::GaveUp => write!(f, "the include server gave up analyzing this compile"),
            AskError::Bad(e) => write!(f, "bad answer from the include server: {e}"),
        }
    }
}

/// Asks the include server for the include closure: sends `CDIR`, `ARGC`, `ARGV…` (3.4's
/// exchange, byte for byte) and reads `ARGC`, `ARGV…` back: names under its client root.
pub fn ask(plan: &Plan, timeout: Duration) -> Result<Vec<Vec<u8>>, AskError> {
    let io = |what: &str, e: io::Error| {
        let e = if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            format!("timed out after {} s", timeout.as_secs())
        } else {
            e.to_string()
        };
        AskError::Io(format!(
            "{what} include server {}: {e}",
            plan.socket.display()
        ))
    };
    let mut s = UnixStream::connect(&plan.socket).map_err(|e| io("cannot connect to", e))?;
    s.set_read_timeout(Some(timeout))
        .and_then(|()| s.set_write_timeout(Some(timeout)))
        .map_err(|e| io("cannot set a timeout on", e))?;
    let req = include_server::encode_request(&plan.cwd, &plan.scan_argv);
    s.write_all(&req).map_err(|e| io("cannot write to", e))?;
    let caps = include_server::Caps {
        max_count: MAX_FILES,
        max_len: MAX_NAME,
        max_total: u64::MAX,
    };
    let names = include_server::read_reply(&mut io::BufReader::new(&s), &caps)
        .map_err(|e| map_read(e, &io))?;
    if names.is_empty() {
        return Err(AskError::GaveUp);
    }
    Ok(names)
}

fn map_read(e: proto::ProtoError, io: &dyn Fn(&str, io::Error) -> AskError) -> AskError {
    match e {
        proto::ProtoError::Io(e) => io("cannot read from", e),
        e => AskError::Bad(e.to_string()),
    }
}

/// The name a file of the include server's list has on this machine: its path without the
/// client root (3 components) and without `.abs`, then `.lzo` (3.4's
/// `dcc_get_original_fname`).
pub fn original_name(path: &[u8]) -> Option<Vec<u8>> {
    if path.first() != Some(&b'/') {
        return None;
    }
    let mut at = 0;
    for _ in 0..CLIENT_ROOT_DEPTH {
        at += 1 + path[at + 1..].iter().position(|b| *b == b'/')?;
    }
    let mut name = &path[at..];
    for ext in [&b".abs"[..], b".lzo"] {
        let base = name.iter().rposition(|b| *b == b'/').map_or(0, |s| s + 1);
        if let Some(dot) = name[base..].iter().rposition(|b| *b == b'.')
            && &name[base + dot..] == ext
        {
            name = &name[..base + dot];
        }
    }
    Some(name.to_vec())
}

/// Reads the files and links the include server listed.
///
/// The include server reads each source and header once per build and keeps its compressed
/// copy; 3.4's client sends that copy even when the file has changed since, and the server
/// then compiles the old text into an object that looks fine. Here a copy older than its
/// original (by modification time) makes the compile go in plain mode instead.
pub fn load(names: &[Vec<u8>]) -> Result<Closure, String> {
    let mut closure = Closure::default();
    for n in names {
        let path = Path::new(std::ffi::OsStr::from_bytes(n));
        let name = original_name(n).ok_or_else(|| {
            format!(
                "the include server listed {}, which is not under its client root",
                path.display()
            )
        })?;
        let meta = std::fs::symlink_metadata(path)
            .map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(path)
                .map_err(|e| format!("cannot read the link {}: {e}", path.display()))?;
            closure.entries.push(Entry::Link {
                name,
                target: target.into_os_string().into_vec(),
            });
        } else {
            if n.ends_with(b".lzo") || n.ends_with(b".lzo.abs") {
                let original = Path::new(std::ffi::OsStr::from_bytes(&name));
                let changed = std::fs::metadata(original)
                    .and_then(|m| m.modified())
                    .and_then(|orig| Ok(orig >= meta.modified()?));
                match changed {
                    Ok(false) => {}
                    Ok(true) => {
                        return Err(format!(
                            "{} changed after the include server read it",
                            original.display()
                        ));
                    }
                    Err(e) => return Err(format!("cannot stat {}: {e}", original.display())),
                }
            }
            let lzo =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            closure.bytes += lzo.len() as u64;
            closure.entries.push(Entry::File { name, lzo });
        }
    }
    Ok(closure)
}

/// Writes `NFIL n` and each `NAME` + `FILE` (the include server's LZO bytes as they are) or
/// `NAME` + `LINK`, into `buf`.
pub fn encode_files(buf: &mut Vec<u8>, closure: &Closure) -> io::Result<()> {
    proto::write_pump_file_count(buf, closure.entries.len() as u32);
    for e in &closure.entries {
        match e {
            Entry::File { name, lzo } => proto::encode_pump_packed_file(buf, name, lzo)?,
            Entry::Link { name, target } => proto::encode_pump_link(buf, name, target),
        }
    }
    Ok(())
}

/// Appends the file list as protocol 4 sends it: the include server's LZO copies unpacked
/// and each `FILE` body sent as zstd (`ULEN`, `FILE`, frame).
pub fn encode_files_v4(buf: &mut Vec<u8>, closure: &Closure) -> io::Result<()> {
    proto::write_pump_file_count(buf, closure.entries.len() as u32);
    for e in &closure.entries {
        match e {
            Entry::File { name, lzo } => {
                let data = proto::lzo::decompress(lzo, proto::Limits::DEFAULT.max_unpacked)
                    .map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "the include server's copy of {} is not LZO1X: {e}",
                                String::from_utf8_lossy(name)
                            ),
                        )
                    })?;
                let entry = proto::PumpEntry {
                    name: name.clone(),
                    kind: proto::PumpEntryKind::File(data),
                };
                proto::write_pump_entry_as(buf, &entry, proto::Compression::Zstd)?;
            }
            Entry::Link { name, target } => proto::encode_pump_link(buf, name, target),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_job as job;

    #[test]
    fn original_names_drop_the_client_root_and_suffixes() {
        let root = b"/dev/shm/tmpab.include_server-1-1";
        let name = |s: &str| original_name(&[&root[..], s.as_bytes()].concat());
        assert_eq!(name("/src/a.h.lzo"), Some(b"/src/a.h".to_vec()));
        assert_eq!(name("/src/a.h.lzo.abs"), Some(b"/src/a.h".to_vec()));
        assert_eq!(name("/src/a.h.abs.lzo"), Some(b"/src/a.h.abs".to_vec()));
        assert_eq!(name("/usr/include"), Some(b"/usr/include".to_vec()));
        assert_eq!(name("/x.lzo/y"), Some(b"/x.lzo/y".to_vec()));
        assert_eq!(original_name(b"/a/b"), None);
        assert_eq!(original_name(b"rel/a/b/c"), None);
    }

    #[test]
    fn discrepancy_file_is_beside_the_socket() {
        assert_eq!(
            discrepancy_file(Path::new("/tmp/distcc-pump.X/socket")),
            Some(PathBuf::from("/tmp/distcc-pump.X/discrepancy_counter"))
        );
        assert_eq!(discrepancy_file(Path::new("/tmp/sock")), None);
    }

    #[test]
    fn discrepancies_count_bytes_and_the_limit_is_seen_once() {
        let dir = std::env::temp_dir().join(format!("distcc-pump-disc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("discrepancy_counter");
        assert_eq!(discrepancies(&f), 0);
        assert!(!note_discrepancy(&f, 2).unwrap());
        assert!(note_discrepancy(&f, 2).unwrap());
        assert!(!note_discrepancy(&f, 2).unwrap());
        assert_eq!(std::fs::read(&f).unwrap(), b"@@@");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn deps_file_is_where_gcc_writes_it() {
        let d = |c: &str| deps_file(&job(c));
        assert_eq!(d("gcc -MD -c src/a.c -o obj/a.o"), PathBuf::from("obj/a.d"));
        assert_eq!(d("gcc -MD -c src/a.c"), PathBuf::from("a.d"));
        assert_eq!(d("gcc -MD -c a.c -o x.c.o"), PathBuf::from("x.c.d"));
        assert_eq!(
            d("gcc -MD -MF dep/x.d -c a.c -o a.o"),
            PathBuf::from("dep/x.d")
        );
        assert_eq!(
            d("gcc -MD -MFdep/y.d -c a.c -o a.o"),
            PathBuf::from("dep/y.d")
        );
        assert_eq!(d("gcc -MD -c a.c -o out"), PathBuf::from("out.d"));
    }

    #[test]
    fn preprocessor_dependency_options_are_seen() {
        assert!(is_cpp_deps_option(b"-Wp,-MD,a.d"));
        assert!(is_cpp_deps_option(b"-Wp,-DX,-MMD,a.d"));
        assert!(!is_cpp_deps_option(b"-Wp,-DMD"));
        assert!(!is_cpp_deps_option(b"-MD"));
    }

    #[test]
    fn the_file_list_is_3_4s() {
        let closure = Closure {
            entries: vec![
                Entry::File {
                    name: b"/s/a.c".to_vec(),
                    lzo: vec![0x18, b'i', b'n', b't', b' ', b'x', b';', b'\n', 0x11, 0, 0],
                },
                Entry::Link {
                    name: b"/usr/include".to_vec(),
                    target: b"../../usr/include".to_vec(),
                },
                Entry::File {
                    name: b"/s/forcing_technique_271828".to_vec(),
                    lzo: Vec::new(),
                },
            ],
            bytes: 11,
        };
        let mut buf = Vec::new();
        encode_files(&mut buf, &closure).unwrap();
        let mut want = b"NFIL00000003NAME00000006/s/a.cFILE0000000b".to_vec();
        want.extend_from_slice(&[0x18, b'i', b'n', b't', b' ', b'x', b';', b'\n', 0x11, 0, 0]);
        want.extend_from_slice(b"NAME0000000c/usr/includeLINK00000011../../usr/include");
        want.extend_from_slice(b"NAME0000001b/s/forcing_technique_271828FILE00000000");
        assert_eq!(buf, want);
        // And the daemon's decoder reads it back, decompressed.
        let mut r = &buf[..];
        let limits = proto::Limits::DEFAULT;
        assert_eq!(proto::read_pump_file_count(&mut r, &limits).unwrap(), 3);
        let e = proto::read_pump_entry(&mut r, &limits).unwrap();
        assert_eq!(e.kind, proto::PumpEntryKind::File(b"int x;\n".to_vec()));
    }
}

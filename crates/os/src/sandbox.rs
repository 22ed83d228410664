//! A sandbox for one process tree (a compile): Linux namespaces, a private file system view,
//! resource limits. What a sandboxed program sees:
//!
//! - its own user namespace (the caller's uid and gid mapped to themselves, nothing else; no
//!   capabilities after `exec`, `no_new_privs` set, no further user namespaces);
//! - its own pid namespace, the program being pid 1: when it exits, the kernel kills every
//!   process it started; its own `/proc` shows only them;
//! - no network: a seccomp filter makes `socket`, `socketpair` and `io_uring` (which can make
//!   sockets past the filter) fail with `EPERM`, and also the calls a compiler never needs
//!   that widen the kernel's attack surface (`ptrace`, `bpf`, `perf_event_open`,
//!   `userfaultfd`, keyrings, mounts, namespaces, modules); system calls of another ABI (i386,
//!   x32) kill the process. A network namespace per job would do the same for sockets, and
//!   cost 0.44 ms of a job's 1.1 ms of set-up (measured here); on architectures without a
//!   filter table here, that is what is used;
//! - its own IPC, UTS and cgroup namespaces;
//! - a root of its own, read-only: `/usr` and the root-level links or directories of a
//!   merged-`/usr` system (`/bin`, `/lib`, `/lib64`, …) bound read-only, `/etc` holding only
//!   what the dynamic loader and time zone need (`ld.so.cache`, `ld.so.conf`, `localtime`,
//!   `alternatives`), `/dev` with `null`, `zero`, `full`, `random`, `urandom`, a fresh `/proc`,
//!   a private `/tmp` (a small tmpfs), the caller's extra read-only directories, and the one
//!   writable directory the caller names (the job directory), all at their own paths;
//! - limits on CPU time, file size and address space (`setrlimit`), no core dumps.
//!
//! How: [`Prepared::enter`] runs in the forked child before `exec` (as a `pre_exec` hook of
//! `process::Command`). It unshares the namespaces, writes the id maps, and forks again: the
//! grandchild, pid 1 of the new pid namespace, builds the root as bubblewrap does (a tmpfs
//! on `/tmp` as the base, `pivot_root` into it, binds from `/oldroot`, `pivot_root` into the
//! new root) and returns to `exec` the program; the middle process closes every descriptor,
//! waits, and ends as the grandchild ended (same exit code, or killed by the same signal), so
//! the caller's wait status is the program's. Both stay in the caller's process group.
//!
//! Everything the child does after `fork` is a raw system call on strings prepared here
//! beforehand: no allocation, no locks (the caller may have other threads).
//!
//! What it leaves to callers: which program runs, which directory is writable, which limits.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Resource limits for every process of the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `RLIMIT_CPU`, per process, in seconds.
    pub cpu_seconds: Option<u64>,
    /// `RLIMIT_FSIZE`: the largest file a process may write, in bytes.
    pub file_size: Option<u64>,
    /// `RLIMIT_AS`: the address space of each process, in bytes.
    pub memory: Option<u64>,
    /// Size of the private `/tmp`, in bytes.
    pub tmp_size: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            cpu_seconds: None,
            file_size: None,
            memory: None,
            tmp_size: 64 << 20,
        }
    }
}

/// What a sandbox holds.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The one directory the program may write, visible at its own path.
    pub writable: PathBuf,
    /// Directories (or files) visible read-only at their own paths, besides the system's.
    pub read_only: Vec<PathBuf>,
    /// The working directory inside the sandbox (normally in `writable`).
    pub cwd: PathBuf,
    pub limits: Limits,
}

/// The steps of entering a sandbox, named in errors (the probe reports which one failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Unshare,
    IdMap,
    Fork,
    Propagation,
    Base,
    PivotBase,
    Build(usize),
    PivotRoot,
    ReadOnlyRoot,
    Cwd,
    Limits,
    NoNewPrivs,
    Seccomp,
}

/// A step that failed, with the system's error number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub step: Step,
    pub errno: i32,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.step {
            Step::Unshare => "creating user, mount, pid, network and ipc namespaces",
            Step::IdMap => "writing the user namespace's id maps",
            Step::Fork => "forking into the pid namespace",
            Step::Propagation => "making mounts private",
            Step::Base => "mounting the base tmpfs",
            Step::PivotBase => "pivoting into the base tmpfs",
            Step::Build(_) => "building the sandbox's root",
            Step::PivotRoot => "pivoting into the sandbox's root",
            Step::ReadOnlyRoot => "making the root read-only",
            Step::Cwd => "entering the working directory",
            Step::Limits => "setting resource limits",
            Step::NoNewPrivs => "setting no_new_privs",
            Step::Seccomp => "installing the seccomp filter",
        };
        write!(f, "{what}: {}", io::Error::from_raw_os_error(self.errno))
    }
}

/// One step of building the new root, on paths prepared before the fork.
#[derive(Debug, Clone)]
enum Op {
    Mkdir(CString),
    Symlink {
        target: CString,
        link: CString,
    },
    Touch(CString),
    /// A bind mount; `remount` is `Some(flags)` for a read-only one (the source's own
    /// locked flags kept, as the kernel requires in a user namespace).
    Bind {
        src: CString,
        dst: CString,
        recursive: bool,
        remount: Option<libc::c_ulong>,
    },
    Tmpfs {
        dst: CString,
        data: CString,
    },
    Proc(CString),
}

/// A sandbox ready to enter: every path and string made, so the child only makes system
/// calls.
#[derive(Debug, Clone)]
pub struct Prepared {
    uid_map: CString,
    gid_map: CString,
    ops: Vec<Op>,
    /// What an op's description says, for a failed probe.
    op_names: Vec<String>,
    cwd: CString,
    limits: Limits,
    /// The seccomp program, empty where this architecture has no table.
    filter: Vec<libc::sock_filter>,
}

/// The audit architecture of this build's system calls, for the seccomp filter.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_003E);
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_00B7);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const AUDIT_ARCH: Option<u32> = None;

/// System calls a sandboxed compile gets `EPERM` for.
const DENIED: &[libc::c_long] = &[
    libc::SYS_socket,
    libc::SYS_socketpair,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_fanotify_init,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_kexec_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
];

/// The seccomp BPF program: another ABI kills, a denied call fails with `EPERM`, the rest
/// is allowed.
fn seccomp_filter() -> Vec<libc::sock_filter> {
    let Some(arch) = AUDIT_ARCH else {
        return Vec::new();
    };
    // BPF_LD | BPF_W | BPF_ABS (the first two are 0).
    const LD_ABS_W: u16 = 0x20;
    // BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JGE | BPF_K, BPF_RET | BPF_K.
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    let stmt = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code, k, jt, jf| libc::sock_filter { code, jt, jf, k };
    let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    // struct seccomp_data: nr at 0, arch at 4.
    let mut f = vec![
        stmt(LD_ABS_W, 4),
        jump(JEQ_K, arch, 1, 0),
        stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(LD_ABS_W, 0),
        // x32 system calls carry bit 30 on x86-64.
        jump(JGE_K, 0x4000_0000, 0, 1),
        stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
    ];
    for nr in DENIED {
        f.push(jump(JEQ_K, *nr as u32, 0, 1));
        f.push(stmt(RET_K, eperm));
    }
    f.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
    f
}

/// Root-level names a merged-`/usr` (or classic) system needs for programs to run.
const ROOT_ENTRIES: &[&str] = &["bin", "lib", "lib32", "lib64", "libx32", "sbin", "usr"];
/// The only files of `/etc` a compiler needs: the dynamic loader's cache, the time zone
/// (`__DATE__`, `__TIME__`), and the alternatives links `cc` and `c++` may go through.
const ETC_ENTRIES: &[&str] = &["alternatives", "ld.so.cache", "ld.so.conf", "localtime"];
const DEVICES: &[&str] = &["full", "null", "random", "urandom", "zero"];

fn cstr(p: impl AsRef<OsStr>) -> io::Result<CString> {
    CString::new(p.as_ref().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path holds a NUL byte"))
}

/// `/newroot` + an absolute path.
fn under(base: &str, p: &Path) -> PathBuf {
    let mut out = PathBuf::from(base);
    for c in p.components() {
        if let Component::Normal(n) = c {
            out.push(n);
        }
    }
    out
}

/// The mount flags of the file system holding `p` that a read-only remount must keep.
fn locked_flags(p: &Path) -> io::Result<libc::c_ulong> {
    let c = cstr(p)?;
    // SAFETY: a valid NUL-terminated path and a zeroed struct the call fills.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let pairs = [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    Ok(pairs
        .iter()
        .filter(|(st_flag, _)| st.f_flag & st_flag != 0)
        .fold(0, |acc, (_, ms)| acc | ms))
}

struct Builder {
    ops: Vec<Op>,
    names: Vec<String>,
}

impl Builder {
    fn push(&mut self, name: String, op: Op) {
        self.names.push(name);
        self.ops.push(op);
    }

    fn mkdir(&mut self, p: &Path) -> io::Result<()> {
        self.push(format!("mkdir {}", p.display()), Op::Mkdir(cstr(p)?));
        Ok(())
    }

    /// `mkdir -p` below `base` (already made) for every component of `rel` (absolute).
    fn mkdirs(&mut self, base: &str, rel: &Path) -> io::Result<PathBuf> {
        let mut at = PathBuf::from(base);
        for c in rel.components() {
            if let Component::Normal(n) = c {
                at.push(n);
                self.mkdir(&at)?;
            }
        }
        Ok(at)
    }

    /// Binds the host's `host` (absolute) at the same path in the new root, read-only.
    fn bind_ro(&mut self, host: &Path, made: bool) -> io::Result<()> {
        let meta = std::fs::metadata(host)?;
        let dst = under("/newroot", host);
        if !made {
            if let Some(parent) = host.parent() {
                self.mkdirs("/newroot", parent)?;
            }
            if meta.is_dir() {
                self.mkdir(&dst)?;
            } else {
                self.push(format!("touch {}", dst.display()), Op::Touch(cstr(&dst)?));
            }
        }
        let flags = locked_flags(host)?;
        self.push(
            format!("bind {} read-only", host.display()),
            Op::Bind {
                src: cstr(under("/oldroot", host))?,
                dst: cstr(&dst)?,
                recursive: meta.is_dir(),
                remount: Some(flags | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV),
            },
        );
        Ok(())
    }

    /// Read-only binds of `dirs` (absolute, outside the system's own directories, which
    /// every sandbox shows).
    fn read_only(&mut self, dirs: &[PathBuf]) -> io::Result<()> {
        for extra in dirs {
            let covered = ROOT_ENTRIES
                .iter()
                .any(|e| extra.starts_with(Path::new("/").join(e)));
            if extra.is_absolute() && !covered {
                self.bind_ro(extra, false)?;
            }
        }
        Ok(())
    }

    /// Mirrors a host entry: the same symlink, or a read-only bind of the directory or file.
    fn mirror(&mut self, host: &Path) -> io::Result<()> {
        let Ok(meta) = std::fs::symlink_metadata(host) else {
            return Ok(());
        };
        let dst = under("/newroot", host);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(host)?;
            self.push(
                format!("symlink {}", dst.display()),
                Op::Symlink {
                    target: cstr(&target)?,
                    link: cstr(&dst)?,
                },
            );
            Ok(())
        } else {
            self.bind_ro(host, false)
        }
    }
}

impl Prepared {
    /// Prepares a sandbox for `spec`: reads the host's layout now (links, mount flags), so
    /// the child only replays it.
    pub fn new(spec: &Spec) -> io::Result<Prepared> {
        Prepared::system(&spec.read_only, spec.limits)?.for_job(&spec.writable, &[], &spec.cwd)
    }

    /// The part every job shares: the system's layout, `read_only`, the limits and the
    /// filter, read once (a daemon builds it at start-up); [`Prepared::for_job`] adds a job's
    /// own directory. Not enterable by itself: it has no writable directory.
    pub fn system(read_only: &[PathBuf], limits: Limits) -> io::Result<Prepared> {
        let mut b = Builder {
            ops: Vec::new(),
            names: Vec::new(),
        };
        for name in ROOT_ENTRIES {
            b.mirror(&Path::new("/").join(name))?;
        }
        b.mkdir(Path::new("/newroot/etc"))?;
        for name in ETC_ENTRIES {
            b.mirror(&Path::new("/etc").join(name))?;
        }
        b.mkdir(Path::new("/newroot/dev"))?;
        b.push(
            "tmpfs /dev".into(),
            Op::Tmpfs {
                dst: cstr("/newroot/dev")?,
                data: cstr("mode=0755,size=64k")?,
            },
        );
        for dev in DEVICES {
            let dst = format!("/newroot/dev/{dev}");
            b.push(format!("touch {dst}"), Op::Touch(cstr(&dst)?));
            b.push(
                format!("bind /dev/{dev}"),
                Op::Bind {
                    src: cstr(format!("/oldroot/dev/{dev}"))?,
                    dst: cstr(&dst)?,
                    recursive: false,
                    remount: None,
                },
            );
        }
        for (name, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            b.push(
                format!("symlink /dev/{name}"),
                Op::Symlink {
                    target: cstr(target)?,
                    link: cstr(format!("/newroot/dev/{name}"))?,
                },
            );
        }
        b.mkdir(Path::new("/newroot/proc"))?;
        b.push("mount /proc".into(), Op::Proc(cstr("/newroot/proc")?));
        b.mkdir(Path::new("/newroot/tmp"))?;
        b.push(
            "tmpfs /tmp".into(),
            Op::Tmpfs {
                dst: cstr("/newroot/tmp")?,
                data: cstr(format!("mode=1777,size={}", limits.tmp_size.max(4096)))?,
            },
        );
        b.read_only(read_only)?;
        // SAFETY: geteuid and getegid cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        Ok(Prepared {
            uid_map: cstr(format!("{uid} {uid} 1\n"))?,
            gid_map: cstr(format!("{gid} {gid} 1\n"))?,
            ops: b.ops,
            op_names: b.names,
            cwd: cstr("/")?,
            limits,
            filter: seccomp_filter(),
        })
    }

    /// This (system) sandbox for one job: `read_only` shown besides (a compiler's own
    /// installation), `writable` bound read-write at its own path, `cwd` entered.
    pub fn for_job(
        &self,
        writable: &Path,
        read_only: &[PathBuf],
        cwd: &Path,
    ) -> io::Result<Prepared> {
        if !writable.is_absolute() || !cwd.is_absolute() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "sandbox paths must be absolute",
            ));
        }
        let mut b = Builder {
            ops: self.ops.clone(),
            names: self.op_names.clone(),
        };
        b.read_only(read_only)?;
        // The writable directory last, so nothing above can hide it.
        let dst = b.mkdirs("/newroot", writable)?;
        b.push(
            format!("bind {} read-write", writable.display()),
            Op::Bind {
                src: cstr(under("/oldroot", writable))?,
                dst: cstr(&dst)?,
                recursive: false,
                remount: None,
            },
        );
        Ok(Prepared {
            ops: b.ops,
            op_names: b.names,
            cwd: cstr(cwd)?,
            ..self.clone()
        })
    }

    /// Enters the sandbox: call in a forked child, before `exec` (async-signal-safe: system
    /// calls only). Returns in the grandchild, which is to `exec` the program; the middle
    /// process never returns (it ends as the grandchild does).
    pub fn enter(&self) -> Result<(), Failure> {
        let fail = |step| Failure {
            step,
            errno: io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        };
        // Without a seccomp filter for this architecture, no network comes from a namespace.
        let net = if self.filter.is_empty() {
            libc::CLONE_NEWNET
        } else {
            0
        };
        let flags = libc::CLONE_NEWUSER
            | libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | net
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWCGROUP;
        // SAFETY: plain system calls on prepared NUL-terminated strings.
        unsafe {
            // A process that changed its uid (a daemon that dropped root) is not dumpable, and
            // its /proc/self files then belong to root: it could not write its own id maps.
            // This child is about to exec, which decides dumpability afresh.
            libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
            if libc::unshare(flags) != 0 {
                return Err(fail(Step::Unshare));
            }
            if !write_file(c"/proc/self/setgroups", b"deny")
                || !write_file(c"/proc/self/uid_map", self.uid_map.as_bytes())
                || !write_file(c"/proc/self/gid_map", self.gid_map.as_bytes())
            {
                return Err(fail(Step::IdMap));
            }
            let pid = libc::fork();
            if pid < 0 {
                return Err(fail(Step::Fork));
            }
            if pid > 0 {
                relay(pid);
            }
            // The grandchild: pid 1 of the new namespace. It dies with the middle process.
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            self.build().map_err(fail)?;
            self.limit().map_err(fail)?;
        }
        Ok(())
    }

    /// The grandchild's part: the new root, then the working directory.
    ///
    /// # Safety
    /// Call only in the grandchild made by `enter`.
    unsafe fn build(&self) -> Result<(), Step> {
        let none = std::ptr::null::<libc::c_char>();
        // SAFETY: system calls on prepared NUL-terminated strings, in a private mount
        // namespace of our own.
        unsafe {
            if libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                none.cast(),
            ) != 0
            {
                return Err(Step::Propagation);
            }
            let base = c"/tmp".as_ptr();
            if libc::mount(
                c"tmpfs".as_ptr(),
                base,
                c"tmpfs".as_ptr(),
                libc::MS_NODEV | libc::MS_NOSUID,
                c"mode=0755,size=1m".as_ptr().cast(),
            ) != 0
            {
                return Err(Step::Base);
            }
            if libc::chdir(base) != 0
                || libc::mkdir(c"newroot".as_ptr(), 0o755) != 0
                || libc::mount(
                    c"newroot".as_ptr(),
                    c"newroot".as_ptr(),
                    none,
                    libc::MS_BIND | libc::MS_REC,
                    none.cast(),
                ) != 0
                || libc::mkdir(c"oldroot".as_ptr(), 0o755) != 0
                || pivot_root(base, c"oldroot".as_ptr()) != 0
                || libc::chdir(c"/".as_ptr()) != 0
            {
                return Err(Step::PivotBase);
            }
            for (i, op) in self.ops.iter().enumerate() {
                if !run_op(op) {
                    return Err(Step::Build(i));
                }
            }
            if libc::mount(
                c"oldroot".as_ptr(),
                c"/oldroot".as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                none.cast(),
            ) != 0
                || libc::umount2(c"/oldroot".as_ptr(), libc::MNT_DETACH) != 0
            {
                return Err(Step::PivotRoot);
            }
            let old = libc::open(
                c"/".as_ptr(),
                libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
            );
            if old < 0
                || libc::chdir(c"/newroot".as_ptr()) != 0
                || pivot_root(c".".as_ptr(), c".".as_ptr()) != 0
                || libc::fchdir(old) != 0
                || libc::umount2(c".".as_ptr(), libc::MNT_DETACH) != 0
                || libc::chdir(c"/".as_ptr()) != 0
            {
                return Err(Step::PivotRoot);
            }
            libc::close(old);
            if libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REMOUNT
                    | libc::MS_BIND
                    | libc::MS_RDONLY
                    | libc::MS_NOSUID
                    | libc::MS_NODEV,
                none.cast(),
            ) != 0
            {
                return Err(Step::ReadOnlyRoot);
            }
            // No user namespaces inside this one: the compiler has no use for them, and they
            // are a large part of the kernel's attack surface. Best effort.
            write_file(c"/proc/sys/user/max_user_namespaces", b"0");
            if libc::chdir(self.cwd.as_ptr()) != 0 {
                return Err(Step::Cwd);
            }
        }
        Ok(())
    }

    /// Limits and `no_new_privs`, last before `exec`.
    ///
    /// # Safety
    /// Call only in the grandchild made by `enter`.
    unsafe fn limit(&self) -> Result<(), Step> {
        let l = &self.limits;
        let set = |res: libc::__rlimit_resource_t, v: u64| {
            let r = libc::rlimit {
                rlim_cur: v,
                rlim_max: v,
            };
            // SAFETY: a valid rlimit struct.
            unsafe { libc::setrlimit(res, &r) == 0 }
        };
        let ok = set(libc::RLIMIT_CORE, 0)
            && l.cpu_seconds.is_none_or(|v| set(libc::RLIMIT_CPU, v))
            && l.file_size.is_none_or(|v| set(libc::RLIMIT_FSIZE, v))
            && l.memory.is_none_or(|v| set(libc::RLIMIT_AS, v));
        if !ok {
            return Err(Step::Limits);
        }
        // SAFETY: prctl with constant arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(Step::NoNewPrivs);
        }
        if !self.filter.is_empty() {
            let prog = libc::sock_fprog {
                len: self.filter.len() as u16,
                filter: self.filter.as_ptr().cast_mut(),
            };
            // SAFETY: a program prepared before the fork, alive for the call.
            let r = unsafe {
                libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                    &prog as *const libc::sock_fprog,
                    0,
                    0,
                )
            };
            if r != 0 {
                return Err(Step::Seccomp);
            }
        }
        Ok(())
    }

    /// Tries the whole sandbox in a child that then exits without running anything: whether
    /// this kernel and this user can sandbox jobs, and if not, which step failed and why.
    pub fn probe(&self) -> Result<(), String> {
        let mut fds = [0; 2];
        // SAFETY: a two-int array for pipe2.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(format!("pipe: {}", io::Error::last_os_error()));
        }
        // SAFETY: the child only makes system calls (see `enter`) and exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", io::Error::last_os_error()));
        }
        if pid == 0 {
            // SAFETY: in the child: system calls only, then _exit.
            unsafe {
                libc::close(fds[0]);
                let code = match self.enter() {
                    Ok(()) => 0,
                    Err(f) => {
                        let (step, idx) = step_code(f.step);
                        let rec = [step, idx, f.errno as u32];
                        libc::write(fds[1], rec.as_ptr().cast(), 12);
                        1
                    }
                };
                libc::_exit(code);
            }
        }
        // SAFETY: our end of the pipe; the write end closed so the read sees end of file.
        unsafe { libc::close(fds[1]) };
        let mut rec = [0u32; 3];
        // SAFETY: reading at most 12 bytes into a 12-byte buffer.
        let n = unsafe { libc::read(fds[0], rec.as_mut_ptr().cast(), 12) };
        // SAFETY: our descriptor.
        unsafe { libc::close(fds[0]) };
        let mut status = 0;
        // SAFETY: waiting for our own child.
        while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
            if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return Err(format!("waitpid: {}", io::Error::last_os_error()));
            }
        }
        if n == 12 {
            let step = match rec[0] {
                0 => Step::Unshare,
                1 => Step::IdMap,
                2 => Step::Fork,
                3 => Step::Propagation,
                4 => Step::Base,
                5 => Step::PivotBase,
                6 => Step::Build(rec[1] as usize),
                7 => Step::PivotRoot,
                8 => Step::ReadOnlyRoot,
                9 => Step::Cwd,
                10 => Step::Limits,
                11 => Step::NoNewPrivs,
                _ => Step::Seccomp,
            };
            let f = Failure {
                step,
                errno: rec[2] as i32,
            };
            return Err(match step {
                Step::Build(i) => {
                    format!("{f} ({})", self.op_names.get(i).map_or("?", String::as_str))
                }
                _ => f.to_string(),
            });
        }
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            Ok(())
        } else {
            Err(format!("the probe ended with wait status {status:#x}"))
        }
    }
}

/// A step as two numbers, for the probe's pipe.
fn step_code(step: Step) -> (u32, u32) {
    match step {
        Step::Unshare => (0, 0),
        Step::IdMap => (1, 0),
        Step::Fork => (2, 0),
        Step::Propagation => (3, 0),
        Step::Base => (4, 0),
        Step::PivotBase => (5, 0),
        Step::Build(i) => (6, i as u32),
        Step::PivotRoot => (7, 0),
        Step::ReadOnlyRoot => (8, 0),
        Step::Cwd => (9, 0),
        Step::Limits => (10, 0),
        Step::NoNewPrivs => (11, 0),
        Step::Seccomp => (12, 0),
    }
}

/// The middle process: closes every descriptor (so the caller's pipes end with the sandbox,
/// and its exec-error pipe says the grandchild ran), waits, ends as the grandchild did.
fn relay(pid: libc::pid_t) -> ! {
    // SAFETY: system calls only; this process never returns to the caller's code.
    unsafe {
        libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
        let mut status = 0;
        loop {
            let r = libc::waitpid(pid, &mut status, 0);
            if r == pid {
                break;
            }
            if r < 0 && *libc::__errno_location() != libc::EINTR {
                libc::_exit(127);
            }
        }
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            let r = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &r);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(libc::WEXITSTATUS(status));
    }
}

fn pivot_root(new: *const libc::c_char, old: *const libc::c_char) -> libc::c_int {
    // SAFETY: the caller passes NUL-terminated strings.
    unsafe { libc::syscall(libc::SYS_pivot_root, new, old) as libc::c_int }
}

/// Writes `data` to an existing file; true on success. System calls only.
fn write_file(path: &std::ffi::CStr, data: &[u8]) -> bool {
    // SAFETY: a NUL-terminated path and a buffer of the given length.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        libc::close(fd);
        n == data.len() as isize
    }
}

/// Runs one prepared step; true on success. System calls only.
fn run_op(op: &Op) -> bool {
    let none = std::ptr::null::<libc::c_char>();
    // SAFETY: system calls on prepared NUL-terminated strings.
    unsafe {
        match op {
            Op::Mkdir(p) => {
                libc::mkdir(p.as_ptr(), 0o755) == 0 || *libc::__errno_location() == libc::EEXIST
            }
            Op::Symlink { target, link } => libc::symlink(target.as_ptr(), link.as_ptr()) == 0,
            Op::Touch(p) => {
                let fd = libc::open(
                    p.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o644,
                );
                fd >= 0 && libc::close(fd) == 0
            }
            Op::Bind {
                src,
                dst,
                recursive,
                remount,
            } => {
                let rec = if *recursive { libc::MS_REC } else { 0 };
                if libc::mount(
                    src.as_ptr(),
                    dst.as_ptr(),
                    none,
                    libc::MS_BIND | rec,
                    none.cast(),
                ) != 0
                {
                    return false;
                }
                match remount {
                    None => true,
                    Some(flags) => {
                        libc::mount(
                            none,
                            dst.as_ptr(),
                            none,
                            libc::MS_REMOUNT | libc::MS_BIND | flags,
                            none.cast(),
                        ) == 0
                    }
                }
            }
            Op::Tmpfs { dst, data } => {
                libc::mount(
                    c"tmpfs".as_ptr(),
                    dst.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    data.as_ptr().cast(),
                ) == 0
            }
            Op::Proc(dst) => {
                libc::mount(
                    c"proc".as_ptr(),
                    dst.as_ptr(),
                    c"proc".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    none.cast(),
                ) == 0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &Path) -> Spec {
        Spec {
            writable: dir.to_path_buf(),
            read_only: Vec::new(),
            cwd: dir.to_path_buf(),
            limits: Limits::default(),
        }
    }

    #[test]
    fn relative_paths_are_refused() {
        let mut s = spec(Path::new("/tmp"));
        s.writable = PathBuf::from("job");
        assert!(Prepared::new(&s).is_err());
    }

    #[test]
    fn the_plan_mirrors_the_system_and_binds_the_job_last() {
        let p = Prepared::new(&spec(Path::new("/tmp/distccd_x"))).unwrap();
        let last = p.op_names.last().unwrap();
        assert_eq!(last, "bind /tmp/distccd_x read-write");
        assert!(p.op_names.iter().any(|n| n == "bind /usr read-only"));
        assert!(p.op_names.iter().any(|n| n == "mount /proc"));
        assert!(!p.op_names.iter().any(|n| n.contains("passwd")));
    }
}

#[cfg(test)]
mod live {
    use super::*;
    use crate::process::{Command, Output};
    use std::sync::Arc;

    /// Runs `script` under `sh` in a sandbox whose writable directory is a fresh one.
    fn run(script: &str) -> (i32, String, String, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "distcc-sandbox-test-{}-{}",
            std::process::id(),
            script.len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let spec = Spec {
            writable: dir.clone(),
            read_only: Vec::new(),
            cwd: dir.clone(),
            limits: Limits {
                file_size: Some(1 << 20),
                ..Limits::default()
            },
        };
        let p = Arc::new(Prepared::new(&spec).unwrap());
        if let Err(e) = p.probe() {
            panic!("this machine cannot sandbox: {e}");
        }
        let out = Command::new("/bin/sh")
            .args(["-c", script])
            .cwd(&dir)
            .stdout(Output::Capture { limit: 1 << 20 })
            .stderr(Output::Capture { limit: 1 << 20 })
            .sandbox(p)
            .run()
            .unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            dir,
        )
    }

    #[test]
    fn sees_only_what_a_compiler_needs() {
        let (st, out, err, dir) = run(
            "echo pid=$$; ls /; ls /etc; ls /proc | grep -c '^[0-9]'; cat /etc/passwd; echo x > job.txt && echo wrote; echo y > /usr/x || echo ro-usr; /usr/bin/python3 -c 'import socket; socket.socket()' 2>&1 | grep -q 'Operation not permitted' && echo no-socket; exit 3",
        );
        eprintln!("{out}\n{err}");
        assert_eq!(st >> 8, 3, "{err}");
        assert!(out.contains("pid=1\n"), "{out}");
        assert!(out.contains("wrote"), "{out}");
        assert!(out.contains("ro-usr"), "{out}");
        assert!(out.contains("no-socket"), "{out}");
        assert!(!out.contains("root:x:0:0"), "{out}");
        assert_eq!(std::fs::read(dir.join("job.txt")).unwrap(), b"x\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! The client's side of the result cache (issue 16; the key, entry format and store are
//! `distcc-cache`'s).
//!
//! `compile` calls [`plan`] once the job's route is known; when it gives a [`Plan`], the
//! preprocessed source is made and [`Plan::look`] computes the key and looks in the local
//! store: a hit replays the result here (object through `output::write`, messages through
//! `output::relay`) and the compile ends without a slot or a connection; a miss gives a
//! [`Pending`] that `compile` hands the successful remote reply to.
//!
//! **What is stored**: only a remote compile that succeeded (exit 0) and printed nothing
//! (neither the local preprocessor nor the server): those are the results a remote compile
//! returns as they are. A compile that printed anything is compiled again here for the
//! compiler's own words (`compile::messages_need_local_compile`), and that run writes straight
//! to the caller's stderr, so it is not stored; nor are local compiles, compile errors and
//! fallbacks. In plain mode the local preprocessor writes the `.d` file, on a hit too, so
//! entries carry no `.d`.
//!
//! **When it is used**: the cache is on unless `DISTCC_CACHE=0` (one build; another number
//! turns it on) or `$DISTCC_DIR/cache.setting` saying `off` (`distcc --cache-off`, for good;
//! `--cache-on` undoes it) turns it off.
//!
//! **Under ccache** (`CCACHE_PREFIX=distcc`): ccache 4 runs its prefix command with
//! `UNCACHED_ERR_FD` set (and `CCACHE_DISABLE=1`, which a user may also set alone, so it
//! is not the sign). ccache keeps every result on this machine itself, so the local store is
//! skipped (neither read nor written: one copy per machine, ccache's), and the key is only
//! made to ask a daemon's shared cache, when some host advertised one. Plain mode by the classic route only (not pump
//! mode, not the identical-debug source route: counted as not cacheable).

use std::io;
use std::path::{Path, PathBuf};

use cache::{Entry, Found, Key, Store};

use crate::config::Config;
use crate::log::Log;

/// Where `--cache-on`/`--cache-off` keep the lasting setting, under `$DISTCC_DIR`.
pub const SETTING_FILE: &str = "cache.setting";
/// The store's directory under `$DISTCC_DIR` unless `DISTCC_CACHE_DIR` names one.
pub const SUBDIR: &str = "cache";
/// `DISTCC_CACHE_SIZE` when unset or unreadable: 5 GiB, as ccache's `max_size`.
pub const DEFAULT_SIZE: u64 = 5 << 30;

/// The cache's environment, read once by `Config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `DISTCC_CACHE`: `Some(false)` for `0`, `Some(true)` for another number, `None` unset.
    pub enabled: Option<bool>,
    /// `DISTCC_CACHE_DIR`.
    pub dir: Option<PathBuf>,
    /// `DISTCC_CACHE_SIZE`, verbatim (`parse_size`).
    pub size: Option<String>,
    /// `DISTCC_CACHE_DIRECT`: look up by manifest before preprocessing (`cache_direct`).
    pub direct: bool,
    /// `UNCACHED_ERR_FD` is set: ccache runs this client as its prefix command.
    pub under_ccache: bool,
}

pub use cache::parse_size;

/// The local store of this configuration (`top` is `$DISTCC_DIR`).
pub fn store(config: &Config, top: &Path) -> Store {
    let dir = config.cache.dir.clone().unwrap_or_else(|| top.join(SUBDIR));
    let size = config
        .cache
        .size
        .as_deref()
        .and_then(parse_size)
        .unwrap_or(DEFAULT_SIZE);
    Store::new(dir, size)
}

/// Is the cache on: `DISTCC_CACHE`, else the lasting setting, else on.
pub fn enabled(config: &Config, top: &Path) -> bool {
    config.cache.enabled.unwrap_or_else(|| {
        std::fs::read_to_string(top.join(SETTING_FILE)).map_or(true, |s| s.trim() != "off")
    })
}

/// `distcc --cache-on` / `--cache-off`: the lasting setting.
pub fn set_enabled(top: &Path, on: bool) -> io::Result<()> {
    std::fs::create_dir_all(top)?;
    let tmp = top.join(format!(".{SETTING_FILE}.{}", std::process::id()));
    std::fs::write(&tmp, if on { "on\n" } else { "off\n" })?;
    std::fs::rename(&tmp, top.join(SETTING_FILE))
}

/// The lines `--show-stats` adds about the store.
pub fn show(config: &Config, top: &Path) -> String {
    let s = store(config, top);
    let u = s.usage();
    format!(
        "\nresult cache {} in {}: {} entries, {} of {}\n",
        if enabled(config, top) { "on" } else { "off" },
        s.dir().display(),
        u.entries,
        crate::stats::size(u.bytes),
        crate::stats::size(s.max_bytes()),
    )
}

/// A compile that may use the cache, before its source is known.
pub struct Plan<'a> {
    store: Store,
    /// Read and write the local store (not under ccache).
    local: bool,
    top: &'a Path,
    log: &'a Log,
    /// Direct mode: the manifest key, once `direct` computed it.
    manifest: Option<Key>,
    direct: bool,
    started: std::time::SystemTime,
}

/// What a lookup decided.
pub enum Look {
    /// Replayed: the compile is over with this exit code.
    Hit(i32),
    /// Not there: store the result under this.
    Miss(Pending),
    /// Not cacheable (counted) or not usable this time (logged).
    Skip,
}

/// How a compile would go, as far as the cache is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Preprocessed here, the whole text sent (the key holds it).
    Classic,
    /// Pump mode with the include server's files in hand (the key holds every one).
    Pump,
    /// Pump mode not settled yet (the include server not asked): not cacheable.
    PumpUnresolved,
    /// `DISTCC_IDENTICAL_DEBUG`'s source route: not cacheable.
    Source,
}

/// Decides whether `job` may use the cache at all; counts why not. `shared` says whether
/// a candidate host advertised a shared cache (all that is used under ccache).
pub fn plan<'a>(
    config: &Config,
    log: &'a Log,
    top: &'a Path,
    job: &args::Job,
    route: Route,
    shared: bool,
) -> Option<Plan<'a>> {
    if !enabled(config, top) {
        return None;
    }
    let local = !config.cache.under_ccache;
    if !local && !shared {
        log.info(format_args!(
            "not using the result cache: under ccache, which keeps the results here, and no host shares a cache"
        ));
        crate::stats::uncacheable("under ccache, no daemon's shared cache");
        return None;
    }
    let argv: Vec<&[u8]> = job.argv.iter().map(|a| a.as_encoded_bytes()).collect();
    let why = match route {
        Route::PumpUnresolved => Some("pump mode without the include server's answer"),
        Route::Source => Some("the identical debug information route"),
        // Every shipped file is scanned by `look_pump`: the server expands the macros.
        Route::Pump => cache::rules::argv(&argv),
        Route::Classic => cache::rules::argv(&argv).or_else(|| {
            // The main file: in plain mode the expansion is in the key anyway (see
            // `cache::rules`), so the headers need not be read.
            match std::fs::read(&job.input) {
                Ok(text) => cache::rules::text(&text),
                Err(_) => Some("the source cannot be read"),
            }
        }),
    };
    if let Some(why) = why {
        log.info(format_args!("not using the result cache: {why}"));
        crate::stats::uncacheable(why);
        return None;
    }
    // Direct mode only where the preprocessor's dependency output is the `.d` of `-MD`/`-MMD`.
    let direct = config.cache.direct
        && local
        && route == Route::Classic
        && config.dependency_env.is_none()
        && !job
            .argv
            .iter()
            .any(|a| a.as_encoded_bytes().starts_with(b"-Wp,"));
    Some(Plan {
        store: store(config, top),
        local,
        top,
        log,
        manifest: None,
        direct,
        started: std::time::SystemTime::now(),
    })
}

impl Plan<'_> {
    /// The local store's entry for `key`; under ccache a miss without looking.
    fn get(&self, key: &Key) -> Found {
        if !self.local {
            self.log.info(format_args!(
                "under ccache: not looking in the local store, only in a daemon's ({key})"
            ));
            return Found::Miss;
        }
        self.store.get(key)
    }

    /// Direct mode: replays the result a manifest leads to, without preprocessing; `Some`
    /// exit code on a hit. Remembers the manifest key for `look` either way.
    pub fn direct(&mut self, program: &Path, job: &args::Job) -> Option<i32> {
        if !self.direct {
            return None;
        }
        let id = crate::ccid::for_job(program, job.language, self.top).ok()?;
        let cwd = std::env::current_dir().ok()?;
        let key = crate::cache_direct::manifest_key(&id, job, &cwd)?;
        self.manifest = Some(key);
        let (entry, dotd) = crate::cache_direct::lookup(&self.store, &key)?;
        if let Some(text) = &dotd {
            if !job.deps.side_effect {
                return None;
            }
            let path = crate::pump::deps_file(job);
            if let Err(e) = crate::output::write(&path, text) {
                self.log
                    .warning(format_args!("cannot write {}: {e}", path.display()));
                return None;
            }
        }
        let output = PathBuf::from(&job.output);
        match replay(&entry, &output) {
            Ok(code) => {
                self.log.info(format_args!(
                    "result of {} from the local cache by its manifest ({key})",
                    job.input.to_string_lossy()
                ));
                crate::stats::cache_hit("local", entry.body_len());
                Some(code)
            }
            Err(e) => {
                self.log.warning(format_args!(
                    "cannot write the cached result to {}: {e}",
                    output.display()
                ));
                None
            }
        }
    }

    /// Computes the key of a plain compile by `program` (the local compiler) running
    /// `server_argv` on `source` (the preprocessed text; `None`: the preprocessor failed)
    /// and looks it up. A hit is replayed to `output` (the object's path) and the caller's
    /// stdout/stderr.
    pub fn look(
        self,
        program: &Path,
        job: &args::Job,
        server_argv: &[Vec<u8>],
        source: Option<&[u8]>,
        cpp_stderr: &[u8],
    ) -> Look {
        let Some(source) = source else {
            return Look::Skip;
        };
        if !cpp_stderr.is_empty() {
            crate::stats::uncacheable("the preprocessor printed messages");
            return Look::Skip;
        }
        let Some(id) = self.identity(program, job) else {
            return Look::Skip;
        };
        let key = cache::key::plain(&id.fingerprint, &id.target, server_argv, source);
        let input = job.input.to_string_lossy();
        match self.get(&key) {
            Found::Hit(entry) => {
                let output = PathBuf::from(&job.output);
                match replay(&entry, &output) {
                    Ok(code) => {
                        self.log.info(format_args!(
                            "result of {input} from the local cache ({key})"
                        ));
                        if let Some(m) = self.manifest {
                            let p = Pending {
                                store: self.store.clone(),
                                key,
                                manifest: Some((m, source.to_vec(), self.started)),
                                dotd: job.deps.side_effect.then(|| crate::pump::deps_file(job)),
                                pump: false,
                                local: true,
                            };
                            p.store_manifest(self.log);
                        }
                        crate::stats::cache_hit("local", entry.body_len());
                        Look::Hit(code)
                    }
                    Err(e) => {
                        self.log.warning(format_args!(
                            "cannot write the cached result of {input} to {}: {e}",
                            output.display()
                        ));
                        Look::Skip
                    }
                }
            }
            found => {
                let why = match found {
                    Found::Corrupt(c) => {
                        self.log
                            .warning(format_args!("removed a damaged cache entry {key}: {c}"));
                        "a damaged entry (removed)"
                    }
                    _ => crate::stats::MISS_NOT_STORED,
                };
                crate::stats::cache_miss(why);
                Look::Miss(Pending {
                    store: self.store,
                    key,
                    manifest: self.manifest.map(|m| (m, source.to_vec(), self.started)),
                    dotd: job.deps.side_effect.then(|| crate::pump::deps_file(job)),
                    pump: false,
                    local: self.local,
                })
            }
        }
    }
}

impl Plan<'_> {
    /// The identity of the compiler `program` for `job` (`$DISTCC_DIR/identity`); `None`,
    /// logged and counted as not cacheable, when it cannot be taken.
    fn identity(&self, program: &Path, job: &args::Job) -> Option<identity::Identity> {
        crate::ccid::for_job(program, job.language, self.top)
            .inspect_err(|e| {
                self.log.info(format_args!(
                    "not using the result cache: the compiler's identity is unknown ({e})"
                ));
                crate::stats::uncacheable("the compiler's identity is unknown");
            })
            .ok()
    }

    /// Pump mode: computes the key of a compile by `program` running `server_argv` in `cwd`
    /// on the include server's `closure` (every file's name and contents as the server
    /// will see them) and looks it up. A compile whose files use `__DATE__`, `__TIME__` or
    /// `__TIMESTAMP__`, main file or header, is not cacheable: the server expands them. A
    /// hit writes the `.d` file to `deps_file` (when one is wanted) and the object.
    pub fn look_pump(
        self,
        program: &Path,
        job: &args::Job,
        server_argv: &[Vec<u8>],
        cwd: &[u8],
        closure: &crate::pump::Closure,
        deps_file: Option<&Path>,
    ) -> Look {
        let Some(id) = self.identity(program, job) else {
            return Look::Skip;
        };
        let mut b = cache::key::Builder::new(
            &id.fingerprint,
            &id.target,
            cache::key::Mode::Pump,
            server_argv,
        )
        .cwd(cwd);
        for e in &closure.entries {
            b = match e {
                crate::pump::Entry::File { name, lzo } => {
                    let data = match proto::lzo::decompress(
                        lzo,
                        proto::Limits::DEFAULT.max_unpacked,
                    ) {
                        Ok(d) => d,
                        Err(e) => {
                            self.log.info(format_args!(
                                "not using the result cache: the include server's copy of {} is unreadable ({e})",
                                String::from_utf8_lossy(name)
                            ));
                            crate::stats::uncacheable("an unreadable include server copy");
                            return Look::Skip;
                        }
                    };
                    if let Some(why) = cache::rules::text(&data) {
                        self.log.info(format_args!(
                            "not using the result cache: {why} ({})",
                            String::from_utf8_lossy(name)
                        ));
                        crate::stats::uncacheable(why);
                        return Look::Skip;
                    }
                    b.file(name, &data)
                }
                crate::pump::Entry::Link { name, target } => b.link(name, target),
            };
        }
        let key = b.finish();
        let input = job.input.to_string_lossy();
        let why = match self.get(&key) {
            Found::Hit(entry) => match replay_pump(&entry, Path::new(&job.output), deps_file) {
                Ok(Some(code)) => {
                    self.log.info(format_args!(
                        "result of {input} from the local cache in pump mode ({key})"
                    ));
                    crate::stats::cache_hit("local", entry.body_len());
                    return Look::Hit(code);
                }
                Ok(None) => crate::stats::MISS_NOT_STORED,
                Err(e) => {
                    self.log.warning(format_args!(
                        "cannot write the cached result of {input}: {e}"
                    ));
                    return Look::Skip;
                }
            },
            Found::Corrupt(c) => {
                self.log
                    .warning(format_args!("removed a damaged cache entry {key}: {c}"));
                "a damaged entry (removed)"
            }
            Found::Miss => crate::stats::MISS_NOT_STORED,
        };
        crate::stats::cache_miss(why);
        Look::Miss(Pending {
            store: self.store,
            key,
            manifest: None,
            dotd: None,
            pump: true,
            local: self.local,
        })
    }
}

/// A pump-mode hit: the `.d` text first (rewrapped as gcc writes it), then the object;
/// `None` when a `.d` file is wanted and the entry has none (then it is compiled again).
fn replay_pump(entry: &Entry, output: &Path, deps_file: Option<&Path>) -> io::Result<Option<i32>> {
    if let Some(d) = deps_file {
        let Some(text) = &entry.dotd else {
            return Ok(None);
        };
        let text = args::dotd::rewrap(text).unwrap_or_else(|| text.clone());
        crate::output::write(d, &text)?;
    }
    replay(entry, output).map(Some)
}

/// Writes a hit's object and relays its messages; returns its exit code.
fn replay(entry: &Entry, output: &Path) -> io::Result<i32> {
    use std::io::Write;
    let code = crate::compile::exit_code_of(entry.status);
    if code == 0 {
        crate::output::write(output, &entry.object)?;
    }
    let _ = crate::output::relay(&mut std::io::stderr().lock(), &entry.stderr);
    let mut out = std::io::stdout().lock();
    let _ = crate::output::relay(&mut out, &entry.stdout);
    let _ = out.flush();
    Ok(code)
}

/// A miss, waiting for the result to store.
pub struct Pending {
    store: Store,
    key: Key,
    /// Direct mode: the manifest key, the preprocessed text (its line markers name the
    /// files read) and when the compile started.
    manifest: Option<(Key, Vec<u8>, std::time::SystemTime)>,
    /// The `.d` file the preprocessor writes, if any.
    dotd: Option<PathBuf>,
    /// A pump-mode key: the entry keeps the server's `.d` text, and a plain attempt (pump
    /// mode given up) neither sends nor stores under it.
    pump: bool,
    /// Store in the local store (not under ccache).
    local: bool,
}

impl Pending {
    /// Direct mode: the manifest that leads to this result next time.
    fn store_manifest(&self, log: &Log) {
        let Some((m, text, started)) = &self.manifest else {
            return;
        };
        if let Err(why) = crate::cache_direct::store_manifest(
            &self.store,
            m,
            &self.key,
            text,
            self.dotd.as_deref(),
            *started,
        ) {
            log.info(format_args!("no manifest for result {}: {why}", self.key));
        }
    }

    /// The key's bytes, for a daemon's shared cache (`CKEY`).
    pub fn key(&self) -> [u8; 32] {
        self.key.0
    }

    /// True for a pump-mode key ([`Plan::look_pump`]).
    pub fn is_pump(&self) -> bool {
        self.pump
    }

    /// Stores a remote compile's reply when it is one the cache keeps: exit 0, nothing
    /// printed (see the module's rule). A failure to store is logged, never fatal.
    pub fn store(&self, log: &Log, reply: &proto::Reply, cpp_stderr: &[u8]) {
        if !self.local
            || reply.status != 0
            || !reply.stderr.is_empty()
            || !reply.stdout.is_empty()
            || !cpp_stderr.is_empty()
        {
            return;
        }
        let entry = Entry {
            status: 0,
            object: reply.object.clone(),
            // Pump mode: the server's dependency text, as it came (rewrapped on replay).
            dotd: if self.pump { reply.dotd.clone() } else { None },
            stderr: Vec::new(),
            stdout: Vec::new(),
        };
        match self.store.put(&self.key, &entry) {
            Ok(true) => {
                crate::stats::cache_stored();
                self.store_manifest(log);
            }
            Ok(false) => log.info(format_args!(
                "result {} too large for the cache ({} bytes)",
                self.key,
                entry.body_len()
            )),
            Err(e) => log.warning(format_args!(
                "cannot store result {} in {}: {e}",
                self.key,
                self.store.dir().display()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn the_setting_lasts_and_the_environment_wins() {
        let t = os::tempdir::TempDir::new("client-cache-").unwrap();
        let mut c = Config::from_lookup(|_| None);
        // On by default.
        assert!(enabled(&c, t.path()));
        set_enabled(t.path(), false).unwrap();
        assert!(!enabled(&c, t.path()));
        set_enabled(t.path(), true).unwrap();
        assert!(enabled(&c, t.path()));
        c.cache.enabled = Some(false);
        assert!(!enabled(&c, t.path()));
        set_enabled(t.path(), false).unwrap();
        c.cache.enabled = None;
        assert!(!enabled(&c, t.path()));
        let c = Config::from_lookup(|k| (k == "DISTCC_CACHE").then(|| OsString::from("1")));
        assert!(enabled(&c, t.path()));
        assert_eq!(store(&c, t.path()).dir(), t.path().join(SUBDIR));
        assert_eq!(store(&c, t.path()).max_bytes(), DEFAULT_SIZE);
    }
}

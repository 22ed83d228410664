//! The waiting line for slots, shared by every client of one `$DISTCC_DIR`: a directory of
//! doorbells (`os::wake::Doorbell`, named FIFOs) named `<arrival ns>.<pid>`, so that a
//! directory listing sorted by name is the arrival order. There is no daemon and no lock: a
//! client that frees a slot rings the first doorbell somebody still listens on (exactly one
//! waiter wakes, no herd), removing on its way the names of waiters that crashed. A waiter
//! leaves by removing its name (on drop); one that dies leaves a FIFO nobody holds, which the
//! next ringer, or a waiter behind it, removes.
//!
//! What a woken waiter does (look at the slots, pick one) is `slots.rs`'s business.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use os::wake::{self, DirWatch, Doorbell, Ring};

/// One queue directory (`$DISTCC_DIR/sched/remote` or `…/local`).
#[derive(Debug, Clone)]
pub struct Queue {
    dir: PathBuf,
}

/// This client's place in the queue; leaving is dropping it.
#[derive(Debug)]
pub struct Place {
    bell: Doorbell,
    name: String,
}

fn is_entry(name: &str) -> bool {
    !name.starts_with('.') && name.contains('.')
}

impl Queue {
    /// Opens (creating) `top/sched/<kind>`.
    pub fn open(top: &Path, kind: &str) -> io::Result<Queue> {
        let dir = top.join("sched").join(kind);
        std::fs::create_dir_all(&dir)?;
        Ok(Queue { dir })
    }

    /// The waiters' names in arrival order (live or not).
    pub fn waiters(&self) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| is_entry(n))
            .collect();
        names.sort();
        Ok(names)
    }

    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.waiters()?.is_empty())
    }

    /// Joins at the back.
    pub fn join(&self) -> io::Result<Place> {
        let ns = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("{ns:020}.{}", std::process::id());
        let bell = Doorbell::create(&self.dir, &name)?;
        Ok(Place { bell, name })
    }

    /// Rings the first waiter still listening, skipping (and removing) dead ones, and never
    /// ringing `except`. Returns whether somebody was rung.
    pub fn wake_first(&self, except: Option<&Place>) -> io::Result<bool> {
        for name in self.waiters()? {
            if except.is_some_and(|p| p.name == name) {
                continue;
            }
            let path = self.dir.join(&name);
            match wake::ring(&path)? {
                Ring::Rung => return Ok(true),
                Ring::Gone => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(false)
    }

    /// How many waiters are ahead of `place`, and how many wait in all (it included). With
    /// `purge`, waiters ahead are checked in order until a live one is found, and dead ones
    /// removed: usually one check, and a check wakes nobody.
    pub fn position(&self, place: &Place, purge: bool) -> io::Result<(usize, usize)> {
        let names = self.waiters()?;
        let mut ahead = 0;
        let mut total = 0;
        let mut checking = purge;
        for name in &names {
            if *name < place.name {
                if checking {
                    let path = self.dir.join(name);
                    if !wake::listening(&path)? {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    checking = false;
                }
                ahead += 1;
            }
            total += 1;
        }
        Ok((ahead, total.max(1)))
    }
}

impl Place {
    /// Waits for a ring (or, with `watch`, a closed lock file) at most `timeout`.
    pub fn wait(&self, timeout: Duration, watch: Option<&DirWatch>) -> io::Result<bool> {
        self.bell.wait(timeout, watch)
    }

    /// Leaves the queue, reporting whether a ring arrived since the last wait: a slot freed
    /// meanwhile that this client did not take, which the caller passes on.
    pub fn leave(self) -> bool {
        let Place { bell, .. } = self;
        let _ = std::fs::remove_file(bell.path());
        // After the name is gone nobody can ring it, so what is pending is all there is.
        let pending = bell.pending();
        drop(bell);
        pending
    }
}

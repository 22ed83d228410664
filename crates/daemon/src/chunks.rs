//! The chunk store behind protocol 4's chunked source (`FLAG` bit 2, docs/protocol-4.md
//! "Chunked source"): pieces of preprocessed source by xxh3-128 hash, in memory, bounded by
//! `--chunk-store` bytes with the least recently used going first.
//!
//! Two rules make a store shared by many clients safe:
//! - a chunk is stored only under the hash this daemon computed over its bytes
//!   ([`verify`] runs before [`ChunkStore::insert`]);
//! - chunks are kept per namespace ([`Namespace`]): the request's principal (TLS or token
//!   identity, else the client address, or the ssh user) together with the 16-byte key the
//!   client sends with its list (kept in its `$DISTCC_DIR`). A lookup only ever sees its
//!   own namespace's chunks, bytes and "have" alike. xxh3 is not collision resistant, so a
//!   client could craft two pieces with one hash; it can only place them in its own
//!   namespace, so a collision corrupts only its maker's compiles (which it could corrupt
//!   anyway by sending another source), and no client learns what another compiled.
//!
//! The chunks a daemon said it has are pinned for the request ([`Lookup::pinned`] holds
//! references), so an eviction between the answer and the assembly loses nothing.
//!
//! The wire formats and the hash are `proto::chunks`'s; the order of the exchange is
//! `serve`'s.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use proto::chunks::{ChunkRef, HASH_LEN, Key, Need};
use sha2::{Digest, Sha256};

/// A principal, as the store knows it: the first 16 bytes of SHA-256 over its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Principal([u8; 16]);

impl Principal {
    /// `name` is what identifies the client: `tls:<name>`, `ip:<address>`, `ssh:<user>`.
    pub fn new(name: &str) -> Principal {
        let d = Sha256::digest(name.as_bytes());
        let mut b = [0u8; 16];
        b.copy_from_slice(&d[..16]);
        Principal(b)
    }
}

/// Where a request's chunks live: its principal and the client's key, as the first 16
/// bytes of SHA-256 over both (computed once a request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Namespace([u8; 16]);

impl Namespace {
    pub fn new(who: Principal, key: &Key) -> Namespace {
        let mut h = Sha256::new();
        h.update(who.0);
        h.update(key);
        let d = h.finalize();
        let mut b = [0u8; 16];
        b.copy_from_slice(&d[..16]);
        Namespace(b)
    }
}

type Slot = (Namespace, [u8; HASH_LEN]);

/// The principal name of a plain TCP client: its address (an IPv4-mapped IPv6 address as the
/// IPv4 address it is), without the port.
pub fn ip_principal(stream: &std::net::TcpStream) -> String {
    match stream.peer_addr() {
        Ok(a) => {
            let ip = match a.ip() {
                std::net::IpAddr::V6(v6) => v6
                    .to_ipv4_mapped()
                    .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
                v4 => v4,
            };
            format!("ip:{ip}")
        }
        Err(_) => "ip:?".to_owned(),
    }
}

/// The principal name of the ssh user this process runs as (`--inetd` through ssh, and the
/// held daemon, which only that user reaches).
pub fn ssh_principal() -> String {
    // SAFETY: getuid cannot fail.
    format!("ssh:{}", unsafe { libc::getuid() })
}

struct Entry {
    data: Arc<[u8]>,
    tick: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Slot, Entry>,
    /// Last use → namespace and hash, oldest first.
    order: BTreeMap<u64, Slot>,
    tick: u64,
    bytes: u64,
}

/// Counters for the log and the tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub chunks: usize,
    pub bytes: u64,
}

/// The store; one per daemon, shared by its connection threads.
pub struct ChunkStore {
    cap: u64,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for ChunkStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChunkStore({} bytes)", self.cap)
    }
}

/// What a request's list found: which chunks must come, and the ones that are here, held.
pub struct Lookup {
    pub need: Need,
    /// Per list entry: the stored bytes (pinned), or `None` when the chunk comes in the body
    /// (or repeats one that does).
    pub pinned: Vec<Option<Arc<[u8]>>>,
}

impl ChunkStore {
    pub fn new(cap: u64) -> ChunkStore {
        ChunkStore {
            cap,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Which chunks of `list` namespace `ns` must send: every one not stored in `ns`, each
    /// once (a repeat of a missing chunk is taken from the body's first copy).
    pub fn lookup(&self, ns: Namespace, list: &[ChunkRef]) -> Lookup {
        // The list is capped at `max_chunks` entries by `proto::chunks::read_list`.
        let n = u32::try_from(list.len()).unwrap_or(u32::MAX);
        let mut need = Need::none(n);
        let mut pinned = Vec::with_capacity(list.len());
        let mut coming: std::collections::HashSet<[u8; HASH_LEN]> = Default::default();
        let mut inner = self.lock();
        for (i, c) in list.iter().enumerate() {
            let held = inner
                .touch(&(ns, c.hash))
                .filter(|e| e.data.len() == c.len as usize);
            match held {
                Some(e) => pinned.push(Some(e.data.clone())),
                None => {
                    if coming.insert(c.hash) {
                        need.set(i);
                    }
                    pinned.push(None);
                }
            }
        }
        Lookup { need, pinned }
    }

    /// Keeps `data`, whose hash the caller computed ([`verify`]) and found to be `hash`, in
    /// namespace `ns`; then evicts the least recently used chunks down to the bound.
    pub fn insert(&self, ns: Namespace, hash: [u8; HASH_LEN], data: Arc<[u8]>) {
        if data.len() as u64 > self.cap {
            return;
        }
        let mut inner = self.lock();
        let inner = &mut *inner;
        inner.tick += 1;
        let tick = inner.tick;
        let slot = (ns, hash);
        match inner.map.get_mut(&slot) {
            Some(e) => {
                inner.order.remove(&e.tick);
                e.tick = tick;
            }
            None => {
                inner.bytes += data.len() as u64;
                inner.map.insert(slot, Entry { data, tick });
            }
        }
        inner.order.insert(tick, slot);
        while inner.bytes > self.cap {
            let Some((_, old)) = inner.order.pop_first() else {
                break;
            };
            if let Some(e) = inner.map.remove(&old) {
                inner.bytes -= e.data.len() as u64;
            }
        }
    }

    pub fn counts(&self) -> Counts {
        let inner = self.lock();
        Counts {
            chunks: inner.map.len(),
            bytes: inner.bytes,
        }
    }
}

impl Inner {
    /// The entry for `slot`, marked as used now.
    fn touch(&mut self, slot: &Slot) -> Option<&Entry> {
        self.tick += 1;
        let tick = self.tick;
        let e = self.map.get_mut(slot)?;
        self.order.remove(&e.tick);
        e.tick = tick;
        self.order.insert(tick, *slot);
        Some(e)
    }
}

/// True when `data` is the chunk `c` names: its length and its hash (`proto::chunks::hash`).
pub fn verify(c: &ChunkRef, data: &[u8]) -> bool {
    data.len() == c.len as usize && proto::chunks::hash(data) == c.hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::chunks::hash;

    fn ns(name: &str, key: u8) -> Namespace {
        Namespace::new(Principal::new(name), &[key; 16])
    }

    fn chunk(b: u8, n: usize) -> (ChunkRef, Arc<[u8]>) {
        let data: Arc<[u8]> = vec![b; n].into();
        (
            ChunkRef {
                hash: hash(&data),
                len: n as u32,
            },
            data,
        )
    }

    #[test]
    fn chunks_are_kept_per_namespace() {
        let store = ChunkStore::new(1 << 20);
        let (a, b) = (ns("ip:10.0.0.1", 1), ns("ip:10.0.0.2", 1));
        let (c, data) = chunk(1, 100);
        assert_eq!(store.lookup(a, &[c]).need.count(), 1);
        store.insert(a, c.hash, data.clone());
        let l = store.lookup(a, &[c, c]);
        assert_eq!(l.need.count(), 0);
        assert!(l.pinned.iter().all(Option::is_some));
        // B has never uploaded it: it must send it, although A's copy is here.
        let l = store.lookup(b, &[c, c]);
        assert!(l.need.get(0) && !l.need.get(1), "a repeat comes once");
        store.insert(b, c.hash, data.clone());
        assert_eq!(store.lookup(b, &[c]).need.count(), 0);
        assert_eq!(store.counts().chunks, 2);
        assert_eq!(store.counts().bytes, 200);
        // The same address with another key is another namespace; the same key is the same.
        assert_eq!(store.lookup(ns("ip:10.0.0.1", 2), &[c]).need.count(), 1);
        assert_eq!(store.lookup(ns("ip:10.0.0.1", 1), &[c]).need.count(), 0);
        // A crafted collision (other bytes under A's hash, from B) stays in B's namespace:
        // A still gets its own bytes.
        let evil: Arc<[u8]> = vec![9; 100].into();
        store.insert(b, c.hash, evil);
        let l = store.lookup(a, &[c]);
        assert_eq!(&l.pinned[0].as_ref().unwrap()[..], &data[..]);
    }

    #[test]
    fn eviction_keeps_the_bound_and_pinned_chunks_survive_it() {
        let store = ChunkStore::new(250);
        let who = ns("x", 0);
        let chunks: Vec<_> = (0..4).map(|i| chunk(i, 100)).collect();
        store.insert(who, chunks[0].0.hash, chunks[0].1.clone());
        store.insert(who, chunks[1].0.hash, chunks[1].1.clone());
        let held = store.lookup(who, &[chunks[0].0]);
        assert!(held.pinned[0].is_some());
        store.insert(who, chunks[2].0.hash, chunks[2].1.clone());
        // 0 was used last by the lookup: 1 went.
        assert_eq!(store.counts().bytes, 200);
        assert_eq!(store.lookup(who, &[chunks[1].0]).need.count(), 1);
        store.insert(who, chunks[3].0.hash, chunks[3].1.clone());
        store.insert(who, chunks[1].0.hash, chunks[1].1.clone());
        assert!(store.counts().bytes <= 250);
        // The pinned bytes are still whole.
        assert_eq!(&held.pinned[0].as_ref().unwrap()[..], &chunks[0].1[..]);
        // A chunk larger than the store is not kept.
        let (big, data) = chunk(9, 300);
        store.insert(who, big.hash, data);
        assert_eq!(store.lookup(who, &[big]).need.count(), 1);
    }

    #[test]
    fn a_wrong_length_or_hash_is_not_the_chunk() {
        let (c, data) = chunk(5, 10);
        assert!(verify(&c, &data));
        assert!(!verify(&c, &data[..9]));
        assert!(!verify(&c, &[6; 10]));
    }
}

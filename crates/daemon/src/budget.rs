//! The daemon's memory budget: bytes of request bodies (compressed and decompressed) and of
//! results that all connections together may hold at once.
//!
//! A connection takes a [`Lease`] before it buffers anything large and grows it as the bytes
//! arrive (an LZO body's size is known only once it is decoded); when the budget cannot
//! cover a growth, the request is refused at once instead of buffered. A lease gives its
//! bytes back when dropped. No waiting: a full budget means a flood or a bomb, and the
//! client falls back or goes to another host.

use std::sync::{Arc, Mutex};

/// The shared counter.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone, Copy)]
struct State {
    used: u64,
    /// Highest `used` seen, for the stats.
    peak: u64,
    /// Requests refused because the budget was spent.
    refused: u64,
}

/// What the stats show of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub limit: u64,
    pub used: u64,
    pub peak: u64,
    pub refused: u64,
}

impl Budget {
    pub fn new(limit: u64) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            state: Mutex::new(State::default()),
        })
    }

    /// A lease of nothing yet, to grow.
    pub fn lease(self: &Arc<Budget>) -> Lease {
        Lease {
            budget: self.clone(),
            held: 0,
        }
    }

    pub fn usage(&self) -> Usage {
        let s = *self.state.lock().unwrap_or_else(|p| p.into_inner());
        Usage {
            limit: self.limit,
            used: s.used,
            peak: s.peak,
            refused: s.refused,
        }
    }

    fn take(&self, n: u64) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.used.checked_add(n).filter(|t| *t <= self.limit) {
            Some(t) => {
                s.used = t;
                s.peak = s.peak.max(t);
                true
            }
            None => {
                s.refused += 1;
                false
            }
        }
    }

    fn give(&self, n: u64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.used = s.used.saturating_sub(n);
    }
}

/// Bytes of the budget held by one connection.
#[derive(Debug)]
pub struct Lease {
    budget: Arc<Budget>,
    held: u64,
}

impl Lease {
    /// Makes this lease cover `total` bytes (never shrinks); false, and nothing taken, when
    /// the budget cannot.
    pub fn cover(&mut self, total: u64) -> bool {
        if total <= self.held {
            return true;
        }
        if !self.budget.take(total - self.held) {
            return false;
        }
        self.held = total;
        true
    }

    /// Gives everything back (the buffers it covered are gone).
    pub fn release(&mut self) {
        self.budget.give(self.held);
        self.held = 0;
    }

    pub fn held(&self) -> u64 {
        self.held
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_share_one_limit_and_give_back_on_drop() {
        let b = Budget::new(100);
        let mut a = b.lease();
        assert!(a.cover(60));
        let mut c = b.lease();
        assert!(!c.cover(50), "60 + 50 is past the limit");
        assert_eq!(c.held(), 0);
        assert!(c.cover(40));
        assert_eq!(b.usage().used, 100);
        drop(a);
        assert_eq!(b.usage().used, 40);
        assert!(c.cover(90));
        c.release();
        let u = b.usage();
        assert_eq!((u.used, u.peak, u.refused), (0, 100, 1));
    }
}

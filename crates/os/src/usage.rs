//! CPU time this process has used (`getrusage`), for the include server's `-t`.

use std::time::Duration;

/// User and system CPU time of this process so far.
pub fn self_times() -> Option<(Duration, Duration)> {
    // SAFETY: rusage is plain data; an all-zero value is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into the local it is given.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    let d = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Some((d(ru.ru_utime), d(ru.ru_stime)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_grows_with_work() {
        let (u0, s0) = super::self_times().unwrap();
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let (u1, s1) = super::self_times().unwrap();
        assert!(u1 + s1 > u0 + s0, "{x}");
    }
}

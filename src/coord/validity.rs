//! Pure: until when a manager may act on its lease. etcd counts a lease's
//! time to live from when its leader *received* the last keep-alive; the
//! manager only knows when it *sent* it, which is earlier. So a lease
//! renewed by a keep-alive sent at `sent` (local monotonic clock) lives in
//! etcd at least until `sent + ttl` by etcd's clock. Clocks may run at
//! slightly different rates (not offsets: both sides measure durations on
//! monotonic clocks), so the manager takes `ttl * (1 - DRIFT)`; and since an
//! action cannot be stopped half-way, it starts one only when the action's
//! own deadline ends before that. docs/HA.md has the whole argument.

use std::time::{Duration, Instant};

/// The largest relative difference in clock rate assumed between this host
/// and etcd's leader (NTP keeps real ones within 500 ppm; 1 % is generous).
pub const DRIFT: f64 = 0.01;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// The lease surely lives in etcd until then (local clock).
    until: Option<Instant>,
}

impl Validity {
    pub const NONE: Validity = Validity { until: None };

    /// The lease was renewed (or granted) by a request sent at `sent`;
    /// etcd answered with `ttl`.
    pub fn renewed(sent: Instant, ttl: Duration) -> Self {
        Self {
            until: Some(sent + ttl.mul_f64(1.0 - DRIFT)),
        }
    }

    /// The later of two (a renewal answered out of order never shortens).
    pub fn max(self, other: Validity) -> Validity {
        Validity {
            until: self.until.max(other.until),
        }
    }

    /// Whether an action taking up to `needed` and started `now` ends
    /// before the lease could have expired.
    pub fn covers(self, now: Instant, needed: Duration) -> bool {
        self.until.is_some_and(|u| now + needed < u)
    }

    /// How long from `now` the lease surely lives.
    pub fn left(self, now: Instant) -> Duration {
        self.until
            .map(|u| u.saturating_duration_since(now))
            .unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(10);

    #[test]
    fn an_action_must_end_before_the_lease_could_expire() {
        let sent = Instant::now();
        let v = Validity::renewed(sent, TTL);
        // 9.9 s of the 10 s are usable, counted from the send.
        assert!(v.covers(sent, Duration::from_millis(9_800)));
        assert!(!v.covers(sent, Duration::from_millis(9_900)));
        assert!(!v.covers(sent + Duration::from_secs(5), Duration::from_secs(5)));
        assert!(v.covers(sent + Duration::from_secs(5), Duration::from_secs(4)));
        assert_eq!(v.left(sent + Duration::from_secs(20)), Duration::ZERO);
    }

    #[test]
    fn no_lease_covers_nothing_and_renewals_never_shorten() {
        let now = Instant::now();
        assert!(!Validity::NONE.covers(now, Duration::ZERO));
        let late = Validity::renewed(now + Duration::from_secs(3), TTL);
        let early = Validity::renewed(now, TTL);
        assert_eq!(late.max(early), late);
        assert_eq!(early.max(late), late);
        assert_eq!(Validity::NONE.max(early), early);
    }
}

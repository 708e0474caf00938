//! Waiting for a condition with a deadline: the one pacing every waiting
//! step uses, after Patroni's `polling_loop`. The caller's body looks and
//! returns once the condition holds or fails; `Polling` decides when to look
//! again and when time is up.
//!
//! (A `poll_until(deadline, interval, async || ..)` taking the look as an
//! async closure was the first shape; the executor's looks borrow it
//! mutably, and the compiler cannot prove such a closure's futures `Send`
//! for the agent's spawned task. The loop body keeps the borrow plain.)

use std::time::{Duration, Instant};

pub struct Polling {
    deadline: Instant,
    interval: Duration,
    first: bool,
}

impl Polling {
    pub fn until(deadline: Instant, interval: Duration) -> Self {
        Self {
            deadline,
            interval,
            first: true,
        }
    }

    /// Whether to look (again): the first look is immediate; later ones
    /// come `interval` apart, and the last is at or after the deadline, so
    /// a condition met in time is never reported late. False once the
    /// deadline had passed at the previous look.
    pub async fn next(&mut self) -> bool {
        if std::mem::take(&mut self.first) {
            return true;
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        tokio::time::sleep(self.interval.min(left)).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn looks_at_once_then_every_interval_and_once_at_the_deadline() {
        let started = Instant::now();
        let mut polling = Polling::until(
            started + Duration::from_millis(30),
            Duration::from_millis(5),
        );
        let mut looks = Vec::new();
        while polling.next().await {
            looks.push(started.elapsed());
        }
        assert!(looks[0] < Duration::from_millis(5), "{looks:?}");
        assert!(looks.len() >= 3, "{looks:?}");
        assert!(
            *looks.last().unwrap() >= Duration::from_millis(30),
            "{looks:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_passed_deadline_still_gets_one_look() {
        let mut polling = Polling::until(Instant::now(), Duration::from_millis(5));
        assert!(polling.next().await);
        assert!(!polling.next().await);
    }
}

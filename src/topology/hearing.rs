//! How long each replica has heard nothing from its source, where the
//! server only counts heartbeats (MariaDB: `Slave_received_heartbeats`,
//! no time of the last one). A source that is up sends one every period
//! while it has nothing else to send, so a count and a received position
//! that both stood still from one reading to a later one mean the replica
//! heard nothing in between: the silence is at least the time between the
//! first reading that showed them and the latest. That lower bound fills
//! in the replica's `heard`, which detection then reads as it reads
//! MySQL's own timestamps — never a silence longer than the readings show.

use std::collections::BTreeMap;
use std::time::Instant;

use super::ClusterView;
use crate::mysql::binlog::BinlogCoord;
use crate::mysql::replica_status::Heard;

/// The manager's memory of each replica's count, across its looks.
#[derive(Debug, Default)]
pub struct Hearing {
    seen: BTreeMap<String, Seen>,
}

#[derive(Debug, Clone)]
struct Seen {
    received: u64,
    position: Option<BinlogCoord>,
    /// The first reading that showed this count and position.
    since: Instant,
}

impl Hearing {
    /// Fills in `heard` for every replica of `view` that counts its
    /// heartbeats, and remembers what each showed. A replica not
    /// connected (or not counting) is forgotten: a fresh connection starts
    /// its count afresh.
    pub fn annotate(&mut self, view: &mut ClusterView) {
        for n in &mut view.nodes {
            let replica = n
                .probe
                .result
                .as_mut()
                .ok()
                .and_then(|s| s.replica.as_mut());
            let Some((beats, r)) = replica.and_then(|r| r.heartbeats.map(|b| (b, r))) else {
                self.seen.remove(&n.name);
                continue;
            };
            let now = Seen {
                received: beats.received,
                position: r.received.clone(),
                since: beats.read_at,
            };
            let seen = self
                .seen
                .entry(n.name.clone())
                .and_modify(|s| {
                    if (s.received, &s.position) != (now.received, &now.position) {
                        *s = now.clone();
                    }
                })
                .or_insert(now);
            r.heard = Some(Heard {
                silent_for: beats.read_at.saturating_duration_since(seen.since),
                heartbeat: beats.period,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::mysql::replica_status::Heartbeats;
    use crate::mysql::{DbError, ErrorKind, Phase, Probe};
    use crate::testkit::{replica, state};
    use crate::topology::NodeView;

    const PERIOD: Duration = Duration::from_millis(500);

    /// A view of db1 (the master, or unreachable) and db2 (a replica that
    /// has received `count` heartbeats and stands at `position`, read at
    /// `at`).
    fn view(count: u64, position: u64, at: Instant) -> ClusterView {
        let mut s = state(2, false, Some(1));
        let r = replica(&mut s);
        r.received = Some(BinlogCoord::new("bin.000001", position));
        r.heartbeats = Some(Heartbeats {
            received: count,
            period: PERIOD,
            read_at: at,
        });
        let master = Err(DbError {
            kind: ErrorKind::Timeout,
            phase: Phase::Connect,
            code: None,
            message: "timed out".into(),
        });
        let node = |name: &str, result| NodeView {
            name: name.into(),
            host: "127.0.0.1".into(),
            port: 3306,
            probe: Probe {
                result,
                elapsed: Duration::ZERO,
            },
        };
        ClusterView {
            cluster: "c".into(),
            taken_at: std::time::SystemTime::now(),
            nodes: vec![node("db1", master), node("db2", Ok(s))],
        }
    }

    fn heard(hearing: &mut Hearing, mut v: ClusterView) -> Heard {
        hearing.annotate(&mut v);
        let r = v.node("db2").unwrap().state().unwrap().replica.clone();
        r.unwrap().heard.expect("heard filled in")
    }

    #[test]
    fn a_count_that_stands_still_is_a_silence_as_long_as_the_readings_show() {
        let t0 = Instant::now();
        let mut h = Hearing::default();
        let first = heard(&mut h, view(7, 100, t0));
        assert_eq!(first.silent_for, Duration::ZERO, "nothing known yet");
        assert_eq!(first.heartbeat, PERIOD);
        let later = heard(&mut h, view(7, 100, t0 + Duration::from_millis(1400)));
        assert_eq!(later.silent_for, Duration::from_millis(1400));
        assert!(later.silent(), "1.4 s without a heartbeat every 0.5 s");
    }

    #[test]
    fn a_new_heartbeat_or_a_moving_position_starts_the_silence_again() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut h = Hearing::default();
        heard(&mut h, view(7, 100, t0));
        let beat = heard(&mut h, view(8, 100, ms(600)));
        assert_eq!(beat.silent_for, Duration::ZERO);
        let moved = heard(&mut h, view(8, 200, ms(1200)));
        assert_eq!(moved.silent_for, Duration::ZERO);
        let still = heard(&mut h, view(8, 200, ms(1900)));
        assert_eq!(still.silent_for, Duration::from_millis(700));
        assert!(!still.silent());
    }

    #[test]
    fn a_replica_that_stopped_counting_is_forgotten() {
        let t0 = Instant::now();
        let mut h = Hearing::default();
        heard(&mut h, view(0, 100, t0));
        // Disconnected (no count read), then connected again with a fresh
        // count of 0 at the same position: not a silence since t0.
        let mut gap = view(0, 100, t0 + Duration::from_millis(700));
        let r = gap.nodes[1].probe.result.as_mut().unwrap();
        r.replica.as_mut().unwrap().heartbeats = None;
        h.annotate(&mut gap);
        let again = heard(&mut h, view(0, 100, t0 + Duration::from_millis(1500)));
        assert_eq!(again.silent_for, Duration::ZERO);
    }
}

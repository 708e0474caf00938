//! What each loop saw at its last tick: read by the HTTP API, the systemd
//! status line and the watchdog. Written once per tick; readers get a copy.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::analysis::Analysis;
use crate::mysql::replica_status::IoThread;
use crate::state::LastFailover;
use crate::topology::render::cluster_status;
use crate::topology::{ClusterView, Role, Topology};

/// A loop is stale, and unhealthy, once its last tick is this many
/// intervals old.
pub const STALE_AFTER_INTERVALS: u32 = 3;

/// This manager and its role in a cluster, with several managers.
#[derive(Debug, Clone, Serialize)]
pub struct Coordination {
    pub manager: String,
    #[serde(flatten)]
    pub role: crate::coord::Role,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The cluster as `vipkeeper status --json` shows it (absent for a
    /// host agent, which looks only at its own node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
    /// `healthy`, `dead-master`, ... and the sentence the log shows.
    pub analysis: &'static str,
    pub says: String,
    /// The writable master, when there is exactly one.
    pub primary: Option<String>,
    /// Replicas of the master whose IO and SQL threads both run.
    pub replicas: Vec<String>,
    pub last_failover: Option<LastFailover>,
    /// Automatic failover waits for `vipkeeper ack` (block period).
    pub blocked: bool,
    /// The loop only watches (`observe_only`): it changes nothing.
    pub observe_only: bool,
    /// Several managers: this one's role in the cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coordination: Option<Coordination>,
    #[serde(skip)]
    pub ticked: Instant,
    #[serde(skip)]
    pub interval: Duration,
    /// The loop is running a failover that must end by then: it is not
    /// stuck until then, though no round finishes (the watchdog stays fed;
    /// a catch-up or a VIP retried through an API outage takes longer
    /// than `WatchdogSec`).
    #[serde(skip)]
    pub busy_until: Option<Instant>,
}

impl Entry {
    /// The entry a manager loop makes of one tick.
    pub fn of_tick(
        view: &ClusterView,
        topology: &Topology,
        analysis: &Analysis,
        interval: Duration,
    ) -> Self {
        let writable = |name: &str| {
            view.node(name)
                .and_then(|n| n.state())
                .is_some_and(|s| s.writable())
        };
        let primary = match analysis {
            Analysis::Healthy { master } if writable(master) => Some(master.clone()),
            _ => None,
        };
        let replicas = view
            .nodes
            .iter()
            .filter(|n| topology.role(&n.name) == Role::Replica)
            .filter(|n| {
                n.state()
                    .and_then(|s| s.replica.as_ref())
                    .is_some_and(|r| r.sql_running && r.io_thread == IoThread::Yes)
            })
            .filter(|n| {
                topology.source.get(&n.name).and_then(|s| s.as_deref()) == primary.as_deref()
            })
            .map(|n| n.name.clone())
            .collect();
        Self {
            status: serde_json::to_value(cluster_status(view, topology)).ok(),
            analysis: analysis.label(),
            says: analysis.describe(),
            primary,
            replicas,
            last_failover: None,
            blocked: false,
            observe_only: false,
            coordination: None,
            ticked: Instant::now(),
            busy_until: None,
            interval,
        }
    }

    /// The entry an Aurora loop makes: where clients go, and what it says.
    pub fn aurora(writer: Option<String>, says: &str, interval: Duration) -> Self {
        Self {
            status: None,
            analysis: "aurora",
            says: says.to_string(),
            primary: writer,
            replicas: Vec::new(),
            last_failover: None,
            blocked: false,
            observe_only: false,
            coordination: None,
            ticked: Instant::now(),
            busy_until: None,
            interval,
        }
    }

    /// The entry a host agent makes: it only says that it ticks.
    pub fn host(node: &str, interval: Duration) -> Self {
        Self {
            status: None,
            analysis: "host-agent",
            says: format!("host agent for {node}"),
            primary: None,
            replicas: Vec::new(),
            last_failover: None,
            blocked: false,
            observe_only: false,
            coordination: None,
            ticked: Instant::now(),
            busy_until: None,
            interval,
        }
    }

    /// Whether the loop has ticked recently enough.
    pub fn fresh(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.ticked) <= self.interval * STALE_AFTER_INTERVALS
            || self.busy_until.is_some_and(|until| now <= until)
    }
}

/// Every running loop, by cluster name, with its last entry (`None` until
/// its first round ends); on a database host, what the host agent knows of
/// its node's binlog.
#[derive(Clone, Default)]
pub struct Board {
    loops: Arc<Mutex<BTreeMap<String, Option<Entry>>>>,
    binlogs: super::host_binlog::HostBinlogs,
}

impl Board {
    /// The host agent's binlog facts, by cluster.
    pub fn binlogs(&self) -> &super::host_binlog::HostBinlogs {
        &self.binlogs
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Option<Entry>>> {
        // A panic never happens while the lock is held (insert, remove, clone).
        self.loops
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A loop starts: it is expected to report.
    pub fn register(&self, cluster: &str) {
        self.map().insert(cluster.to_string(), None);
    }

    pub fn put(&self, cluster: &str, entry: Entry) {
        self.map().insert(cluster.to_string(), Some(entry));
    }

    /// The loop of `cluster` starts a failover that must end by `until`.
    pub fn busy(&self, cluster: &str, until: Instant) {
        if let Some(Some(entry)) = self.map().get_mut(cluster) {
            entry.busy_until = Some(until);
        }
    }

    /// A loop stopped: no longer expected.
    pub fn remove(&self, cluster: &str) {
        self.map().remove(cluster);
    }

    pub fn get(&self, cluster: &str) -> Option<Option<Entry>> {
        self.map().get(cluster).cloned()
    }

    pub fn all(&self) -> BTreeMap<String, Option<Entry>> {
        self.map().clone()
    }

    /// The loops that have not finished a round lately (or ever).
    pub fn stale(&self, now: Instant) -> Vec<String> {
        self.map()
            .iter()
            .filter(|(_, e)| e.as_ref().is_none_or(|e| !e.fresh(now)))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_in_a_failover_is_fresh_until_the_failover_must_end() {
        let interval = Duration::from_secs(1);
        let now = Instant::now() + Duration::from_secs(60);
        let mut entry = Entry::host("db1", interval);
        assert!(!entry.fresh(now), "a minute without a round is stale");
        entry.busy_until = Some(now + Duration::from_secs(5));
        assert!(entry.fresh(now), "failing over, bounded");
        assert!(!entry.fresh(now + Duration::from_secs(6)), "past its bound");

        let board = Board::default();
        board.register("main");
        board.busy("main", now);
        assert!(
            board.stale(now).contains(&"main".to_string()),
            "no round yet"
        );
        board.put("main", Entry::host("db1", interval));
        board.busy("main", now + Duration::from_secs(5));
        assert!(board.stale(now).is_empty());
    }
}

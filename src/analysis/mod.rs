//! Is the master dead? A pure function of the current view and what earlier
//! ticks saw (`History`), classified first and decided on later (the
//! orchestrator lesson).
//!
//! The rules:
//! * A connection *refused* by the master's host is certain evidence at once;
//!   timeouts and other silence need `unreachable_after` consecutive misses.
//! * An error the server itself returned (access denied, too many
//!   connections) proves it alive.
//! * The death is *confirmed* only when every reachable replica of the master
//!   has lost it too (IO thread not running, or reconnecting). A replica that
//!   still receives means the manager is the one cut off: never act then.
//! * A replica whose IO thread claims to be connected but receives nothing
//!   (the master hangs without closing sockets) is *stale*: the agent restarts
//!   its IO thread once to get fresh evidence.
//! * Fresh evidence stands in for repeated misses: after one failed probe,
//!   when every reachable replica's IO thread was restarted in this outage
//!   and none could connect again, the master is dead (a black hole is
//!   confirmed in one probe timeout and a short grace, not three).
//! * Where a replica tells when it last heard from the master (MySQL's
//!   performance_schema; MariaDB's heartbeat count, as `topology::hearing`
//!   saw it stand still), with a heartbeat period of at most 1 s (vipkeeper
//!   sets 0.5 s when it points a replica), that is the evidence instead of
//!   a restart: heard within two heartbeat periods is still receiving;
//!   silent for longer is cut off from the master too.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::mysql::binlog::BinlogCoord;
use crate::mysql::replica_status::{Heard, IoThread};
use crate::mysql::ErrorKind;
use crate::topology::{ClusterView, Topology};

/// What earlier ticks saw, as far as detection needs it.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Consecutive failed probes per node (reset by a successful one).
    misses: BTreeMap<String, u32>,
    /// Each replica's received position at the previous tick.
    received: BTreeMap<String, Option<BinlogCoord>>,
    /// Each replica's last known `seconds_behind` while it was connected.
    pub last_lag: BTreeMap<String, u64>,
    /// The master as last identified while it answered.
    pub last_master: Option<String>,
    /// What that master's last successful probe found.
    pub last_master_state: Option<crate::mysql::NodeState>,
    /// Each node's server id as last seen (see `Topology::derive_with_ids`).
    pub server_ids: BTreeMap<String, u32>,
    /// The master whose replicas' IO threads were restarted for fresh
    /// evidence in this outage, and which replicas (each once: a replica
    /// may turn stale a round after another did).
    io_restarted: Option<(String, Vec<String>)>,
}

impl History {
    /// Consecutive misses of `node`, counting the current view.
    pub fn misses_now(&self, view: &ClusterView, node: &str) -> u32 {
        let before = self.misses.get(node).copied().unwrap_or(0);
        match view.node(node) {
            Some(n) if n.state().is_none() => before + 1,
            _ => 0,
        }
    }

    /// Folds the current view in; call after analysing it.
    pub fn record(&mut self, view: &ClusterView, topology: &Topology) {
        for n in &view.nodes {
            let misses = self.misses_now(view, &n.name);
            self.misses.insert(n.name.clone(), misses);
            if let Some(s) = n.state() {
                self.server_ids.insert(n.name.clone(), s.server_id);
            }
            if let Some(r) = n.state().and_then(|s| s.replica.as_ref()) {
                self.received.insert(n.name.clone(), r.received.clone());
                if let Some(lag) = r.seconds_behind {
                    self.last_lag.insert(n.name.clone(), lag);
                }
            }
        }
        if let Some(m) = &topology.master {
            if let Some(state) = view.node(m).and_then(|n| n.state()) {
                self.last_master = Some(m.clone());
                self.last_master_state = Some(state.clone());
            }
        }
    }

    /// The replicas of `master` whose IO threads were restarted in this outage.
    pub fn restarted_for(&self, master: &str) -> &[String] {
        match &self.io_restarted {
            Some((m, done)) if m == master => done,
            _ => &[],
        }
    }

    /// Of `stale`, those not restarted yet in this outage of `master`.
    pub fn not_yet_restarted(&self, master: &str, stale: &[String]) -> Vec<String> {
        let done = self.restarted_for(master);
        stale
            .iter()
            .filter(|r| !done.contains(r))
            .cloned()
            .collect()
    }

    pub fn note_restarted(&mut self, master: &str, replicas: &[String]) {
        match &mut self.io_restarted {
            Some((m, done)) if m == master => done.extend_from_slice(replicas),
            other => *other = Some((master.to_string(), replicas.to_vec())),
        }
    }

    /// A copy that compares the replicas' received positions with `view`'s
    /// rather than the last tick's: whether they moved since a moment ago.
    pub fn received_as_in(&self, view: &ClusterView) -> History {
        let mut h = self.clone();
        for n in &view.nodes {
            if let Some(r) = n.state().and_then(|s| s.replica.as_ref()) {
                h.received.insert(n.name.clone(), r.received.clone());
            }
        }
        h
    }

    /// The outage is over (the master answers).
    pub fn forget_restarts(&mut self) {
        self.io_restarted = None;
    }

    fn moved(&self, node: &str, now: &Option<BinlogCoord>) -> bool {
        self.received.get(node).is_some_and(|before| before != now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "analysis", rename_all = "kebab-case")]
pub enum Analysis {
    Healthy {
        master: String,
    },
    /// No master can be identified at all.
    NoMaster {
        why: String,
    },
    /// The master's probe failed, but the server answered: it is alive.
    MasterAlive {
        master: String,
        why: String,
    },
    /// The manager cannot reach the master, but the death is not confirmed.
    /// Never acted on.
    MasterUnreachable {
        master: String,
        why: String,
        /// Replicas still receiving from the master: the manager is cut off.
        still_receiving: Vec<String>,
        /// Replicas connected but silent: restart their IO threads to learn more.
        stale: Vec<String>,
    },
    /// Confirmed by the manager and by every reachable replica.
    DeadMaster {
        master: String,
        evidence: String,
        replicas: Vec<String>,
    },
}

impl Analysis {
    /// The state in one word, as metrics and the HTTP API name it.
    pub fn label(&self) -> &'static str {
        match self {
            Analysis::Healthy { .. } => "healthy",
            Analysis::NoMaster { .. } => "no-master",
            Analysis::MasterAlive { .. } => "master-alive",
            Analysis::MasterUnreachable { .. } => "master-unreachable",
            Analysis::DeadMaster { .. } => "dead-master",
        }
    }

    /// Every label, for a gauge that names the current one.
    pub const LABELS: [&'static str; 5] = [
        "healthy",
        "no-master",
        "master-alive",
        "master-unreachable",
        "dead-master",
    ];

    /// One sentence for the log.
    pub fn describe(&self) -> String {
        match self {
            Analysis::Healthy { master } => format!("healthy: {master} is the master"),
            Analysis::NoMaster { why } => format!("no master: {why}"),
            Analysis::MasterAlive { master, why } => {
                format!("master {master} answers but cannot be probed: {why}")
            }
            Analysis::MasterUnreachable { master, why, .. } => {
                format!("master {master} unreachable, not confirmed: {why}")
            }
            Analysis::DeadMaster {
                master, evidence, ..
            } => format!("master {master} is dead: {evidence}"),
        }
    }
}

pub fn analyze(
    view: &ClusterView,
    topology: &Topology,
    history: &History,
    unreachable_after: u32,
) -> Analysis {
    let Some(master) = topology
        .master
        .clone()
        .or_else(|| history.last_master.clone())
    else {
        return Analysis::NoMaster {
            why: "no node is writable or has replicas, and none was seen as master before".into(),
        };
    };
    let Some(master_view) = view.node(&master) else {
        return Analysis::NoMaster {
            why: format!("{master} is no longer configured"),
        };
    };
    let Some(error) = master_view.error() else {
        return Analysis::Healthy { master };
    };
    if error.kind.proves_server_alive() {
        return Analysis::MasterAlive {
            master,
            why: error.to_string(),
        };
    }
    let misses = history.misses_now(view, &master);

    // What the replicas of the master say, gathered from the first miss on:
    // the agent starts collecting fresh evidence while the misses add up.
    let replicas: Vec<&crate::topology::NodeView> = view
        .nodes
        .iter()
        .filter(|n| {
            n.name != master
                && topology.source.get(&n.name).and_then(|s| s.as_deref()) == Some(&master)
        })
        .collect();
    let reachable: Vec<_> = replicas
        .iter()
        .filter_map(|n| Some((n, n.state()?.replica.as_ref()?)))
        .collect();
    let mut still_receiving = Vec::new();
    let mut stale = Vec::new();
    let mut silent = Vec::new();
    for (n, r) in &reachable {
        if r.io_thread != IoThread::Yes {
            continue;
        }
        // A position that moved is receiving whatever the timestamps say
        // (a big transaction's events arrive with no new timestamp).
        let moved = history.moved(&n.name, &r.received);
        match r.heard.filter(Heard::tells) {
            Some(h) if h.silent() && !moved => silent.push(n.name.clone()),
            Some(_) => still_receiving.push(n.name.clone()),
            None if moved => still_receiving.push(n.name.clone()),
            None => stale.push(n.name.clone()),
        }
    }

    // Every reachable replica cut off from the master by fresh evidence:
    // silent for two heartbeat periods, or restarted in this outage and
    // not connected again (it tried the master afresh and could not).
    let restarted = history.restarted_for(&master);
    let all_cut_off = !reachable.is_empty()
        && reachable.iter().all(|(n, r)| {
            silent.contains(&n.name)
                || (restarted.contains(&n.name) && r.io_thread != IoThread::Yes)
        });
    let how = match (silent.is_empty(), silent.len() == reachable.len()) {
        (true, _) => "no replica could connect to it again after its IO thread was restarted",
        (false, true) => "no replica has heard from it for two heartbeat periods",
        (false, false) => {
            "no replica has heard from it for two heartbeat periods or could connect to it again after its IO thread was restarted"
        }
    };
    let manager_evidence = if error.kind == ErrorKind::Refused {
        format!("connection refused by {}", master_view.address())
    } else if misses >= unreachable_after {
        format!("{misses} consecutive failed probes ({error})")
    } else if misses >= 1 && all_cut_off {
        format!("{misses} failed probe(s) ({error}), and {how}")
    } else {
        return Analysis::MasterUnreachable {
            why: format!("{misses} of {unreachable_after} failed probes so far ({error})"),
            master,
            still_receiving,
            stale,
        };
    };
    if reachable.is_empty() {
        return Analysis::MasterUnreachable {
            why: format!("{manager_evidence}, but no replica of {master} is reachable to confirm"),
            master,
            still_receiving,
            stale,
        };
    }
    if !still_receiving.is_empty() {
        return Analysis::MasterUnreachable {
            why: format!(
                "{manager_evidence}, but {} still receive(s) from it: the manager may be the one cut off",
                still_receiving.join(", ")
            ),
            master,
            still_receiving,
            stale,
        };
    }
    if !stale.is_empty() {
        return Analysis::MasterUnreachable {
            why: format!(
                "{manager_evidence}; {} still hold(s) a connection to it but receive(s) nothing",
                stale.join(", ")
            ),
            master,
            still_receiving,
            stale,
        };
    }
    let names: Vec<String> = reachable.iter().map(|(n, _)| n.name.clone()).collect();
    Analysis::DeadMaster {
        evidence: format!(
            "{manager_evidence}; replicas {} lost it too",
            names.join(", ")
        ),
        master,
        replicas: names,
    }
}

#[cfg(test)]
mod tests;

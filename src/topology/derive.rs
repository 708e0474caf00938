//! Roles and warnings derived from a `ClusterView`: who replicates from
//! whom, which node is the master, and what an operator should look at.
//! Pure: a function of the view alone.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ClusterView, NodeView};
use crate::mysql::replica_status::IoThread;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Root of the replication tree: the node clients write to.
    Master,
    /// Replicates from a node of the cluster and has replicas of its own.
    IntermediateMaster,
    Replica,
    /// Reachable, replicates from no node of the cluster, and is not the master.
    Detached,
    /// Not reachable now; role not known from its own answers.
    Unknown,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::IntermediateMaster => "intermediate master",
            Role::Replica => "replica",
            Role::Detached => "detached",
            Role::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    Unreachable,
    MasterUnreachable,
    NoMaster,
    MasterReadOnly,
    TwoWritable,
    ReplicationBroken,
    NotReplicatingFromMaster,
    ErrantTransactions,
    Lagging,
    MultipleChannels,
    ReplicaWritable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub node: Option<String>,
    pub kind: WarningKind,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Topology {
    pub master: Option<String>,
    pub roles: BTreeMap<String, Role>,
    /// For each node, the cluster node it replicates from (None: none, or
    /// a server outside the cluster).
    pub source: BTreeMap<String, Option<String>>,
    pub warnings: Vec<Warning>,
}

impl Topology {
    /// Nodes that replicate directly from `name`, in configuration order.
    pub fn replicas_of<'a>(
        &'a self,
        view: &'a ClusterView,
        name: &'a str,
    ) -> impl Iterator<Item = &'a NodeView> + 'a {
        view.nodes
            .iter()
            .filter(move |n| self.source.get(&n.name).and_then(|s| s.as_deref()) == Some(name))
    }

    pub fn role(&self, name: &str) -> Role {
        self.roles.get(name).copied().unwrap_or(Role::Unknown)
    }

    pub fn derive(view: &ClusterView, max_lag_seconds: u64) -> Topology {
        Self::derive_with_ids(view, max_lag_seconds, &BTreeMap::new())
    }

    /// As `derive`, also matching replicas' source server ids against the
    /// ids nodes had when last reachable (`known_ids`): a dead master is
    /// still recognised as its replicas' source, whatever address they use.
    pub fn derive_with_ids(
        view: &ClusterView,
        max_lag_seconds: u64,
        known_ids: &BTreeMap<String, u32>,
    ) -> Topology {
        let source: BTreeMap<String, Option<String>> = view
            .nodes
            .iter()
            .map(|n| (n.name.clone(), resolve_source(view, n, known_ids)))
            .collect();
        let master = choose_master(view, &source);
        let mut roles = BTreeMap::new();
        for n in &view.nodes {
            let has_replicas = source
                .values()
                .any(|s| s.as_deref() == Some(n.name.as_str()));
            let role = if Some(&n.name) == master.as_ref() {
                Role::Master
            } else if n.state().is_none() {
                Role::Unknown
            } else if source[&n.name].is_some() {
                if has_replicas {
                    Role::IntermediateMaster
                } else {
                    Role::Replica
                }
            } else {
                Role::Detached
            };
            roles.insert(n.name.clone(), role);
        }
        let mut topology = Topology {
            master,
            roles,
            source,
            warnings: Vec::new(),
        };
        topology.warnings = warnings(view, &topology, max_lag_seconds);
        topology
    }

    /// The master at the top of `name`'s chain of sources, if it leads there.
    fn reaches_master(&self, name: &str) -> bool {
        let mut current = name.to_string();
        for _ in 0..self.source.len() {
            match self.source.get(&current).cloned().flatten() {
                Some(next) if Some(&next) == self.master.as_ref() => return true,
                Some(next) => current = next,
                None => return false,
            }
        }
        false // a cycle
    }
}

/// The cluster node `n` replicates from: by the source's server id when the
/// replica knows it, else by host and port.
fn resolve_source(
    view: &ClusterView,
    n: &NodeView,
    known_ids: &BTreeMap<String, u32>,
) -> Option<String> {
    let replica = n.state()?.replica.as_ref()?;
    let by_address = || {
        view.nodes
            .iter()
            .find(|o| {
                o.name != n.name
                    && o.port == replica.source_port
                    && same_host(&o.host, &replica.source_host)
            })
            .map(|o| o.name.clone())
    };
    // Master_Server_Id is that of the last connection: once a replica is
    // repointed and not yet connected, it names the old source. The
    // configured address is the truth then, when it names a node.
    if replica.io_thread != IoThread::Yes {
        if let Some(name) = by_address() {
            return Some(name);
        }
    }
    if let Some(id) = replica.source_server_id {
        let server_id = |o: &NodeView| {
            o.state()
                .map(|s| s.server_id)
                .or_else(|| known_ids.get(&o.name).copied())
        };
        if let Some(src) = view
            .nodes
            .iter()
            .find(|o| o.name != n.name && server_id(o) == Some(id))
        {
            return Some(src.name.clone());
        }
    }
    by_address()
}

fn same_host(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The root of the largest replication tree; among equals, a writable and
/// reachable one. `None` when nothing is reachable or two trees tie.
fn choose_master(view: &ClusterView, source: &BTreeMap<String, Option<String>>) -> Option<String> {
    let tree_size = |root: &str| {
        view.nodes
            .iter()
            .filter(|n| n.name != root && chain_reaches(source, &n.name, root))
            .count()
    };
    let mut ranked: Vec<(usize, bool, bool, &str)> = view
        .nodes
        .iter()
        .filter(|n| source[&n.name].is_none())
        .map(|n| {
            let writable = n.state().is_some_and(|s| s.writable());
            (
                tree_size(&n.name),
                writable,
                n.state().is_some(),
                n.name.as_str(),
            )
        })
        .collect();
    ranked.sort_by_key(|r| std::cmp::Reverse((r.0, r.1, r.2)));
    match ranked.as_slice() {
        [] => None,
        [(size, writable, reachable, name), rest @ ..] => {
            let tie = rest
                .first()
                .is_some_and(|r| (r.0, r.1, r.2) == (*size, *writable, *reachable));
            let plausible = *size > 0 || *writable;
            (!tie && plausible).then(|| name.to_string())
        }
    }
}

fn chain_reaches(source: &BTreeMap<String, Option<String>>, from: &str, to: &str) -> bool {
    let mut current = from;
    for _ in 0..source.len() {
        match source.get(current).and_then(|s| s.as_deref()) {
            Some(next) if next == to => return true,
            Some(next) => current = next,
            None => return false,
        }
    }
    false
}

fn warnings(view: &ClusterView, t: &Topology, max_lag_seconds: u64) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut warn = |node: Option<&str>, kind, message: String| {
        out.push(Warning {
            node: node.map(str::to_string),
            kind,
            message,
        })
    };
    let master_view = t.master.as_deref().and_then(|m| view.node(m));
    match master_view {
        None => warn(
            None,
            WarningKind::NoMaster,
            "no master could be identified".into(),
        ),
        Some(m) => match m.state() {
            None => warn(
                Some(&m.name),
                WarningKind::MasterUnreachable,
                format!(
                    "master {} is unreachable: {}",
                    m.name,
                    m.error().map(|e| e.to_string()).unwrap_or_default()
                ),
            ),
            Some(s) if !s.writable() => warn(
                Some(&m.name),
                WarningKind::MasterReadOnly,
                format!("master {} is read-only: clients cannot write", m.name),
            ),
            Some(_) => {}
        },
    }
    let writable: Vec<&str> = view
        .nodes
        .iter()
        .filter(|n| n.state().is_some_and(|s| s.writable()))
        .map(|n| n.name.as_str())
        .collect();
    if writable.len() > 1 {
        warn(
            None,
            WarningKind::TwoWritable,
            format!(
                "{} are all writable: only the master should be",
                writable.join(", ")
            ),
        );
    }
    let master_state = master_view.and_then(|m| m.state());
    for n in &view.nodes {
        let name = n.name.as_str();
        if Some(name) == t.master.as_deref() {
            continue;
        }
        let Some(state) = n.state() else {
            warn(
                Some(name),
                WarningKind::Unreachable,
                format!(
                    "{name} is unreachable: {}",
                    n.error().map(|e| e.to_string()).unwrap_or_default()
                ),
            );
            continue;
        };
        match &state.replica {
            None => warn(
                Some(name),
                WarningKind::NotReplicatingFromMaster,
                format!("{name} does not replicate from anything"),
            ),
            Some(r) => {
                if let Some(problem) = r.problem() {
                    // An unreachable master explains a connecting IO thread.
                    let explained = master_view.is_some_and(|m| m.state().is_none())
                        && t.source[name].as_deref() == t.master.as_deref()
                        && r.sql_running;
                    if !explained {
                        warn(
                            Some(name),
                            WarningKind::ReplicationBroken,
                            format!("{name}: {problem}"),
                        );
                    }
                }
                if t.master.is_some() && !t.reaches_master(name) {
                    let from = match &t.source[name] {
                        Some(s) => format!("{s}, which does not replicate from the master"),
                        None => format!(
                            "{}:{}, which is not a node of this cluster",
                            r.source_host, r.source_port
                        ),
                    };
                    warn(
                        Some(name),
                        WarningKind::NotReplicatingFromMaster,
                        format!(
                            "{name} replicates from {from} ({})",
                            t.master.as_deref().unwrap_or("")
                        ),
                    );
                }
                if let Some(lag) = r.seconds_behind.filter(|l| *l > max_lag_seconds) {
                    warn(
                        Some(name),
                        WarningKind::Lagging,
                        format!("{name} is {lag} s behind its source (limit {max_lag_seconds} s)"),
                    );
                }
            }
        }
        if state.replica_channels > 1 {
            warn(
                Some(name),
                WarningKind::MultipleChannels,
                format!(
                    "{name} has {} replication channels; only the default one is managed",
                    state.replica_channels
                ),
            );
        }
        if let (Some(mine), Some(m)) = (state.gtid.executed.as_ref(), master_state) {
            let errant = m
                .gtid
                .executed
                .as_ref()
                .and_then(|theirs| mine.errant(theirs, m.server_uuid.as_deref(), m.server_id));
            if let Some(errant) = errant {
                warn(
                    Some(name),
                    WarningKind::ErrantTransactions,
                    format!("{name} has transactions the master does not: {errant}"),
                );
            }
        }
        if state.writable() && writable.len() <= 1 {
            warn(
                Some(name),
                WarningKind::ReplicaWritable,
                format!("{name} is a replica but writable"),
            );
        }
    }
    out
}

//! `vipkeeper status`: the cluster as a tree for people, and as a stable
//! JSON document (docs/status-json.md) for programs.

use std::fmt::Write as _;

use serde::Serialize;

use super::{ClusterView, NodeView, Role, Topology, Warning};
use crate::mysql::gtid::GtidSet;
use crate::mysql::replica_status::IoThread;
use crate::mysql::{DbError, NodeState};

/// Version of the JSON layout; bumped only on incompatible changes.
pub const STATUS_SCHEMA: u32 = 1;

/// The whole `status --json` document.
#[derive(Serialize)]
pub struct StatusDocument<'a> {
    pub schema: u32,
    pub clusters: Vec<ClusterStatus<'a>>,
}

#[derive(Serialize)]
pub struct ClusterStatus<'a> {
    pub cluster: &'a str,
    #[serde(serialize_with = "super::rfc3339")]
    pub taken_at: std::time::SystemTime,
    pub master: Option<&'a str>,
    pub nodes: Vec<NodeStatus<'a>>,
    pub warnings: &'a [Warning],
}

#[derive(Serialize)]
pub struct NodeStatus<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub role: Role,
    /// The cluster node it replicates from.
    pub source: Option<&'a str>,
    pub reachable: bool,
    pub probe_ms: f64,
    pub error: Option<&'a DbError>,
    pub state: Option<&'a NodeState>,
}

pub fn cluster_status<'a>(view: &'a ClusterView, t: &'a Topology) -> ClusterStatus<'a> {
    ClusterStatus {
        cluster: &view.cluster,
        taken_at: view.taken_at,
        master: t.master.as_deref(),
        nodes: view
            .nodes
            .iter()
            .map(|n| NodeStatus {
                name: &n.name,
                host: &n.host,
                port: n.port,
                role: t.role(&n.name),
                source: t.source.get(&n.name).and_then(|s| s.as_deref()),
                reachable: n.state().is_some(),
                probe_ms: n.probe.elapsed.as_secs_f64() * 1000.0,
                error: n.error(),
                state: n.state(),
            })
            .collect(),
        warnings: &t.warnings,
    }
}

/// The human form: a header, the replication tree from the master, nodes
/// outside the tree, then warnings.
pub fn render_text(view: &ClusterView, t: &Topology) -> String {
    let mut out = String::new();
    let flavor = view
        .nodes
        .iter()
        .find_map(|n| n.state())
        .map(|s| s.version.label())
        .unwrap_or_else(|| "no node reachable".into());
    let _ = writeln!(
        out,
        "cluster {} ({flavor}), master: {}",
        view.cluster,
        t.master.as_deref().unwrap_or("none")
    );
    let mut shown = Vec::new();
    if let Some(master) = t.master.as_deref().and_then(|m| view.node(m)) {
        tree(view, t, master, "", "", &mut out, &mut shown);
    }
    let others: Vec<&NodeView> = view
        .nodes
        .iter()
        .filter(|n| !shown.contains(&n.name))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(out, "not in the master's tree:");
        for n in others {
            let _ = writeln!(out, "  {}", line(n, t));
        }
    }
    if t.warnings.is_empty() {
        let _ = writeln!(out, "no warnings");
    } else {
        let _ = writeln!(out, "warnings:");
        for w in &t.warnings {
            let _ = writeln!(out, "  ! {}", w.message);
        }
    }
    out
}

fn tree(
    view: &ClusterView,
    t: &Topology,
    node: &NodeView,
    first: &str,
    rest: &str,
    out: &mut String,
    shown: &mut Vec<String>,
) {
    if shown.contains(&node.name) {
        return; // a replication cycle: print each node once
    }
    shown.push(node.name.clone());
    let _ = writeln!(out, "{first}{}", line(node, t));
    let children: Vec<&NodeView> = t.replicas_of(view, &node.name).collect();
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (branch, indent) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        tree(
            view,
            t,
            child,
            &format!("{rest}{branch}"),
            &format!("{rest}{indent}"),
            out,
            shown,
        );
    }
}

/// One node on one line: name, address, role, then what matters for its role.
fn line(n: &NodeView, t: &Topology) -> String {
    let role = t.role(&n.name).label();
    let mut s = format!("{}  {}  {role}", n.name, n.address());
    let Some(state) = n.state() else {
        let error = n.error().map(|e| e.to_string()).unwrap_or_default();
        let _ = write!(s, "  UNREACHABLE: {error}");
        return s;
    };
    let mode = if state.super_read_only {
        "super-read-only"
    } else if state.read_only {
        "read-only"
    } else {
        "writable"
    };
    let _ = write!(s, "  {mode}");
    if let Some(r) = &state.replica {
        let io = match r.io_thread {
            IoThread::Yes => "yes",
            IoThread::Connecting => "connecting",
            IoThread::No => "no",
        };
        let sql = if r.sql_running { "yes" } else { "no" };
        let _ = write!(s, "  io:{io} sql:{sql}");
        match r.seconds_behind {
            Some(lag) => {
                let _ = write!(s, " lag:{lag}s");
            }
            None => s.push_str(" lag:-"),
        }
        if let Some(recv) = &r.received {
            let _ = write!(s, "  recv {recv}");
        }
        if let Some(exec) = &r.executed {
            let _ = write!(s, "  exec {exec}");
        }
        if let Some(errno) = [r.last_sql_errno, r.last_io_errno]
            .into_iter()
            .find(|e| *e != 0)
        {
            let _ = write!(s, "  error {errno}");
        }
    } else if let Some(binlog) = &state.binlog {
        let _ = write!(s, "  binlog {binlog}");
    }
    if let Some(gtids) = &state.gtid.executed {
        let _ = write!(s, "  gtid {}", gtid_summary(gtids));
    }
    if state.semi_sync.source_active {
        let _ = write!(
            s,
            "  semi-sync:source({} acks)",
            state.semi_sync.source_clients
        );
    } else if state.semi_sync.replica_active {
        s.push_str("  semi-sync:replica");
    }
    s
}

/// A GTID set short enough for one line.
fn gtid_summary(set: &GtidSet) -> String {
    if set.is_empty() {
        return "(empty)".into();
    }
    let text = set.to_string();
    if text.chars().count() <= 72 {
        text
    } else {
        let head: String = text.chars().take(69).collect();
        format!("{head}…")
    }
}

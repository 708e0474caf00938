//! One step of a plan: what it does, its name in journals, whether its
//! failure stops the change.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// Make the old master refuse writes and drop its clients, if it can be reached.
    FenceOldMaster { node: String },
    /// Wait until `node` has applied everything it received.
    WaitApplied { node: String },
    /// Replicate `node` from `from` until it has all `from` has. `skip`:
    /// `from`'s own errant transactions (a MySQL GTID set), marked done
    /// (empty) on `node` first so that they are not copied.
    CatchUp {
        node: String,
        from: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skip: Option<String>,
    },
    /// Replay on `node` what the dead master `from`'s binlog holds beyond
    /// what `position_of` (still replicating from it) executed, fetched
    /// from `from`'s host agent.
    Salvage {
        node: String,
        from: String,
        position_of: String,
    },
    /// Stop and forget replication on the new master.
    Detach { node: String },
    /// Move the address applications use.
    MoveVip { from: String, to: String },
    /// Turn read_only (and super_read_only) off.
    MakeWritable { node: String },
    /// Replicate `node` from the new master, and check that it does.
    Repoint { node: String, to: String },
    /// Switchover: make the live master refuse writes, let its clients
    /// finish for a grace period, kill their connections, and record what
    /// it has written (its GTIDs and binlog position).
    StopWrites { node: String },
    /// Switchover: wait until `node` has applied all `master` wrote.
    WaitReached { node: String, master: String },
    /// Switchover: kill client connections still on the old master, now a
    /// replica, so that pooled clients reconnect through the VIP.
    DisconnectClients { node: String },
    /// Rollback: make `node` read-only and replicate from `to` again.
    Reattach { node: String, to: String },
    /// Stop replication on a replica that cannot be repointed, so that it
    /// never resumes from a returning old master.
    StopReplication { node: String },
    /// Before `node` forgets where it stood in the dead master's binlog:
    /// read from its relay log (through its host agent) what the
    /// file/position replicas `lagging` lack, and keep it for levelling them
    /// when the dead master's binlog cannot be read.
    ReadRelayLog { node: String, lagging: Vec<String> },
    /// A file/position replica (no GTIDs) that received less than the new
    /// master `to`: replay what it lacks up to where `to` stood — read from
    /// `to`'s relay log beforehand, or from the dead master `from`'s binlog
    /// (through its host agent) — then repoint it to `to`.
    Level {
        node: String,
        from: String,
        to: String,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::FenceOldMaster { node } => write!(
                f,
                "fence {node} if reachable (read-only, kill client connections)"
            ),
            Step::WaitApplied { node } => {
                write!(f, "wait until {node} has applied all it received")
            }
            Step::CatchUp {
                node,
                from,
                skip: None,
            } => write!(f, "catch {node} up from {from}"),
            Step::CatchUp {
                node,
                from,
                skip: Some(skip),
            } => write!(
                f,
                "catch {node} up from {from}, without {from}'s errant transactions {skip}"
            ),
            Step::Salvage {
                node,
                from,
                position_of,
            } => write!(
                f,
                "salvage onto {node} what {from}'s binlog holds beyond {position_of}"
            ),
            Step::Detach { node } => write!(f, "stop and reset replication on {node}"),
            Step::MoveVip { from, to } => write!(f, "move the VIP from {from} to {to}"),
            Step::MakeWritable { node } => write!(f, "make {node} writable"),
            Step::Repoint { node, to } => {
                write!(f, "repoint {node} to {to} and verify it replicates")
            }
            Step::StopWrites { node } => write!(
                f,
                "make {node} refuse writes (read-only), kill its client connections after a grace"
            ),
            Step::WaitReached { node, master } => {
                write!(f, "wait until {node} has applied all {master} wrote")
            }
            Step::DisconnectClients { node } => {
                write!(f, "disconnect the clients still on {node}")
            }
            Step::Reattach { node, to } => {
                write!(f, "make {node} read-only and replicate from {to} again")
            }
            Step::StopReplication { node } => {
                write!(f, "stop replication on {node}, which cannot be repointed")
            }
            Step::ReadRelayLog { node, lagging } => write!(
                f,
                "read what {} lack(s) from {node}'s relay log, for levelling",
                lagging.join(", ")
            ),
            Step::Level { node, from, to } => write!(
                f,
                "level {node} with {to} (from {to}'s relay log or {from}'s binlog), then repoint it to {to}"
            ),
        }
    }
}

impl Step {
    /// A short name for journals and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Step::FenceOldMaster { .. } => "fence-old-master",
            Step::WaitApplied { .. } => "wait-applied",
            Step::CatchUp { .. } => "catch-up",
            Step::Salvage { .. } => "salvage",
            Step::Detach { .. } => "detach",
            Step::MoveVip { .. } => "move-vip",
            Step::MakeWritable { .. } => "make-writable",
            Step::Repoint { .. } => "repoint",
            Step::StopWrites { .. } => "stop-writes",
            Step::WaitReached { .. } => "wait-reached",
            Step::DisconnectClients { .. } => "disconnect-clients",
            Step::Reattach { .. } => "reattach",
            Step::StopReplication { .. } => "stop-replication",
            Step::ReadRelayLog { .. } => "read-relay-log",
            Step::Level { .. } => "level",
        }
    }

    /// The node the step acts on (for a VIP move, where it goes).
    pub fn node(&self) -> &str {
        match self {
            Step::FenceOldMaster { node }
            | Step::WaitApplied { node }
            | Step::CatchUp { node, .. }
            | Step::Salvage { node, .. }
            | Step::ReadRelayLog { node, .. }
            | Step::Detach { node }
            | Step::MakeWritable { node }
            | Step::Repoint { node, .. }
            | Step::StopWrites { node }
            | Step::WaitReached { node, .. }
            | Step::DisconnectClients { node }
            | Step::Reattach { node, .. }
            | Step::StopReplication { node }
            | Step::Level { node, .. } => node,
            Step::MoveVip { to, .. } => to,
        }
    }

    /// Steps whose failure does not stop the failover.
    pub fn best_effort(&self) -> bool {
        matches!(
            self,
            Step::FenceOldMaster { .. }
                | Step::Salvage { .. }
                | Step::ReadRelayLog { .. }
                | Step::Repoint { .. }
                | Step::DisconnectClients { .. }
                | Step::StopReplication { .. }
                | Step::Level { .. }
        )
    }
}

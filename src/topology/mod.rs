//! The cluster at one instant: every node's probe (`ClusterView`) and the
//! roles and problems they imply (`Topology`). Both are plain data; only
//! `observe` touches the network.

mod derive;
pub mod hearing;
pub mod observe;
pub mod render;

#[cfg(test)]
mod tests;

use std::time::SystemTime;

use serde::Serialize;

use crate::mysql::{DbError, NodeState, Probe};

pub use derive::{Role, Topology, Warning, WarningKind};
pub use observe::observe;

/// One node as configured, and what its probe found.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub probe: Probe,
}

impl NodeView {
    pub fn state(&self) -> Option<&NodeState> {
        self.probe.result.as_ref().ok()
    }

    pub fn error(&self) -> Option<&DbError> {
        self.probe.result.as_ref().err()
    }

    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// All nodes of one cluster, probed together.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    pub cluster: String,
    #[serde(serialize_with = "rfc3339")]
    pub taken_at: SystemTime,
    pub nodes: Vec<NodeView>,
}

impl ClusterView {
    pub fn node(&self, name: &str) -> Option<&NodeView> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The nodes whose probe failed, by name.
    pub fn unreachable(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.state().is_none())
            .map(|n| n.name.clone())
            .collect()
    }
}

pub fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*t))
}

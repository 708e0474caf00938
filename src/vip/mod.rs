//! Moving the address applications use. One trait (`VipBackend`: where
//! does the VIP point now, move it to a node) and one file per backend,
//! chosen by the config's `[cluster.vip]` section and applied in its order.
//! `backend` is the one place that maps a backend's settings to its code.

pub mod aws_nlb;
pub mod aws_route53;
pub mod aws_route53_readers;
pub mod aws_route_table;
mod backend;
mod error;
mod linux_route;
pub mod local_address;
mod script;

#[cfg(test)]
mod tests;

use std::time::Duration;

use serde::Serialize;

use crate::config::{BackendConfig, ClusterConfig, NodeConfig, VipConfig};

pub use backend::{Site, VipBackend};
pub use error::{aws_failed, within, MoveFailed, VipError};

/// What one backend did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "detail", rename_all = "kebab-case")]
pub enum Moved {
    Done(String),
    /// It already pointed there: nothing was changed.
    AlreadyThere(String),
    /// This backend has nothing to do on this host.
    NotHere(String),
    /// Failed, but the configured contract says the failover may go on
    /// (a script's exit status 10).
    FailedProceed(String),
}

impl Moved {
    pub fn label(&self) -> &'static str {
        match self {
            Moved::Done(_) => "done",
            Moved::AlreadyThere(_) => "already-there",
            Moved::NotHere(_) => "not-here",
            Moved::FailedProceed(_) => "failed-proceed",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            Moved::Done(d)
            | Moved::AlreadyThere(d)
            | Moved::NotHere(d)
            | Moved::FailedProceed(d) => d,
        }
    }
}

/// Where one backend's VIP points now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub backend: &'static str,
    /// What the backend points at (a gateway, an interface, ...).
    pub target: String,
    /// The node that is, if known.
    pub node: Option<String>,
    /// No node here means clients reach no master (a route to nowhere),
    /// rather than that the backend cannot tell from this host.
    #[serde(skip)]
    pub no_node_is_wrong: bool,
}

/// The code for a backend's settings: the one place that knows them all.
pub fn backend(config: &BackendConfig) -> &dyn VipBackend {
    match config {
        BackendConfig::AwsRouteTable(c) => c,
        BackendConfig::LocalAddress(c) => c,
        BackendConfig::LinuxRoute(c) => c,
        BackendConfig::Script(c) => c,
        BackendConfig::AwsNlb(c) => c,
        BackendConfig::AwsRoute53(c) => c,
    }
}

/// The configured backends, in order.
pub fn backends(vip: &VipConfig) -> Vec<&dyn VipBackend> {
    vip.backends.iter().map(backend).collect()
}

/// Moves the VIP from `from` (if known) to `to` through every configured
/// backend, in order. Stops at the first backend that fails, naming it.
pub async fn move_vip(
    vip: &VipConfig,
    nodes: &[NodeConfig],
    from: Option<&NodeConfig>,
    to: &NodeConfig,
) -> Result<Vec<(&'static str, Moved)>, MoveFailed> {
    let site = Site {
        address: vip.address,
        nodes,
    };
    move_through(&backends(vip), site, from, to).await
}

/// Moves the address through `backends`, in order, after the longest
/// settle time any of them needs.
pub async fn move_through(
    backends: &[&dyn VipBackend],
    site: Site<'_>,
    from: Option<&NodeConfig>,
    to: &NodeConfig,
) -> Result<Vec<(&'static str, Moved)>, MoveFailed> {
    let settle = backends
        .iter()
        .map(|b| b.settle_time())
        .max()
        .unwrap_or(Duration::ZERO);
    if !settle.is_zero() {
        tokio::time::sleep(settle).await;
    }
    let mut done = Vec::new();
    for b in backends {
        let moved = b
            .move_to(site, from, to)
            .await
            .map_err(|error| MoveFailed {
                backend: b.name(),
                error,
            })?;
        done.push((b.name(), moved));
    }
    Ok(done)
}

/// Takes the VIP away from `from` through every configured backend: each
/// is tried whatever the others answered, and each answer is kept.
pub async fn withdraw_vip(
    vip: &VipConfig,
    nodes: &[NodeConfig],
    from: &NodeConfig,
) -> Vec<(&'static str, Result<Moved, VipError>)> {
    let site = Site {
        address: vip.address,
        nodes,
    };
    let mut out = Vec::new();
    for b in backends(vip) {
        out.push((b.name(), b.withdraw(site, from).await));
    }
    out
}

/// Where each backend's VIP points now.
pub async fn placements(cluster: &ClusterConfig) -> Vec<Result<Placement, String>> {
    let Some(vip) = &cluster.vip else {
        return Vec::new();
    };
    let site = Site {
        address: vip.address,
        nodes: &cluster.nodes,
    };
    status_of(&backends(vip), site).await
}

/// Every backend's status lines, in order, each error naming its backend.
pub async fn status_of(
    backends: &[&dyn VipBackend],
    site: Site<'_>,
) -> Vec<Result<Placement, String>> {
    let mut out = Vec::new();
    for b in backends {
        out.extend(
            b.status(site)
                .await
                .into_iter()
                .map(|p| p.map_err(|e| format!("VIP backend {}: {e}", b.name()))),
        );
    }
    out
}

/// The node whose host is `ip`, if any.
fn node_at<'a>(nodes: &'a [NodeConfig], ip: &str) -> Option<&'a NodeConfig> {
    nodes.iter().find(|n| n.host == ip)
}

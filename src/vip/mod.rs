//! Moving the address applications use. One small interface — where does
//! the VIP point now, move it to a node — and one file per backend, chosen
//! by the config's `[cluster.vip]` section and applied in its order.

pub mod aws_route_table;
mod linux_route;
mod local_address;
mod script;

use serde::Serialize;

use crate::config::{ClusterConfig, NodeConfig, VipBackend, VipConfig};

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
}

/// Moves the VIP from `from` (if known) to `to` through every configured
/// backend, in order. Stops at the first backend that fails, naming it.
pub async fn move_vip(
    vip: &VipConfig,
    nodes: &[NodeConfig],
    from: Option<&NodeConfig>,
    to: &NodeConfig,
) -> Result<Vec<(&'static str, Moved)>, String> {
    let mut done = Vec::new();
    for backend in &vip.backends {
        let moved = match backend {
            VipBackend::Script { command, timeout } => {
                script::run(command, *timeout, vip, from, to).await
            }
            VipBackend::LinuxRoute { table } => {
                linux_route::point(vip.address, *table, nodes, to).await
            }
            VipBackend::LocalAddress { interface } => {
                local_address::hold(vip.address, interface, from, to).await
            }
            b @ VipBackend::AwsRouteTable { .. } => {
                match aws_route_table::Settings::from_backend(b) {
                    Some(s) => aws_route_table::point(vip.address, &s, to).await,
                    None => Err(not_built(b)),
                }
            }
            other => Err(not_built(other)),
        }
        .map_err(|e| format!("VIP backend {}: {e}", backend.name()))?;
        done.push((backend.name(), moved));
    }
    Ok(done)
}

/// Where each backend's VIP points now.
pub async fn placements(cluster: &ClusterConfig) -> Vec<Result<Placement, String>> {
    let Some(vip) = &cluster.vip else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for backend in &vip.backends {
        // One line per route table.
        if let Some(s) = aws_route_table::Settings::from_backend(backend) {
            match aws_route_table::placements(vip.address, &s, &cluster.nodes).await {
                Ok(tables) => out.extend(
                    tables
                        .into_iter()
                        .map(|t| t.map_err(|e| format!("VIP backend aws-route-table: {e}"))),
                ),
                Err(e) => out.push(Err(format!("VIP backend aws-route-table: {e}"))),
            }
            continue;
        }
        let p = match backend {
            VipBackend::LinuxRoute { table } => {
                linux_route::placement(vip.address, *table, &cluster.nodes).await
            }
            VipBackend::LocalAddress { interface } => {
                local_address::placement(vip.address, interface, &cluster.nodes).await
            }
            VipBackend::Script { command, .. } => Ok(Placement {
                backend: "script",
                target: format!("unknown: {command} cannot be asked"),
                node: None,
            }),
            other => Err(not_built(other)),
        };
        out.push(p.map_err(|e| format!("VIP backend {}: {e}", backend.name())));
    }
    out
}

fn not_built(b: &VipBackend) -> String {
    format!(
        "`{}` is not available in this version of vipkeeper yet; use aws-route-table, script, linux-route or local-address",
        b.name()
    )
}

/// The node whose host is `ip`, if any.
fn node_at<'a>(nodes: &'a [NodeConfig], ip: &str) -> Option<&'a NodeConfig> {
    nodes.iter().find(|n| n.host == ip)
}

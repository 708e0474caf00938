//! `vipkeeper agent --local-node NAME`: the duties of a database host. It
//! follows the cluster and holds the VIP on the local interface exactly
//! while NAME is the writable master — so the host accepts the VIP's
//! packets once the route points at it, and never while it is not master.

use std::time::Duration;

use crate::config::{ClusterConfig, VipBackend};
use crate::netlink::Netlink;
use crate::topology::{observe, Topology};

pub async fn run(cluster: ClusterConfig, node: String) {
    let Some(vip) = cluster.vip.clone() else {
        tracing::error!(cluster = %cluster.name, "no [cluster.vip] section: nothing for a host agent to do");
        return std::future::pending().await;
    };
    let interfaces: Vec<String> = vip
        .backends
        .iter()
        .filter_map(|b| match b {
            VipBackend::LocalAddress { interface } => Some(interface.clone()),
            _ => None,
        })
        .collect();
    if interfaces.is_empty() {
        tracing::warn!(cluster = %cluster.name, "local-address is not among the VIP backends: this host agent only watches");
    }
    tracing::info!(cluster = %cluster.name, "host agent for {node}: holding {} on {} while {node} is the master", vip.address, interfaces.join(", "));
    let mut held: Option<bool> = None;
    loop {
        let started = tokio::time::Instant::now();
        let view = observe(&cluster).await;
        let t = Topology::derive(&view, cluster.failover.max_lag.as_secs());
        let master_here = t.master.as_deref() == Some(node.as_str())
            && view
                .node(&node)
                .and_then(|n| n.state())
                .is_some_and(|s| s.writable());
        // Unknown (this node unreachable to itself): keep what we have.
        let reachable_here = view.node(&node).is_some_and(|n| n.state().is_some());
        if (reachable_here || !master_here) && held != Some(master_here) {
            match hold(&interfaces, vip.address, master_here).await {
                Ok(()) => {
                    tracing::info!(
                        cluster = %cluster.name,
                        "{node} {} the master: VIP {} {} {}",
                        if master_here { "is" } else { "is not" },
                        vip.address,
                        if master_here { "held on" } else { "released from" },
                        interfaces.join(", ")
                    );
                    held = Some(master_here);
                }
                Err(e) => {
                    tracing::error!(cluster = %cluster.name, "cannot change the VIP on this host: {e}")
                }
            }
        }
        tokio::time::sleep_until(
            started + cluster.timing.probe_interval.min(Duration::from_secs(1)),
        )
        .await;
    }
}

async fn hold(interfaces: &[String], vip: std::net::Ipv4Addr, on: bool) -> Result<(), String> {
    let nl = Netlink::connect().map_err(|e| e.to_string())?;
    for i in interfaces {
        if on {
            nl.add_address(i, vip, 32)
                .await
                .map_err(|e| e.to_string())?;
        } else {
            nl.remove_address(i, vip, 32)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

//! `vipkeeper agent --local-node NAME`: the duties of a database host. It
//! holds the VIP on the local interface exactly while NAME is (becoming)
//! the master, so that the host accepts the VIP's packets by the time the
//! route points at it.
//!
//! "Becoming the master" is seen on the node itself: it replicates from
//! nobody (a failover detaches the candidate before it moves the route) and
//! no other node is a writable master with replicas. The node is watched
//! every 20 ms over one held connection; the whole cluster every
//! `probe_interval`. When the local mysqld dies, the VIP stays until another
//! master exists, so that clients routed here are refused at once rather
//! than left waiting.

use std::time::Duration;

use crate::config::{BackendConfig, ClusterConfig, NodeConfig};
use crate::mysql::flavor::ServerVersion;
use crate::mysql::probe::read_state;
use crate::mysql::Session;
use crate::netlink::Netlink;
use crate::topology::observe::target;
use crate::topology::{observe, Topology};
use crate::vip::local_address::LOCAL_POLL;

use super::board::{Board, Entry};

/// Holds the VIP on this host while `node` is the master, until `stop`
/// turns true. The VIP stays as it is when the agent stops: the master
/// goes on serving.
pub async fn run(
    cluster: ClusterConfig,
    node: String,
    board: Board,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(vip) = cluster.vip.clone() else {
        tracing::error!(cluster = %cluster.name, "no [cluster.vip] section: nothing for a host agent to do");
        loop {
            board.put(
                &cluster.name,
                Entry::host(&node, cluster.timing.probe_interval),
            );
            tokio::select! {
                _ = tokio::time::sleep(cluster.timing.probe_interval) => {}
                _ = stop.changed() => return,
            }
        }
    };
    let interfaces: Vec<String> = vip
        .backends
        .iter()
        .filter_map(|b| match b {
            BackendConfig::LocalAddress(l) => Some(l.interface.clone()),
            _ => None,
        })
        .collect();
    if interfaces.is_empty() {
        tracing::warn!(cluster = %cluster.name, "local-address is not among the VIP backends: this host agent only watches");
    }
    let me = cluster.node(&node).cloned().expect("checked by the caller");
    tracing::info!(cluster = %cluster.name, "host agent for {node}: holding {} on {} while {node} is the master", vip.address, interfaces.join(", "));
    let mut held: Option<bool> = None;
    let mut other_master = false;
    let mut last_full = tokio::time::Instant::now() - cluster.timing.probe_interval;
    let mut session: Option<(Session, ServerVersion)> = None;
    loop {
        let started = tokio::time::Instant::now();
        let own = replicates(&cluster, &me, &mut session).await;
        let detached = own == Some(false);
        // Detached while the last look saw another master: look again now
        // (a failover detaches the candidate just before moving the route).
        let stale = detached && other_master && started - last_full >= Duration::from_millis(100);
        if stale || started - last_full >= cluster.timing.probe_interval {
            let view = observe(&cluster).await;
            let t = Topology::derive(&view, cluster.failover.max_lag.as_secs());
            other_master = t.master.as_deref().is_some_and(|m| m != node)
                && t.master
                    .as_deref()
                    .and_then(|m| view.node(m))
                    .and_then(|n| n.state())
                    .is_some_and(|s| s.writable());
            last_full = started;
        }
        let master_here = match &own {
            Some(_) => detached && !other_master,
            // Our mysqld is gone: keep the VIP until another master exists.
            // Released now, packets still routed here would be dropped
            // silently (clients wait out TCP timeouts) instead of refused.
            None => held.unwrap_or(false) && !other_master,
        };
        if held != Some(master_here) && cluster.observe_only {
            tracing::info!(
                cluster = %cluster.name,
                "observe-only: {node} {} the master: would {} VIP {} on {}",
                if master_here { "is" } else { "is not" },
                if master_here { "hold" } else { "release" },
                vip.address,
                interfaces.join(", ")
            );
            held = Some(master_here);
        } else if held != Some(master_here) {
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
        board.put(
            &cluster.name,
            Entry::host(&node, cluster.timing.probe_interval),
        );
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + LOCAL_POLL) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Whether the node replicates from a source, over a held connection;
/// `None` when it cannot be read. One light statement per look: this runs
/// every LOCAL_POLL on the database host itself.
async fn replicates(
    cluster: &ClusterConfig,
    me: &NodeConfig,
    session: &mut Option<(Session, ServerVersion)>,
) -> Option<bool> {
    if session.is_none() {
        let t = target(cluster, &me.host, me.port, &cluster.users.monitor);
        let mut s = Session::connect(&t).await.ok()?;
        let version = read_state(&mut s).await.ok()?.version;
        *session = Some((s, version));
    }
    let (s, version) = session.as_mut()?;
    match s.first(version.replica_status_sql()).await {
        Ok(row) => Some(row.is_some()),
        Err(_) => {
            *session = None;
            None
        }
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

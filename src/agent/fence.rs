//! A node writable *beside* the current master — an old master that came
//! back, a replica someone made writable — is made read-only, and its
//! clients are disconnected. Never the current master itself: which node
//! that is comes from what clients use (the VIP, where a backend can say),
//! then the master this manager's last change made, then the replication
//! tree; when those disagree nothing is fenced and the conflict is logged.
//! Fencing is an action like a failover: it takes the cluster lock (so it
//! never runs while a failover or switchover does, from any host), then
//! decides again on a fresh view.

use crate::config::ClusterConfig;
use crate::execute::ClusterLock;
use crate::mysql::{admin, Session};
use crate::state::ClusterState;
use crate::topology::observe::target;
use crate::topology::{observe, ClusterView, Topology};

/// What to do about writable nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// At most one node is writable.
    Nothing,
    /// `master` is the master; `fence` are writable beside it.
    Fence { master: String, fence: Vec<String> },
    /// Several nodes are writable and which one is the master cannot be told.
    Unclear { writable: Vec<String>, why: String },
}

/// Pure: who is writable beside whom. `vip_node` is the node every VIP
/// backend that can say points at; `recorded` the master this manager's
/// last change made.
pub fn decide(
    view: &ClusterView,
    topology: &Topology,
    vip_node: Option<&str>,
    recorded: Option<&str>,
) -> Decision {
    let writable: Vec<String> = view
        .nodes
        .iter()
        .filter(|n| n.state().is_some_and(|s| s.writable()))
        .map(|n| n.name.clone())
        .collect();
    if writable.len() < 2 {
        return Decision::Nothing;
    }
    let is_writable = |n: &&str| writable.iter().any(|w| w == n);
    let tree = topology.master.as_deref().filter(is_writable);
    let recorded = recorded.filter(is_writable);
    let master = match (vip_node.filter(is_writable), recorded, tree) {
        (Some(v), _, _) => Some(v),
        (None, Some(r), Some(t)) if r != t => None,
        (None, Some(r), _) => Some(r),
        (None, None, t) => t,
    };
    match master {
        Some(m) => Decision::Fence {
            master: m.to_string(),
            fence: writable.iter().filter(|w| *w != m).cloned().collect(),
        },
        None => Decision::Unclear {
            why: match (recorded, tree) {
                (Some(r), Some(t)) => {
                    format!("this manager made {r} the master, but {t} heads the replication tree")
                }
                _ => "no node heads the replication tree and no VIP backend names one".into(),
            },
            writable,
        },
    }
}

/// Fences what `decide` says, under the cluster lock and on a fresh look
/// (observe-only: says whom it would fence). Returns a sentence to log, if
/// anything happened or was found.
pub async fn fence_beside_master(
    cluster: &ClusterConfig,
    state: &ClusterState,
    view: &ClusterView,
    topology: &Topology,
) -> Option<String> {
    let recorded = state.master_record().map(|r| r.master);
    if decide(view, topology, None, recorded.as_deref()) == Decision::Nothing {
        return None;
    }
    if cluster.observe_only {
        return would_fence(cluster, view, topology, recorded.as_deref()).await;
    }
    // This host's failovers and switchovers hold the lock file; other
    // hosts' hold the cluster lock.
    let Ok(_file) = state.lock() else {
        return None;
    };
    let mut lock = match ClusterLock::acquire(cluster, &[], &[], "fencing").await {
        Ok(l) => l,
        Err(e) => {
            tracing::info!(cluster = %cluster.name, "not fencing now: {e}");
            return None;
        }
    };
    let view = observe(cluster).await;
    let topology = Topology::derive(&view, cluster.failover.max_lag.as_secs());
    let vip = vip_node(cluster).await;
    let said = match decide(&view, &topology, vip.as_deref(), recorded.as_deref()) {
        Decision::Nothing => None,
        Decision::Unclear { writable, why } => Some(format!(
            "{} are all writable and the master cannot be told ({why}): fencing nothing; make the node that is not the master read-only by hand",
            writable.join(", ")
        )),
        Decision::Fence { master, fence } => {
            let mut out = Vec::new();
            for node in fence {
                out.push(match fence_node(cluster, &view, &node).await {
                    Ok(killed) => format!(
                        "{node} was writable beside the master {master}: fenced it read-only and killed {killed} client connection(s)"
                    ),
                    Err(e) => format!(
                        "{node} is writable beside the master {master}, and fencing it failed: {e}"
                    ),
                });
            }
            Some(out.join("; "))
        }
    };
    lock.release().await;
    said
}

/// Observe-only: what `fence_beside_master` would do, changing nothing.
async fn would_fence(
    cluster: &ClusterConfig,
    view: &ClusterView,
    topology: &Topology,
    recorded: Option<&str>,
) -> Option<String> {
    let vip = vip_node(cluster).await;
    match decide(view, topology, vip.as_deref(), recorded) {
        Decision::Nothing => None,
        Decision::Unclear { writable, why } => Some(format!(
            "observe-only: {} are all writable and the master cannot be told ({why})",
            writable.join(", ")
        )),
        Decision::Fence { master, fence } => Some(format!(
            "observe-only: {} writable beside the master {master}: would fence (read-only, clients killed)",
            fence.join(", ")
        )),
    }
}

/// The node every VIP backend that can tell points at, if they agree.
async fn vip_node(cluster: &ClusterConfig) -> Option<String> {
    let budget = cluster.timing.connect_timeout + cluster.timing.query_timeout;
    let placements = tokio::time::timeout(budget, crate::vip::placements(cluster))
        .await
        .ok()?;
    let mut named = placements
        .into_iter()
        .filter_map(|p| p.ok()?.node)
        .collect::<Vec<_>>();
    named.dedup();
    match named.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

async fn fence_node(
    cluster: &ClusterConfig,
    view: &ClusterView,
    node: &str,
) -> Result<usize, crate::mysql::DbError> {
    let (Some(n), Some(state)) = (cluster.node(node), view.node(node).and_then(|v| v.state()))
    else {
        return Ok(0);
    };
    let mut t = target(cluster, &n.host, n.port, &cluster.users.admin);
    t.query_timeout = cluster.failover.statement_timeout;
    let mut s = Session::connect(&t).await?;
    admin::set_read_only(&mut s, &state.version, true).await?;
    let killed = admin::kill_client_connections(&mut s, &cluster.own_users()).await?;
    // Not the master: no semi-sync source role (see execute/replication.rs).
    if state.semi_sync.source_enabled {
        if let Err(e) = admin::set_semi_sync_source(&mut s, &state.version, false).await {
            tracing::warn!(cluster = %cluster.name, "cannot turn the semi-sync source side off on {node}: {e}");
        }
    }
    s.close().await;
    Ok(killed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;

    fn writable(n: u32, source: Option<u32>) -> crate::mysql::NodeState {
        state(n, true, source)
    }

    #[test]
    fn the_master_is_never_fenced() {
        // db2 promoted, db3 follows it; db1 came back writable.
        let v = view(vec![
            node(1, Ok(writable(1, None))),
            node(2, Ok(writable(2, None))),
            node(3, Ok(state(3, false, Some(2)))),
        ]);
        let t = Topology::derive(&v, 30);
        let fence_db1 = Decision::Fence {
            master: "db2".into(),
            fence: vec!["db1".into()],
        };
        assert_eq!(decide(&v, &t, None, None), fence_db1);
        assert_eq!(decide(&v, &t, None, Some("db2")), fence_db1);
        assert_eq!(decide(&v, &t, Some("db2"), Some("db1")), fence_db1);
        // The record and the tree disagree, no VIP says: fence nobody.
        assert!(matches!(
            decide(&v, &t, None, Some("db1")),
            Decision::Unclear { .. }
        ));
    }

    #[test]
    fn one_writable_node_is_nothing_to_do() {
        let v = view(vec![
            node(1, Err(refused())),
            node(2, Ok(writable(2, None))),
            node(3, Ok(state(3, false, Some(2)))),
        ]);
        let t = Topology::derive(&v, 30);
        assert_eq!(decide(&v, &t, None, Some("db1")), Decision::Nothing);
    }

    #[test]
    fn two_writable_roots_need_a_record_or_the_vip() {
        let v = view(vec![
            node(1, Ok(writable(1, None))),
            node(2, Ok(writable(2, None))),
        ]);
        let t = Topology::derive(&v, 30);
        assert!(matches!(
            decide(&v, &t, None, None),
            Decision::Unclear { .. }
        ));
        assert_eq!(
            decide(&v, &t, None, Some("db2")),
            Decision::Fence {
                master: "db2".into(),
                fence: vec!["db1".into()]
            }
        );
    }
}

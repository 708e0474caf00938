//! Probing every node of a cluster at once.

use std::time::SystemTime;

use super::{ClusterView, NodeView};
use crate::config::{ClusterConfig, Credentials};
use crate::mysql::{probe, Target};

/// Connection target for `node` as `user`, with the cluster's timeouts.
pub fn target(cluster: &ClusterConfig, host: &str, port: u16, user: &Credentials) -> Target {
    Target {
        host: host.to_string(),
        port,
        user: user.user.clone(),
        password: user.password.clone(),
        connect_timeout: cluster.timing.connect_timeout,
        query_timeout: cluster.timing.query_timeout,
        tls: cluster.tls.clone(),
    }
}

/// Probes all nodes in parallel with the monitor user. Takes as long as the
/// slowest probe, which is bounded by connect_timeout + query_timeout.
pub async fn observe(cluster: &ClusterConfig) -> ClusterView {
    let taken_at = SystemTime::now();
    let probes = cluster.nodes.iter().map(|n| {
        let t = target(cluster, &n.host, n.port, &cluster.users.monitor);
        async move { probe(&t).await }
    });
    let results = futures::future::join_all(probes).await;
    ClusterView {
        cluster: cluster.name.clone(),
        taken_at,
        nodes: cluster
            .nodes
            .iter()
            .zip(results)
            .map(|(n, probe)| NodeView {
                name: n.name.clone(),
                host: n.host.clone(),
                port: n.port,
                probe,
            })
            .collect(),
    }
}

/// `view` with `names` probed again (in parallel); the other nodes as they
/// were.
pub async fn reobserve(
    cluster: &ClusterConfig,
    mut view: ClusterView,
    names: &[String],
) -> ClusterView {
    let probes = view
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| names.contains(&n.name))
        .map(|(i, n)| {
            let t = target(cluster, &n.host, n.port, &cluster.users.monitor);
            async move { (i, probe(&t).await) }
        })
        .collect::<Vec<_>>();
    for (i, probe) in futures::future::join_all(probes).await {
        view.nodes[i].probe = probe;
    }
    view
}

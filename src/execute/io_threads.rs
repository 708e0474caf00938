//! Fresh evidence about a silent master: its replicas' IO threads are
//! restarted, under the cluster lock like every other action.

use super::cluster_lock::ClusterLock;
use crate::config::ClusterConfig;
use crate::mysql::{admin, Session};
use crate::topology::observe::target;
use crate::topology::ClusterView;

/// Asks replicas that still claim a connection to a silent master to
/// reconnect, all at once: a fresh attempt tells whether the master answers
/// from there. (STOP of an IO thread blocked on a hung connection can take
/// seconds, so never one after another.) An action on replicas like any
/// other: under the cluster lock, so that it never restarts a thread a
/// switchover or failover has just stopped.
pub async fn restart_io_threads(cluster: &ClusterConfig, view: &ClusterView, stale: &[String]) {
    let down = view.unreachable();
    let mut lock = match ClusterLock::acquire(cluster, &down, stale, "IO-thread restart").await {
        Ok(l) => l,
        Err(e) => {
            tracing::info!(cluster = %cluster.name, "not restarting IO threads now: {e}");
            return;
        }
    };
    futures::future::join_all(
        stale
            .iter()
            .map(|name| restart_io_thread(cluster, view, name)),
    )
    .await;
    lock.release().await;
}

async fn restart_io_thread(cluster: &ClusterConfig, view: &ClusterView, name: &str) {
    let (Some(n), Some(state)) = (cluster.node(name), view.node(name).and_then(|v| v.state()))
    else {
        return;
    };
    let mut t = target(cluster, &n.host, n.port, &cluster.users.admin);
    t.query_timeout = cluster.failover.statement_timeout;
    let result = async {
        let mut s = Session::connect(&t).await?;
        let r = admin::restart_io_thread(&mut s, &state.version).await;
        s.close().await;
        r
    }
    .await;
    match result {
        Ok(()) => {
            tracing::warn!(cluster = %cluster.name, "restarted the IO thread of {name} to see whether the master answers it")
        }
        Err(e) => {
            tracing::error!(cluster = %cluster.name, "cannot restart the IO thread of {name}: {e}")
        }
    }
}

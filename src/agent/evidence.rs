//! Fresh evidence from a silent master's replicas: once their IO threads
//! are restarted, each tries to connect to the master afresh. A healthy
//! master takes a replica back within milliseconds; one that none of them
//! can reach within the grace is dead from where they stand too (the
//! analysis then confirms the death after a single failed probe). Reading
//! them again in the same round, rather than a probe interval later, is
//! what keeps a black-holed master's failover within a few seconds.

use std::time::{Duration, Instant};

use crate::config::ClusterConfig;
use crate::mysql::replica_status::IoThread;
use crate::topology::observe::reobserve;
use crate::topology::ClusterView;

/// How often the restarted replicas are read during the grace.
const EVERY: Duration = Duration::from_millis(50);

/// How long the restarted replicas get to connect again: half the
/// manager's own connect timeout (a replica's connect to the master is the
/// same kind of connect, on the same network), and never less than
/// `MIN_GRACE` — a connect, a login and a binlog request take milliseconds
/// on a LAN, and a busy replica must not pass for one that cannot connect.
pub fn grace(cluster: &ClusterConfig) -> Duration {
    (cluster.timing.connect_timeout / 2).max(MIN_GRACE)
}

const MIN_GRACE: Duration = Duration::from_millis(500);

/// `view` with `restarted` read again until one of them is connected to
/// its master again (the master answers it) or the grace has passed.
pub async fn after_restart(
    cluster: &ClusterConfig,
    mut view: ClusterView,
    restarted: &[String],
) -> ClusterView {
    let until = Instant::now() + grace(cluster);
    loop {
        tokio::time::sleep(EVERY).await;
        view = reobserve(cluster, view, restarted).await;
        let reconnected = restarted.iter().any(|r| {
            view.node(r)
                .and_then(|n| n.state())
                .and_then(|s| s.replica.as_ref())
                .is_some_and(|x| x.io_thread == IoThread::Yes)
        });
        if reconnected || Instant::now() >= until {
            return view;
        }
    }
}

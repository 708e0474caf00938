//! With several managers, a failover's steps are checked against this
//! manager's lease and recorded in etcd one by one (`execute::Ledger`), so
//! that the cluster's next leader can finish a failover this manager could
//! not (docs/HA.md).

use std::time::Duration;

use futures::future::BoxFuture;

use crate::coord::Coordinator;
use crate::execute::{Ledger, Progress};

pub struct EtcdLedger<'a> {
    coord: &'a Coordinator,
    cluster: &'a str,
    /// Finishing another manager's failover: what it recorded.
    resumed: Option<Progress>,
}

impl<'a> EtcdLedger<'a> {
    pub fn new(coord: &'a Coordinator, cluster: &'a str, resumed: Option<Progress>) -> Self {
        Self {
            coord,
            cluster,
            resumed,
        }
    }

    /// The lease must outlive a step's statements by this much when the
    /// step starts, and a step in progress is abandoned when it no longer
    /// does: a third of the TTL, one keep-alive period (a lease renewed on
    /// time never gets there).
    fn margin(&self) -> Duration {
        self.coord.lease_ttl() / 3
    }
}

impl Ledger for EtcdLedger<'_> {
    fn resumed(&self) -> Option<&Progress> {
        self.resumed.as_ref()
    }

    fn may_act(&self) -> Result<(), String> {
        if self.coord.covers(self.margin()) {
            Ok(())
        } else {
            Err(format!(
                "the lease of manager {} is not sure to outlive the step ({} ms left)",
                self.coord.name(),
                self.coord.lease_left().as_millis()
            ))
        }
    }

    fn lost(&self) -> BoxFuture<'_, String> {
        Box::pin(self.coord.until_uncovered(self.margin()))
    }

    fn record<'b>(&'b mut self, progress: &'b Progress) -> BoxFuture<'b, Result<(), String>> {
        Box::pin(async move {
            let mut p = progress.clone();
            p.manager = self.coord.name().to_string();
            let text = serde_json::to_string(&p).expect("progress serializes");
            self.coord.write_failover_record(self.cluster, text).await
        })
    }
}

/// The cluster's change record in etcd, read back.
pub async fn read(coord: &Coordinator, cluster: &str) -> Result<Option<Progress>, String> {
    match coord.failover_record(cluster).await? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            format!("the failover record of cluster {cluster} in etcd cannot be read: {e}")
        }),
    }
}

/// What a new leader found of the cluster's last change.
pub enum InFlight {
    /// Nothing left in flight.
    Nothing,
    /// The record cannot be read: act on nothing until it can.
    Unknown(String),
    /// A failover was left in flight; this is how finishing it went.
    Finished(Box<crate::execute::Report>),
}

/// Finishes the failover an earlier leader (or this manager, cut short)
/// left in flight, if any.
pub async fn finish_in_flight(
    agent: &crate::config::AgentConfig,
    cluster: &crate::config::ClusterConfig,
    view: &crate::topology::ClusterView,
    coord: &Coordinator,
) -> InFlight {
    match read(coord, &cluster.name).await {
        Err(why) => InFlight::Unknown(why),
        Ok(Some(p)) if p.in_flight() => {
            let mut ledger = EtcdLedger::new(coord, &cluster.name, Some(p));
            match crate::failover::resume(agent, cluster, view, &mut ledger).await {
                Some(report) => InFlight::Finished(Box::new(report)),
                None => InFlight::Nothing,
            }
        }
        Ok(_) => InFlight::Nothing,
    }
}

/// The last failover, if it blocks another automatic one: from etcd with
/// several managers, else from the state directory.
pub async fn blocking(
    coord: Option<&Coordinator>,
    state: &crate::state::ClusterState,
    cluster: &crate::config::ClusterConfig,
) -> Result<Option<crate::state::LastFailover>, String> {
    let now = std::time::SystemTime::now();
    let period = cluster.failover.block_period;
    match coord {
        None => Ok(state.blocking(period, now)),
        Some(c) => Ok(read(c, &cluster.name)
            .await?
            .and_then(|p| p.last_failover())
            .filter(|last| last.blocks(period, now))),
    }
}

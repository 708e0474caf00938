//! A failover's steps are recorded one by one (`execute::Ledger`) so that
//! a failover a manager could not finish is finished by the next: with
//! several managers, in etcd and checked against this manager's lease (the
//! cluster's next leader finishes it, docs/HA.md); a lone manager, in its
//! state directory (the same manager, restarted, finishes it).

use std::time::Duration;

use futures::future::BoxFuture;

use crate::coord::Coordinator;
use crate::execute::{Ledger, Progress};
use crate::state::ClusterState;

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

/// A lone manager's record of its failover, in the cluster's state
/// directory: what etcd holds with several managers.
pub struct FileLedger<'a> {
    state: &'a ClusterState,
    /// Finishing the failover this manager was killed in: what it recorded.
    resumed: Option<Progress>,
}

impl<'a> FileLedger<'a> {
    pub fn new(state: &'a ClusterState, resumed: Option<Progress>) -> Self {
        Self { state, resumed }
    }
}

impl Ledger for FileLedger<'_> {
    fn resumed(&self) -> Option<&Progress> {
        self.resumed.as_ref()
    }

    fn record<'b>(&'b mut self, progress: &'b Progress) -> BoxFuture<'b, Result<(), String>> {
        Box::pin(async move {
            let json = serde_json::to_vec_pretty(progress).expect("progress serializes");
            self.state.record_in_flight(&json).map_err(|e| {
                format!(
                    "cannot record the failover in {}: {e}",
                    self.state.dir().display()
                )
            })
        })
    }
}

/// The cluster's change record in etcd, read back.
pub async fn read(coord: &Coordinator, cluster: &str) -> Result<Option<Progress>, String> {
    match coord.failover_record(cluster).await? {
        None => Ok(None),
        Some(text) => parse(
            &text,
            &format!("the failover record of cluster {cluster} in etcd"),
        ),
    }
}

/// A lone manager's record of its last failover, read back.
fn read_local(state: &ClusterState) -> Result<Option<Progress>, String> {
    match state.in_flight()? {
        None => Ok(None),
        Some(text) => parse(
            &text,
            &format!("the failover record in {}", state.dir().display()),
        ),
    }
}

fn parse(text: &str, what: &str) -> Result<Option<Progress>, String> {
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| format!("{what} cannot be read: {e}"))
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

/// Finishes the failover an earlier leader (or this manager, cut short or
/// killed and restarted) left in flight, if any: read from etcd with
/// several managers, else from the state directory.
pub async fn finish_in_flight(
    agent: &crate::config::AgentConfig,
    cluster: &crate::config::ClusterConfig,
    view: &crate::topology::ClusterView,
    coord: Option<&Coordinator>,
    state: &ClusterState,
) -> InFlight {
    let record = match coord {
        Some(c) => read(c, &cluster.name).await,
        None => read_local(state),
    };
    let p = match record {
        Err(why) => return InFlight::Unknown(why),
        Ok(Some(p)) if p.in_flight() => p,
        Ok(_) => return InFlight::Nothing,
    };
    let (mut in_etcd, mut in_file);
    let ledger: &mut dyn Ledger = match coord {
        Some(c) => {
            in_etcd = EtcdLedger::new(c, &cluster.name, Some(p));
            &mut in_etcd
        }
        None => {
            in_file = FileLedger::new(state, Some(p));
            &mut in_file
        }
    };
    match crate::failover::resume(agent, cluster, view, ledger).await {
        Some(report) => InFlight::Finished(Box::new(report)),
        None => InFlight::Nothing,
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

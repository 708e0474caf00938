//! Fresh evidence from a silent master's replicas, gathered in the round
//! that found the master silent. Replicas that moved since the last tick
//! are read again a moment later: a master that went silent mid-tick left
//! them with what it wrote before (and replicas that heard from it within
//! two heartbeat periods, once two periods have passed). Replicas connected
//! but silent, with no heartbeats to tell, have their IO threads restarted:
//! each tries to connect to the master afresh.
//! A healthy master takes a replica back within milliseconds; one that
//! none of them can reach within the grace is dead from where they stand
//! too (the analysis then confirms the death after a single failed probe).
//! Reading them again in the same round, rather than a probe interval
//! later, is what keeps a black-holed master's failover within a few
//! seconds.

use std::time::{Duration, Instant};

use crate::analysis::Analysis;
use crate::config::ClusterConfig;
use crate::execute::restart_io_threads;
use crate::mysql::replica_status::{Heard, IoThread};
use crate::topology::hearing::Hearing;
use crate::topology::observe::reobserve;
use crate::topology::{ClusterView, Topology};

/// A round's view and what was made of it.
type Looked = (ClusterView, Topology, Analysis);

impl super::ClusterLoop {
    /// Fresh evidence in this round rather than after more probe
    /// timeouts, when the master is silent: replicas that moved since the
    /// last tick are read again a moment later (they may only have
    /// received what the master wrote before it went silent), and stale
    /// replicas' IO threads are restarted at once and read again within a
    /// short grace. Returns the round's final view and analysis, and the
    /// replicas restarted (with their master).
    pub(super) async fn gather_evidence(
        &mut self,
        view: ClusterView,
        topology: Topology,
        analysis: Analysis,
        acting: bool,
    ) -> (
        ClusterView,
        Topology,
        Analysis,
        Option<(String, Vec<String>)>,
    ) {
        let (mut view, mut topology, mut analysis): Looked = (view, topology, analysis);
        if let Some(receiving) = self.moved_before_the_first_miss(&view, &analysis, acting) {
            let before = self.history.received_as_in(&view);
            view = a_moment_later(&self.cluster, &mut self.hearing, view, &receiving).await;
            (topology, analysis) = self.analyze_with(&view, &before);
            self.say(&analysis);
        }
        let restarted = self.to_restart(&analysis, acting);
        if let Some((master, stale)) = &restarted {
            if self.cluster.observe_only {
                tracing::info!(cluster = %self.cluster.name, "observe-only: would restart the IO threads of {} for fresh evidence", stale.join(", "));
            } else {
                restart_io_threads(&self.cluster, &view, stale).await;
            }
            self.history.note_restarted(master, stale);
            if !self.cluster.observe_only {
                view = after_restart(&self.cluster, &mut self.hearing, view, stale).await;
                (topology, analysis) = self.analyze(&view);
                self.say(&analysis);
            }
        }
        (view, topology, analysis, restarted)
    }

    /// The replicas that seem to still receive from a master that just
    /// missed its first probe, when this manager acts on them.
    fn moved_before_the_first_miss(
        &self,
        view: &ClusterView,
        analysis: &Analysis,
        acting: bool,
    ) -> Option<Vec<String>> {
        let Analysis::MasterUnreachable {
            master,
            still_receiving,
            ..
        } = analysis
        else {
            return None;
        };
        let first = self.history.misses_now(view, master) == 1;
        (acting && first && !still_receiving.is_empty()).then(|| still_receiving.clone())
    }

    /// The master and its stale replicas whose IO threads this manager
    /// restarts now (not yet in this outage), if any.
    fn to_restart(&self, analysis: &Analysis, acting: bool) -> Option<(String, Vec<String>)> {
        let Analysis::MasterUnreachable { master, stale, .. } = analysis else {
            return None;
        };
        let stale = self.history.not_yet_restarted(master, stale);
        (acting && !stale.is_empty()).then(|| (master.clone(), stale))
    }
}

/// How often the restarted replicas are read during the grace.
const EVERY: Duration = Duration::from_millis(50);

/// How long the restarted replicas get to connect again: half the
/// manager's own connect timeout (a replica's connect to the master is the
/// same kind of connect, on the same network), and never less than
/// `MIN_GRACE` — a connect, a login and a binlog request take milliseconds
/// on a LAN, and a busy replica must not pass for one that cannot connect.
fn grace(cluster: &ClusterConfig) -> Duration {
    (cluster.timing.connect_timeout / 2).max(MIN_GRACE)
}

const MIN_GRACE: Duration = Duration::from_millis(500);

/// `view` with `restarted` read again until one of them is connected to
/// its master again (the master answers it) or the grace has passed.
async fn after_restart(
    cluster: &ClusterConfig,
    hearing: &mut Hearing,
    mut view: ClusterView,
    restarted: &[String],
) -> ClusterView {
    let until = Instant::now() + grace(cluster);
    loop {
        tokio::time::sleep(EVERY).await;
        view = reobserve(cluster, view, restarted).await;
        hearing.annotate(&mut view);
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

/// How long replicas get to show they still receive from a master the
/// manager just lost (a busy master sends events every few milliseconds;
/// an idle one is told apart by the IO-thread restart that follows).
const A_MOMENT: Duration = Duration::from_millis(200);

/// The longest wait for a replica's heartbeats to tell: two periods of
/// the longest period heartbeats are used for, and a little.
const HEARD_WAIT: Duration = Duration::from_millis(2050);

/// `view` with `replicas` read again `A_MOMENT` later — or, when every one
/// of them says when it last heard from the master, once two heartbeat
/// periods have passed since then (it has heard again by then if the
/// master is up). Those are read again at once first: the round read
/// them before the master's probe timed out, so their silence is a probe
/// timeout longer than that reading says.
async fn a_moment_later(
    cluster: &ClusterConfig,
    hearing: &mut Hearing,
    view: ClusterView,
    replicas: &[String],
) -> ClusterView {
    let heard = |view: &ClusterView| -> Option<Vec<Heard>> {
        replicas
            .iter()
            .map(|r| {
                view.node(r)?
                    .state()?
                    .replica
                    .as_ref()?
                    .heard
                    .filter(Heard::tells)
            })
            .collect()
    };
    let (view, wait) = match heard(&view) {
        Some(_) => {
            let mut view = reobserve(cluster, view, replicas).await;
            hearing.annotate(&mut view);
            let wait = heard(&view).map(|all| {
                all.iter()
                    .filter(|h| !h.silent())
                    .map(|h| h.silent_in() + Duration::from_millis(50))
                    .fold(Duration::ZERO, Duration::max)
            });
            (view, wait.unwrap_or(A_MOMENT))
        }
        None => (view, A_MOMENT),
    };
    if wait.is_zero() {
        return view;
    }
    tokio::time::sleep(wait.min(HEARD_WAIT)).await;
    let mut view = reobserve(cluster, view, replicas).await;
    hearing.annotate(&mut view);
    view
}

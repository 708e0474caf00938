//! `vipkeeper agent`: per cluster, the loop tick → probe → analyze →
//! (plan → execute). Each tick re-derives everything from fresh
//! observations; the only memory is `History` (for detection) and the state
//! directory (for the block period).

mod aurora;
mod aurora_view;
pub mod board;
mod coordinated;
mod evidence;
mod fence;
pub mod host_binlog;
mod ledger;
pub mod local;
mod metrics;
pub mod service;
mod watcher;

use std::time::{Duration, Instant, SystemTime};

use crate::analysis::{analyze, Analysis, History};
use crate::config::{AgentConfig, ClusterConfig};
use crate::execute::{Ledger, Outcome, Trigger};
use crate::failover::fail_over;
use crate::plan::plan;
use crate::state::ClusterState;
use crate::topology::hearing::Hearing;
use crate::topology::observe::target;
use crate::topology::{observe, ClusterView, Topology};

use crate::coord::{Coordinator, Role};
use board::{Board, Entry};
use watcher::MasterWatcher;

/// How soon to look again after acting (IO-thread restart, failover), or
/// when the master's host answered but the death is not confirmed yet.
const QUICK: Duration = Duration::from_millis(50);

/// Runs one cluster's loop until `stop` turns true; a tick in progress (a
/// failover included) always finishes first.
pub async fn run_cluster(
    agent: AgentConfig,
    cluster: ClusterConfig,
    board: Board,
    coord: Option<Coordinator>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut l = ClusterLoop {
        coord,
        role: None,
        unfinished: true,
        published: coordinated::Published::default(),
        board,
        state: ClusterState::new(&agent.state_dir, &cluster.name),
        agent,
        cluster,
        history: History::default(),
        hearing: Hearing::default(),
        watcher: MasterWatcher::spawn(),
        last_said: String::new(),
        refused_with: None,
        fence_said: None,
        unreachable_said: String::new(),
    };
    tracing::info!(cluster = %l.cluster.name, "watching {} nodes", l.cluster.nodes.len());
    let freeze_after = frozen_after();
    let mut rounds = 0u64;
    loop {
        rounds += 1;
        if freeze_after.is_some_and(|n| rounds > n) {
            tracing::warn!(cluster = %l.cluster.name, "frozen on purpose (VIPKEEPER_TEST_FREEZE_AFTER_ROUNDS)");
            std::future::pending::<()>().await;
        }
        // Fixed rate: a tick that waited out a timeout is not followed by a
        // full interval more.
        let started = tokio::time::Instant::now();
        let next = l.tick().await;
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + next) => {}
            _ = l.watcher.broken() => {
                tracing::info!(cluster = %l.cluster.name, "the connection to the master broke: probing now");
            }
            _ = stop.changed() => break,
        }
    }
    tracing::info!(cluster = %l.cluster.name, "stopped watching");
}

/// A fault for tests of the watchdog only: after this many rounds every
/// cluster loop stops ticking (as a loop stuck on a hung call would), while
/// the rest of the process goes on.
fn frozen_after() -> Option<u64> {
    std::env::var("VIPKEEPER_TEST_FREEZE_AFTER_ROUNDS")
        .ok()?
        .parse()
        .ok()
}

struct ClusterLoop {
    /// Several managers: only the cluster's leader acts.
    coord: Option<Coordinator>,
    /// This manager's role at the last tick (with `coord`).
    role: Option<Role>,
    /// Whether a failover may be left in flight (in etcd, or this lone
    /// manager's state directory), for this manager to finish when it
    /// acts.
    unfinished: bool,
    /// This manager's view, as last published (with `coord`).
    published: coordinated::Published,
    board: Board,
    agent: AgentConfig,
    cluster: ClusterConfig,
    state: ClusterState,
    history: History,
    /// Each replica's heartbeat count across looks (MariaDB's silence).
    hearing: Hearing,
    watcher: MasterWatcher,
    /// The last analysis sentence logged, to log changes once.
    last_said: String,
    /// The last refusal (observe-only: the last plan it would run), to
    /// report it once rather than every tick.
    refused_with: Option<String>,
    /// The last fencing finding logged.
    fence_said: Option<String>,
    /// The nodes last logged as unreachable (names, comma-separated).
    unreachable_said: String,
}

impl ClusterLoop {
    /// One round; returns how long to wait before the next.
    async fn tick(&mut self) -> Duration {
        let interval = self.cluster.timing.probe_interval;
        let mut view = observe(&self.cluster).await;
        self.hearing.annotate(&mut view);
        let (topology, analysis) = self.analyze(&view);
        self.say(&analysis);
        let acting = self.lead().await;
        let (view, topology, analysis, restarted) =
            self.gather_evidence(view, topology, analysis, acting).await;
        metrics::tick(&self.cluster, &view, &analysis);
        if let Some(coord) = &self.coord {
            let own = coordinated::view_of(coord.name(), &analysis);
            self.published.publish(coord, &self.cluster.name, own).await;
        }
        self.publish(&view, &topology, &analysis);
        let mut next = interval;
        if acting && self.unfinished && !self.cluster.observe_only {
            if let Some(next) = self.finish_in_flight(&view).await {
                return next;
            }
        }

        match &analysis {
            Analysis::Healthy { master } => {
                self.history.forget_restarts();
                self.refused_with = None;
                if let Some(n) = self.cluster.node(master) {
                    let t = target(&self.cluster, &n.host, n.port, &self.cluster.users.monitor);
                    self.watcher.follow(Some(t));
                }
            }
            // Another manager leads (or leadership is unknown): watch only.
            _ if !acting => {}
            Analysis::MasterUnreachable { .. } if restarted.is_some() => next = QUICK,
            // The master's host answers (refused, reset): mysqld is going or
            // gone, and the replicas are about to notice. Look again soon;
            // a refused connection or a reset is not a silent network.
            Analysis::MasterUnreachable { master, .. } if host_answers(&view, master) => {
                next = QUICK
            }
            Analysis::DeadMaster { master, .. } => {
                let failed_over = self.dead_master(&view, &topology, master).await;
                if failed_over {
                    // The topology changed: start detection afresh.
                    self.history = History::default();
                    self.hearing = Hearing::default();
                    return QUICK;
                }
            }
            _ => {}
        }
        self.say_unreachable(&view);
        if acting {
            self.fence_writable_beside_master(&view, &topology).await;
        }
        self.history.record(&view, &topology);
        next
    }

    fn analyze(&self, view: &ClusterView) -> (Topology, Analysis) {
        self.analyze_with(view, &self.history)
    }

    fn analyze_with(&self, view: &ClusterView, history: &History) -> (Topology, Analysis) {
        let topology = Topology::derive_with_ids(
            view,
            self.cluster.failover.max_lag.as_secs(),
            &history.server_ids,
        );
        let analysis = analyze(
            view,
            &topology,
            history,
            self.cluster.timing.unreachable_after,
        );
        (topology, analysis)
    }

    /// With several managers: campaigns, logs a change of role, and says
    /// whether this manager may act on the cluster now. Alone: always.
    async fn lead(&mut self) -> bool {
        let Some(coord) = &self.coord else {
            return true;
        };
        let role = coord.lead(&self.cluster.name).await;
        if self.role.as_ref() != Some(&role) {
            // A new leader first looks for a failover left in flight.
            self.unfinished |= role == Role::Leader;
            let said = role.describe(coord.name(), &self.cluster.name);
            match role {
                Role::Leader => tracing::info!(cluster = %self.cluster.name, "{said}"),
                _ => tracing::warn!(cluster = %self.cluster.name, "{said}"),
            }
            let label = match role {
                Role::Leader => "leader",
                Role::Follower { .. } => "follower",
                Role::Unknown { .. } => "unknown",
            };
            metrics::leadership(&self.cluster.name, label);
            self.role = Some(role.clone());
        }
        role == Role::Leader
    }

    /// What this tick saw, for the HTTP API and systemd.
    fn publish(&self, view: &ClusterView, topology: &Topology, analysis: &Analysis) {
        let mut entry =
            Entry::of_tick(view, topology, analysis, self.cluster.timing.probe_interval);
        entry.last_failover = self.state.last_failover();
        entry.observe_only = self.cluster.observe_only;
        entry.coordination = self.role.as_ref().map(|r| board::Coordination {
            manager: self
                .coord
                .as_ref()
                .map(|c| c.name().to_string())
                .unwrap_or_default(),
            role: r.clone(),
        });
        entry.blocked = entry
            .last_failover
            .as_ref()
            .is_some_and(|last| last.blocks(self.cluster.failover.block_period, SystemTime::now()));
        self.board.put(&self.cluster.name, entry);
    }

    fn say(&mut self, analysis: &Analysis) {
        let sentence = analysis.describe();
        let unconfirmed = matches!(analysis, Analysis::MasterUnreachable { .. });
        if unconfirmed {
            // Every tick: someone should look.
            tracing::warn!(cluster = %self.cluster.name, "{sentence}");
        } else if sentence != self.last_said {
            match analysis {
                Analysis::Healthy { .. } => {
                    tracing::info!(cluster = %self.cluster.name, "{sentence}")
                }
                _ => tracing::warn!(cluster = %self.cluster.name, "{sentence}"),
            }
        }
        self.last_said = sentence;
    }

    /// Returns true when a failover ran (whatever its outcome).
    async fn dead_master(&mut self, view: &ClusterView, topology: &Topology, master: &str) -> bool {
        if self.cluster.observe_only {
            self.would_fail_over(view, topology, master);
            return false;
        }
        let blocking = ledger::blocking(self.coord.as_ref(), &self.state, &self.cluster).await;
        let blocking = match blocking {
            Ok(b) => b,
            Err(why) => {
                tracing::warn!(cluster = %self.cluster.name, "master {master} is dead, but whether the last failover blocks another cannot be known: {why}; not failing over now");
                return false;
            }
        };
        if let Some(last) = blocking {
            tracing::error!(
                cluster = %self.cluster.name,
                "master {master} is dead, but failover {} ({} -> {}) happened within the block period ({}): \
                 not failing over automatically until `vipkeeper ack {}`",
                last.id,
                last.dead_master,
                last.new_master.as_deref().unwrap_or("none"),
                humantime::format_duration(self.cluster.failover.block_period),
                self.cluster.name
            );
            return false;
        }
        // Several managers: the lease must outlive the start of the
        // failover by a margin (a freshly renewed lease); until every step
        // is checked against it (with the journal in etcd), half its TTL.
        if let Some(coord) = &self.coord {
            if !coord.covers(coord.lease_ttl() / 2) {
                tracing::warn!(
                    cluster = %self.cluster.name,
                    "master {master} is dead, but this manager's lease is not sure to live long enough ({} ms left): not failing over now",
                    coord.lease_left().as_millis()
                );
                return false;
            }
        }
        // Several managers: a majority of them must be unable to reach it.
        if let Some(coord) = &self.coord {
            let own = coordinated::view_of(
                coord.name(),
                &Analysis::DeadMaster {
                    master: master.to_string(),
                    evidence: String::new(),
                    replicas: Vec::new(),
                },
            );
            let said = match coordinated::verdict(coord, &self.cluster.name, master, own).await {
                Ok(q) if q.confirmed() => {
                    tracing::info!(cluster = %self.cluster.name, "the managers confirm that master {master} is dead: {}", q.describe());
                    None
                }
                Ok(q) => Some(format!(
                    "master {master} is dead to this manager, but the managers do not confirm it: {}; not failing over",
                    q.describe()
                )),
                Err(e) => Some(format!(
                    "master {master} is dead to this manager, but the managers' views cannot be read ({e}); not failing over"
                )),
            };
            if let Some(said) = said {
                if self.refused_with.as_ref() != Some(&said) {
                    tracing::warn!(cluster = %self.cluster.name, "{said}");
                    self.refused_with = Some(said);
                }
                return false;
            }
        }
        // A refusal is re-examined every tick (a replica may come back), but
        // reported only when its reason changes.
        let planned = plan(view, topology, master, &self.cluster, &self.history);
        if let Err(refusal) = &planned {
            if self.refused_with.as_ref() == Some(&refusal.why) {
                return false;
            }
            self.refused_with = Some(refusal.why.clone());
        }
        let (mut in_file, mut in_etcd);
        let ledger: &mut dyn Ledger = match &self.coord {
            Some(c) => {
                in_etcd = ledger::EtcdLedger::new(c, &self.cluster.name, None);
                &mut in_etcd
            }
            None => {
                in_file = ledger::FileLedger::new(&self.state, None);
                &mut in_file
            }
        };
        self.busy_failing_over();
        let report = fail_over(
            &self.agent,
            &self.cluster,
            view,
            master,
            planned,
            (Trigger::Automatic, ledger),
        )
        .await;
        match report.outcome {
            Outcome::Refused { .. } => false,
            Outcome::Interrupted { .. } => {
                self.unfinished = true;
                true
            }
            _ => {
                self.watcher.follow(None);
                true
            }
        }
    }

    /// This loop starts a failover: not stuck until it must have ended.
    fn busy_failing_over(&self) {
        let until = Instant::now() + failover_bound(&self.cluster);
        self.board.busy(&self.cluster.name, until);
    }

    /// Acting (alone, or leading several managers): finishes a failover
    /// left in flight — in etcd, or by this manager before it was killed
    /// and restarted. Some(when to look again) when this tick is done
    /// (finished, or the record cannot be read: act on nothing then).
    async fn finish_in_flight(&mut self, view: &ClusterView) -> Option<Duration> {
        let coord = self.coord.clone();
        self.busy_failing_over();
        match ledger::finish_in_flight(
            &self.agent,
            &self.cluster,
            view,
            coord.as_ref(),
            &self.state,
        )
        .await
        {
            ledger::InFlight::Nothing => {
                self.unfinished = false;
                None
            }
            ledger::InFlight::Unknown(why) => {
                let said = format!("not acting until the failover record can be read: {why}");
                if self.refused_with.as_ref() != Some(&said) {
                    tracing::warn!(cluster = %self.cluster.name, "{said}");
                    self.refused_with = Some(said);
                }
                Some(self.cluster.timing.probe_interval)
            }
            ledger::InFlight::Finished(report) => {
                self.unfinished = matches!(report.outcome, Outcome::Interrupted { .. });
                self.history = History::default();
                self.hearing = Hearing::default();
                self.watcher.follow(None);
                Some(QUICK)
            }
        }
    }

    /// Observe-only: what a failover would do now, logged when it changes.
    fn would_fail_over(&mut self, view: &ClusterView, topology: &Topology, master: &str) {
        let would = match plan(view, topology, master, &self.cluster, &self.history) {
            Ok(p) => format!("would run this plan:\n{}", p.describe()),
            Err(refusal) => format!("would refuse to fail over: {}", refusal.why),
        };
        if self.refused_with.as_ref() != Some(&would) {
            tracing::warn!(cluster = %self.cluster.name, "observe-only: master {master} is dead; {would}");
            self.refused_with = Some(would);
        }
    }

    /// Fences nodes writable beside the current master (see `fence`),
    /// logging each finding once.
    async fn fence_writable_beside_master(&mut self, view: &ClusterView, topology: &Topology) {
        let said = fence::fence_beside_master(&self.cluster, &self.state, view, topology).await;
        match said {
            Some(s) if self.fence_said.as_ref() != Some(&s) => {
                tracing::warn!(cluster = %self.cluster.name, "{s}");
                self.fence_said = Some(s);
            }
            Some(_) => {}
            None => self.fence_said = None,
        }
    }

    /// Logs once per change which nodes cannot be reached.
    fn say_unreachable(&mut self, view: &ClusterView) {
        let key = view.unreachable().join(",");
        if key == self.unreachable_said {
            return;
        }
        let now: Vec<String> = view
            .nodes
            .iter()
            .filter_map(|n| Some(format!("{} ({})", n.name, n.error()?)))
            .collect();
        if now.is_empty() {
            tracing::info!(cluster = %self.cluster.name, "every node is reachable again");
        } else {
            tracing::warn!(cluster = %self.cluster.name, "unreachable: {}", now.join(", "));
        }
        self.unreachable_said = key;
    }
}

fn host_answers(view: &ClusterView, master: &str) -> bool {
    use crate::mysql::ErrorKind;
    view.node(master)
        .and_then(|n| n.error())
        .is_some_and(|e| matches!(e.kind, ErrorKind::Refused | ErrorKind::ConnectionLost))
}

/// The longest a failover of `cluster` can take: its waits (catching up and
/// waiting for the candidate to apply, each `apply_timeout`; the salvage's
/// deadline; the VIP's retries, `vip.retry_for`, and one more attempt) and
/// a minute for its statements. While one runs the loop finishes no round,
/// and is not stuck (`Board::busy`).
fn failover_bound(cluster: &ClusterConfig) -> Duration {
    let salvage = cluster
        .salvage
        .as_ref()
        .map_or(Duration::ZERO, |s| s.deadline);
    let vip = cluster.vip.as_ref().map_or(Duration::ZERO, |v| v.retry_for);
    2 * cluster.failover.apply_timeout + salvage + vip + Duration::from_secs(60)
}

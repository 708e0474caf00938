//! Runs a plan's steps in order, each under a deadline, writing a journal
//! line per step. A step that fails stops the failover (unless it is best
//! effort) and the report says which step, on which node, and what to do.
//! A switchover that fails before its candidate is writable is rolled back.

pub mod cluster_lock;
mod dispatch;
mod error;
pub mod guard;
mod io_threads;
pub mod journal;
mod level;
mod notify;
mod poll;
pub mod progress;
mod record;
mod relay;
mod remedy;
mod replication;
pub mod report;
mod run;
mod salvage;
mod switch_steps;
mod vip_step;

pub use cluster_lock::ClusterLock;
pub use error::StepError;
pub use io_threads::restart_io_threads;
pub use journal::{Decided, DecisionKind, Journal, JournalEvent, JournalLine, Start};
pub use progress::{Alone, Ledger, Progress};
pub use report::{Outcome, Report, StepOutcome, Trigger};
pub use run::{finish, locked_execute};

use record::record_step;
use remedy::remedy;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::{ClusterConfig, NodeConfig};
use crate::mysql::binlog::BinlogCoord;
use crate::mysql::flavor::ServerVersion;
use crate::mysql::gtid::GtidSet;
use crate::mysql::probe::read_state;
use crate::mysql::{NodeState, Session};
use crate::plan::{Kind, Plan, Step};
use crate::topology::observe::target;
use crate::topology::ClusterView;
use report::StepRecord;

/// How often a waiting step looks again.
const POLL: Duration = Duration::from_millis(10);

/// How long a failover may wait to connect to the old master's host (its
/// mysqld to fence it, its host agent to salvage from). It was just found
/// unreachable, so this stays short: the promotion must not wait on a host
/// that is gone (a black-holed host's agent held the salvage for its whole
/// 5 s deadline; `make chaos`, black-hole-net). A connect on a LAN answers in
/// well under a millisecond. An old master that comes back later is fenced
/// by the agent then.
const DEAD_HOST_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);

/// A binlog coordinate in words, `-` when unknown.
fn coord(c: Option<&BinlogCoord>) -> String {
    c.map(ToString::to_string).unwrap_or_else(|| "-".into())
}

struct Done {
    detail: String,
    skipped: bool,
}

impl Done {
    fn ok(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            skipped: false,
        }
    }

    fn skipped(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            skipped: true,
        }
    }
}

/// What a stopped master had written when its writes stopped.
#[derive(Debug, Clone)]
struct Stopped {
    binlog: Option<BinlogCoord>,
    gtids: Option<GtidSet>,
}

impl Stopped {
    /// No GTIDs (MySQL with gtid_mode=OFF reports an empty gtid_executed) is
    /// no gate at all, since every set contains the empty one: positions then.
    fn new(binlog: Option<BinlogCoord>, gtids: Option<GtidSet>) -> Self {
        Self {
            binlog,
            gtids: gtids.filter(|g| !g.is_empty()),
        }
    }

    /// Has a replica that executed `gtids` (or, without GTIDs, up to the
    /// master's binlog coordinate `executed`) applied all of it?
    fn reached_by(&self, gtids: Option<&GtidSet>, executed: Option<&BinlogCoord>) -> bool {
        match (&self.gtids, gtids) {
            (Some(wrote), Some(has)) => has.contains(wrote),
            _ => match (&self.binlog, executed) {
                (Some(wrote), Some(at)) => matches!(
                    at.compare(wrote),
                    Some(std::cmp::Ordering::Equal | std::cmp::Ordering::Greater)
                ),
                _ => false,
            },
        }
    }
}

struct Executor<'a> {
    cluster: &'a ClusterConfig,
    plan: &'a Plan,
    version: ServerVersion,
    server_ids: HashMap<String, u32>,
    sessions: HashMap<String, Session>,
    /// The new master's binlog position and GTIDs as of its promotion.
    candidate_binlog: Option<BinlogCoord>,
    candidate_state: Option<NodeState>,
    /// Each reachable node's semi-sync settings as the view saw them.
    semi_sync: HashMap<String, crate::mysql::node_state::SemiSync>,
    /// Switchover: the old master's final position once writes stopped.
    stopped: Option<Stopped>,
    /// Switchover: when the write block reaches `switchover.deadline`.
    write_block_deadline: Option<Instant>,
    /// The cluster lock, held from before the first step to the end.
    lock: Option<ClusterLock>,
    /// Where the candidate stood in the dead master's binlog when the
    /// salvage step looked (what lagging replicas are levelled up to).
    salvaged_from: Option<BinlogCoord>,
    /// Replicas levelled from the dead master's binlog (stopped, level
    /// with the candidate: repointed without waiting for their applier).
    leveled: Vec<String>,
    /// By lagging replica: where it stood and what follows in the relay
    /// log of the replica that received most (read before that one is
    /// detached).
    relay_tails: HashMap<String, relay::Kept>,
}

/// Executes `plan`; the caller holds the cluster's failover lock. Each
/// step starts only when `ledger` allows it and is recorded there before
/// the next; steps `ledger` says an earlier manager completed are not run
/// again.
pub async fn execute(
    cluster: &ClusterConfig,
    view: &ClusterView,
    plan: &Plan,
    id: String,
    trigger: Trigger,
    journal: &mut Journal,
    ledger: &mut dyn Ledger,
) -> Report {
    let started = Instant::now();
    let mut progress = ledger
        .resumed()
        .cloned()
        .unwrap_or_else(|| Progress::start(&id, trigger, plan));
    let resumed = ledger.resumed().map(|p| p.done.len()).unwrap_or(0);
    let mut report = Report::from_plan(id.clone(), plan, trigger);
    report.journal = Some(journal.path().display().to_string());
    journal.write(JournalEvent::Start(Box::new(Start::of_plan(
        &id, trigger, plan,
    ))));

    let Some(version) = view
        .nodes
        .iter()
        .find_map(|n| n.state())
        .map(|s| s.version.clone())
    else {
        report.outcome = Outcome::Refused {
            why: "no node is reachable".into(),
        };
        journal.write(JournalEvent::End {
            outcome: report.outcome.clone(),
            duration_ms: 0,
        });
        return report;
    };
    let mut exec = Executor {
        cluster,
        plan,
        version,
        server_ids: view
            .nodes
            .iter()
            .filter_map(|n| Some((n.name.clone(), n.state()?.server_id)))
            .collect(),
        semi_sync: view
            .nodes
            .iter()
            .filter_map(|n| Some((n.name.clone(), n.state()?.semi_sync.clone())))
            .collect(),
        sessions: HashMap::new(),
        candidate_binlog: None,
        candidate_state: None,
        stopped: None,
        write_block_deadline: None,
        lock: None,
        salvaged_from: None,
        leveled: Vec::new(),
        relay_tails: HashMap::new(),
    };

    // Another actor (a second manager, a switchover, the agent) must not
    // change this cluster at the same time: take the cluster lock on every
    // reachable node, then check that the plan still holds.
    exec.candidate_binlog = progress.candidate_binlog.clone();
    // Finishing another manager's failover whose old master answers again
    // before anything was made writable: its premise is gone, so it is
    // undone rather than finished.
    let undo = resumed > 0
        && !progress
            .done
            .iter()
            .any(|d| matches!(d.step, Step::MakeWritable { .. }))
        && view
            .node(&plan.old_master)
            .is_some_and(|n| n.state().is_some());
    if let Err(why) = exec.lock_and_compare(view, &progress.done, undo).await {
        report.outcome = Outcome::Refused { why };
        journal.write(JournalEvent::End {
            outcome: report.outcome.clone(),
            duration_ms: 0,
        });
        report.finish(started.elapsed());
        return report;
    }

    // The plan is on record before its first step: a manager that dies
    // in it leaves a failover for the next leader to finish.
    let mut stopped_before = None;
    if resumed == 0 {
        if let Err(why) = ledger.record(&progress).await {
            stopped_before = Some(why);
        }
    }
    // A switchover can be undone until its candidate is writable.
    let mut undoable = plan.kind == Kind::Switchover;
    let mut tried: Vec<Step> = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        if i < resumed {
            // Done by the manager that started the change: not again.
            let earlier = &progress.done[i];
            let by = match progress.manager.as_str() {
                "" => "this manager before it was restarted",
                name => name,
            };
            let record = StepRecord {
                outcome: StepOutcome::Skipped,
                detail: format!("done by {by}: {}", earlier.detail),
                at_ms: started.elapsed().as_millis() as u64,
                elapsed_ms: 0,
                ..earlier.clone()
            };
            journal.write(JournalEvent::Step(record.clone()));
            report.steps.push(record);
            continue;
        }
        if undo {
            let tried: Vec<Step> = progress.done.iter().map(|d| d.step.clone()).collect();
            let error = format!("{} answers again", plan.old_master).into();
            report.outcome = exec
                .roll_back(plan, &tried, step, error, started, journal, &mut report)
                .await;
            break;
        }
        if let Err(why) = stopped_before.take().map_or_else(|| ledger.may_act(), Err) {
            report.outcome = Outcome::Interrupted {
                step: step.name().into(),
                why,
            };
            break;
        }
        if undoable && matches!(step, Step::StopWrites { .. }) {
            exec.write_block_deadline = Some(Instant::now() + cluster.switchover.deadline);
        }
        tried.push(step.clone());
        let t0 = Instant::now();
        let run = async {
            if undoable {
                exec.run_within_block(step).await
            } else {
                exec.run(step).await
            }
        };
        let result = tokio::select! {
            r = run => r,
            why = ledger.lost() => {
                report.outcome = Outcome::Interrupted { step: step.name().into(), why };
                break;
            }
        };
        record_step(step, &result, (started, t0), journal, &mut report);
        if result.is_ok() || step.best_effort() {
            progress
                .done
                .push(report.steps.last().expect("just recorded").clone());
            progress.candidate_binlog = exec.candidate_binlog.clone();
            if let Err(why) = ledger.record(&progress).await {
                report.outcome = Outcome::Interrupted {
                    step: step.name().into(),
                    why,
                };
                break;
            }
            progress::test_pause_after(step.name()).await;
        }
        if result.is_ok()
            && *step
                == (Step::MakeWritable {
                    node: plan.candidate.clone(),
                })
        {
            undoable = false;
        }
        if let Err(error) = result {
            if step.best_effort() {
                continue;
            }
            report.outcome = if undoable {
                exec.roll_back(plan, &tried, step, error, started, journal, &mut report)
                    .await
            } else {
                Outcome::Failed {
                    step: step.name().into(),
                    node: Some(step.node().to_string()),
                    remedy: remedy(step, &error, plan),
                    error: error.to_string(),
                }
            };
            break;
        }
    }
    if report.outcome == Outcome::Success {
        report.new_master = Some(plan.candidate.clone());
        if report
            .steps
            .iter()
            .any(|s| s.outcome == StepOutcome::Failed)
        {
            tracing::warn!(cluster = %cluster.name, "failover succeeded, but some best-effort steps failed: see the report");
        }
    }
    for (_, s) in exec.sessions.drain() {
        s.close().await;
    }
    if let Some(mut lock) = exec.lock.take() {
        lock.release().await;
    }
    // How it ended, for the next leader and the block period; cut short,
    // it stays in flight for the next leader to finish.
    if !matches!(report.outcome, Outcome::Interrupted { .. }) {
        progress.outcome = Some(report.outcome.clone());
        if let Err(why) = ledger.record(&progress).await {
            tracing::error!(cluster = %cluster.name, "the end of {} could not be recorded: {why}", report.id);
        }
    }
    report.finish(started.elapsed());
    journal.write(JournalEvent::End {
        outcome: report.outcome.clone(),
        duration_ms: report.duration_ms,
    });
    report
}

impl Executor<'_> {
    /// `DEAD_HOST_CONNECT_TIMEOUT`, or the configured one when shorter.
    fn dead_host_connect_timeout(&self) -> Duration {
        DEAD_HOST_CONNECT_TIMEOUT.min(self.cluster.timing.connect_timeout)
    }

    fn node(&self, name: &str) -> Result<&NodeConfig, StepError> {
        self.cluster
            .node(name)
            .ok_or_else(|| format!("{name} is not a node of cluster {}", self.cluster.name).into())
    }

    /// An admin session to `name`, opened once and reused.
    async fn session(&mut self, name: &str) -> Result<&mut Session, StepError> {
        self.session_within(name, self.cluster.timing.connect_timeout)
            .await
    }

    /// Drops `name`'s session (one a timeout left inside a statement).
    fn forget_session(&mut self, name: &str) {
        self.sessions.remove(name);
    }

    async fn session_within(
        &mut self,
        name: &str,
        connect_timeout: Duration,
    ) -> Result<&mut Session, StepError> {
        if !self.sessions.contains_key(name) {
            let n = self.node(name)?;
            let mut t = target(self.cluster, &n.host, n.port, &self.cluster.users.admin);
            t.query_timeout = self.cluster.failover.statement_timeout;
            t.connect_timeout = connect_timeout;
            let s = Session::connect(&t)
                .await
                .map_err(|error| StepError::Connect {
                    node: name.into(),
                    user: self.cluster.users.admin.user.clone(),
                    error,
                })?;
            self.sessions.insert(name.to_string(), s);
        }
        Ok(self.sessions.get_mut(name).expect("just inserted"))
    }

    /// Takes the cluster lock (the candidate must be lockable, and the old
    /// master too when it is alive) and re-reads the locked nodes: the plan
    /// goes on only if the cluster is still as it was planned on.
    async fn lock_and_compare(
        &mut self,
        view: &ClusterView,
        done: &[StepRecord],
        undo: bool,
    ) -> Result<(), String> {
        let down = view.unreachable();
        let mut required = vec![self.plan.candidate.clone()];
        if undo {
            required.push(self.plan.old_master.clone());
        }
        let detached = done.iter().any(|d| matches!(d.step, Step::Detach { .. }));
        if !detached {
            required.extend(self.plan.catch_up_from.clone());
        }
        if self.plan.kind == Kind::Switchover {
            required.push(self.plan.old_master.clone());
        }
        let action = self.plan.kind.label();
        let mut lock = ClusterLock::acquire(self.cluster, &down, &required, action)
            .await
            .map_err(|e| e.to_string())?;
        let reread = lock.reread_locked(self.cluster).await;
        self.lock = Some(lock);
        if undo {
            return guard::undoable(self.plan, &reread);
        }
        if !detached {
            return guard::plan_holds(self.plan, &reread);
        }
        // Finishing another manager's change past its candidate's
        // promotion: the candidate as it is now is what the other
        // replicas are checked against.
        guard::resumable(self.plan, &reread)?;
        let candidate = self.plan.candidate.clone();
        let s = self.session(&candidate).await.map_err(|e| e.to_string())?;
        self.candidate_state = Some(read_state(s).await.map_err(|e| e.to_string())?);
        Ok(())
    }

    /// Compare, then set: right before `node` is made writable, every node
    /// is read again (see `guard::before_writable`).
    async fn guard_writable(&mut self, node: &str) -> Result<(), StepError> {
        let Some(lock) = self.lock.as_mut() else {
            return Err(StepError::Unsafe("the cluster lock is not held".into()));
        };
        let reread = lock.reread(self.cluster).await;
        guard::before_writable(node, &reread).map_err(StepError::Unsafe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_gtid_set_is_no_gate_positions_decide() {
        let wrote = BinlogCoord::new("mysql-bin.000001", 900);
        let empty = GtidSet::Mysql(crate::mysql::gtid::MysqlGtidSet::parse("").unwrap());
        let stopped = Stopped::new(Some(wrote), Some(empty.clone()));
        let behind = BinlogCoord::new("mysql-bin.000001", 800);
        assert!(!stopped.reached_by(Some(&empty), Some(&behind)));
        let there = BinlogCoord::new("mysql-bin.000001", 900);
        assert!(stopped.reached_by(Some(&empty), Some(&there)));
    }
}

//! A change's progress, kept where another manager can read it: with
//! several managers (`[coordination]`) each step's completion is recorded
//! in etcd before the next step starts, so that a manager that dies in the
//! middle leaves what it did, and the cluster's next leader finishes the
//! rest (docs/HA.md). Alone, nothing is recorded beyond the local journal.
//!
//! `Ledger` is how `execute` asks whether it may still act and records
//! each step; the agent implements it on etcd, `Alone` is the single
//! manager's.

use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::report::{Outcome, StepRecord, Trigger};
use crate::mysql::binlog::BinlogCoord;
use crate::plan::Plan;
use crate::state::{self, LastFailover};

/// What a change has done so far, as recorded after each step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub id: String,
    /// The manager that recorded it last.
    #[serde(default)]
    pub manager: String,
    pub trigger: Trigger,
    /// Seconds since the Unix epoch.
    pub started_at: u64,
    pub plan: Plan,
    /// The plan's first steps, done (or skipped, or failed best-effort), in
    /// order: the next step to run is `plan.steps[done.len()]`.
    pub done: Vec<StepRecord>,
    /// The new master's binlog position as of its promotion (file/position
    /// replicas start there), once it is detached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_binlog: Option<BinlogCoord>,
    /// How it ended; none while it is in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The operator acknowledged it (`vipkeeper ack`).
    #[serde(default)]
    pub acked: bool,
}

impl Progress {
    pub fn start(id: &str, trigger: Trigger, plan: &Plan) -> Self {
        Self {
            id: id.into(),
            manager: String::new(),
            trigger,
            started_at: state::unix_seconds(SystemTime::now()),
            plan: plan.clone(),
            done: Vec::new(),
            candidate_binlog: None,
            outcome: None,
            acked: false,
        }
    }

    /// Still running, or cut short before it could say how it ended.
    pub fn in_flight(&self) -> bool {
        self.outcome.is_none()
    }

    /// The block period's view of it: an ended change that did something.
    pub fn last_failover(&self) -> Option<LastFailover> {
        let outcome = self.outcome.as_ref()?;
        if matches!(outcome, Outcome::Refused { .. }) {
            return None;
        }
        Some(LastFailover {
            id: self.id.clone(),
            at: self.started_at,
            dead_master: self.plan.old_master.clone(),
            new_master: matches!(outcome, Outcome::Success).then(|| self.plan.candidate.clone()),
            outcome: outcome.label().into(),
            acked: self.acked,
        })
    }

    /// "3 of 7 steps done by m1" and the like.
    pub fn describe(&self) -> String {
        format!(
            "failover {} ({} -> {}): {} of {} steps done by {}",
            self.id,
            self.plan.old_master,
            self.plan.candidate,
            self.done.len(),
            self.plan.steps.len(),
            if self.manager.is_empty() {
                "an earlier manager"
            } else {
                &self.manager
            }
        )
    }
}

/// Where a change's steps are checked and recorded.
pub trait Ledger: Send {
    /// Steps an earlier manager completed, when finishing its change.
    fn resumed(&self) -> Option<&Progress> {
        None
    }

    /// May the next step start now (with several managers: this manager
    /// still leads and its lease outlives a step's statement)?
    fn may_act(&self) -> Result<(), String> {
        Ok(())
    }

    /// Resolves as soon as this manager must stop acting (its lease may run
    /// out); a step in progress is abandoned then.
    fn lost(&self) -> BoxFuture<'_, String> {
        Box::pin(std::future::pending())
    }

    /// Records the change so far before the next step may start; an error
    /// stops the change (another manager will finish it).
    fn record<'a>(&'a mut self, _progress: &'a Progress) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// A single manager: it may always act, and its journal is local.
pub struct Alone;

impl Ledger for Alone {}

/// A test hook: `VIPKEEPER_TEST_PAUSE_AFTER_STEP=<step name>` makes the
/// manager stop for an hour right after that step is recorded, so that a
/// test can kill it in the middle of a change.
pub async fn test_pause_after(step: &str) {
    if std::env::var("VIPKEEPER_TEST_PAUSE_AFTER_STEP").is_ok_and(|s| s == step) {
        tracing::warn!("test hook: pausing after step {step}");
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Kind, Positioning};

    fn plan() -> Plan {
        Plan {
            kind: Kind::Failover,
            cluster: "main".into(),
            old_master: "db1".into(),
            candidate: "db2".into(),
            why: String::new(),
            catch_up_from: None,
            considered: Vec::new(),
            positioning: Positioning::Gtid,
            not_repointed: Vec::new(),
            by_gtid: Vec::new(),
            steps: Vec::new(),
            master_last_seen: None,
        }
    }

    #[test]
    fn only_an_ended_change_that_did_something_blocks() {
        let mut p = Progress::start("main-1", Trigger::Automatic, &plan());
        assert!(p.in_flight());
        assert_eq!(p.last_failover(), None);
        p.outcome = Some(Outcome::Refused { why: "no".into() });
        assert_eq!(p.last_failover(), None);
        p.outcome = Some(Outcome::Success);
        let last = p.last_failover().unwrap();
        assert_eq!(
            (last.dead_master.as_str(), last.new_master.as_deref()),
            ("db1", Some("db2"))
        );
        assert!(last.blocks(Duration::from_secs(60), SystemTime::now()));
        p.acked = true;
        assert!(!p
            .last_failover()
            .unwrap()
            .blocks(Duration::from_secs(60), SystemTime::now()));
    }

    #[test]
    fn it_reads_back_what_it_wrote() {
        let mut p = Progress::start("main-1", Trigger::Automatic, &plan());
        p.candidate_binlog = Some(BinlogCoord::new("mysql-bin.000002", 154));
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Progress>(&text).unwrap(), p);
    }
}

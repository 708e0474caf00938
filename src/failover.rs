//! Carrying out a failover: the plan (made by the caller, pure) → lock →
//! execute (journal) → report → notify. Used by the agent and by
//! `vipkeeper failover`.

use std::time::{Instant, SystemTime};

use crate::candidate::Refusal;
use crate::config::{AgentConfig, ClusterConfig};
use crate::execute::report::new_id;
use crate::execute::{
    finish, locked_execute, Journal, JournalEvent, Ledger, Outcome, Report, Start, Trigger,
};
use crate::plan::Plan;
use crate::state::{self, ClusterState, LastFailover};
use crate::topology::ClusterView;

/// Replaces `master` (already confirmed dead) by the plan the caller made
/// for it: runs the plan under the cluster's lock, records and reports. A
/// refused plan is journalled and reported too. Returns the report, which is
/// also written to the state directory and handed to the notify command.
/// Each step is checked and recorded by `ledger` (`Alone` for a single
/// manager); when it holds a failover an earlier manager left in flight,
/// that failover is finished instead (see `resume`).
pub async fn fail_over(
    agent: &AgentConfig,
    cluster: &ClusterConfig,
    view: &ClusterView,
    master: &str,
    planned: Result<Plan, Refusal>,
    (trigger, ledger): (Trigger, &mut dyn Ledger),
) -> Report {
    let started = Instant::now();
    let state = ClusterState::new(&agent.state_dir, &cluster.name);
    let id = match ledger.resumed() {
        Some(p) => p.id.clone(),
        None => new_id(&cluster.name, SystemTime::now()),
    };
    let report = match planned {
        Err(refusal) => {
            // A refusal leaves a journal too: it is a decision to explain.
            let journal_path = state.journal_path(&id).ok();
            if let Some(p) = &journal_path {
                let mut journal = Journal::open(p);
                journal.write(JournalEvent::Start(Box::new(Start::refused(
                    &id,
                    trigger,
                    &cluster.name,
                    master,
                    &refusal.considered,
                ))));
                journal.write(JournalEvent::End {
                    outcome: Outcome::Refused {
                        why: refusal.why.clone(),
                    },
                    duration_ms: 0,
                });
            }
            let mut r = Report::refused(
                id,
                &cluster.name,
                trigger,
                master,
                refusal.why,
                refusal.considered,
            );
            r.journal = journal_path.map(|p| p.display().to_string());
            r
        }
        Ok(plan) => {
            tracing::info!(cluster = %cluster.name, "failover plan:\n{}", plan.describe());
            match locked_execute(&state, cluster, view, &plan, (id.clone(), trigger), ledger).await
            {
                Err(why) => Report::refused(
                    id,
                    &cluster.name,
                    trigger,
                    master,
                    why,
                    plan.considered.clone(),
                ),
                // Refused under the lock (another actor, a changed cluster):
                // nothing happened, so no block period starts.
                Ok(report) if matches!(report.outcome, Outcome::Refused { .. }) => report,
                // Cut short: the cluster's leader finishes it and records it.
                Ok(report) if matches!(report.outcome, Outcome::Interrupted { .. }) => report,
                Ok(report) => {
                    let record = LastFailover {
                        id: report.id.clone(),
                        at: state::unix_seconds(report.started_at),
                        dead_master: master.to_string(),
                        new_master: report.new_master.clone(),
                        outcome: report.outcome.label().to_string(),
                        acked: false,
                    };
                    if let Err(e) = state.record_failover(&record) {
                        tracing::error!(
                            "cannot record the failover in {}: {e}",
                            state.dir().display()
                        );
                    }
                    report
                }
            }
        }
    };
    finish(agent, &state, report, started).await
}

/// Finishes the failover an earlier manager left in flight (`ledger`
/// holds its progress, read from etcd): its plan, from the first step it
/// did not record as done.
pub async fn resume(
    agent: &AgentConfig,
    cluster: &ClusterConfig,
    view: &ClusterView,
    ledger: &mut dyn Ledger,
) -> Option<Report> {
    let progress = ledger.resumed()?.clone();
    tracing::warn!(cluster = %cluster.name, "finishing {} from its record; the plan:\n{}", progress.describe(), progress.plan.describe());
    let master = progress.plan.old_master.clone();
    Some(
        fail_over(
            agent,
            cluster,
            view,
            &master,
            Ok(progress.plan),
            (progress.trigger, ledger),
        )
        .await,
    )
}

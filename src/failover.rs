//! Carrying out a failover: the plan (made by the caller, pure) → lock →
//! execute (journal) → report → notify. Used by the agent and by
//! `vipkeeper failover`.

use std::time::{Instant, SystemTime};

use crate::candidate::Refusal;
use crate::config::{AgentConfig, ClusterConfig};
use crate::execute::report::new_id;
use crate::execute::{
    finish, locked_execute, Journal, JournalEvent, Outcome, Report, Start, Trigger,
};
use crate::plan::Plan;
use crate::state::{self, ClusterState, LastFailover};
use crate::topology::ClusterView;

/// Replaces `master` (already confirmed dead) by the plan the caller made
/// for it: runs the plan under the cluster's lock, records and reports. A
/// refused plan is journalled and reported too. Returns the report, which is
/// also written to the state directory and handed to the notify command.
pub async fn fail_over(
    agent: &AgentConfig,
    cluster: &ClusterConfig,
    view: &ClusterView,
    master: &str,
    planned: Result<Plan, Refusal>,
    trigger: Trigger,
) -> Report {
    let started = Instant::now();
    let state = ClusterState::new(&agent.state_dir, &cluster.name);
    let id = new_id(&cluster.name, SystemTime::now());
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
            match locked_execute(&state, cluster, view, &plan, id.clone(), trigger).await {
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

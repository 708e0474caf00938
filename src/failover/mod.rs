//! Carrying out a failover: plan (pure) → lock → execute (journal) →
//! report → notify. Used by the agent and by `vipkeeper failover`.

pub mod cluster_lock;
mod execute;
pub mod guard;
mod journal;
pub mod notify;
pub mod report;
pub mod state;

use std::time::{Instant, SystemTime};

use crate::analysis::History;
use crate::config::{AgentConfig, ClusterConfig};
use crate::plan::plan;
use crate::topology::{ClusterView, Topology};

pub use journal::Journal;
pub use report::{Outcome, Report, Trigger};
pub use state::{ClusterState, LastFailover, MasterRecord};

/// Replaces `master` (already confirmed dead): plans, runs the plan under
/// the cluster's lock, records and reports. Returns the report, which is
/// also written to the state directory and handed to the notify command.
pub async fn fail_over(
    agent: &AgentConfig,
    cluster: &ClusterConfig,
    view: &ClusterView,
    topology: &Topology,
    master: &str,
    history: &History,
    trigger: Trigger,
) -> Report {
    let started = Instant::now();
    let state = ClusterState::new(&agent.state_dir, &cluster.name);
    let id = report::new_id(&cluster.name, SystemTime::now());
    let report = match plan(view, topology, master, cluster, history) {
        Err(refusal) => {
            // A refusal leaves a journal too: it is a decision to explain.
            let journal_path = state.journal_path(&id).ok();
            if let Some(p) = &journal_path {
                let mut journal = Journal::open(p);
                journal.write(
                    "start",
                    serde_json::json!({ "id": id, "cluster": cluster.name, "trigger": trigger, "old_master": master, "considered": refusal.considered }),
                );
                journal.write("end", serde_json::json!({ "outcome": { "outcome": "refused", "why": refusal.why }, "duration_ms": 0 }));
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

/// Runs `plan` under the cluster's lock with a journal; Err when the lock
/// is held (nothing was done).
pub async fn locked_execute(
    state: &ClusterState,
    cluster: &ClusterConfig,
    view: &ClusterView,
    plan: &crate::plan::Plan,
    id: String,
    trigger: Trigger,
) -> Result<Report, String> {
    let _lock = state.lock()?;
    let mut journal = match state.journal_path(&id) {
        Ok(p) => Journal::open(&p),
        Err(e) => {
            tracing::error!("cannot create the journal directory: {e}");
            Journal::open(std::path::Path::new("/dev/null"))
        }
    };
    Ok(execute::execute(cluster, view, plan, id, trigger, &mut journal).await)
}

/// Writes the report to the state directory, logs its summary and hands it
/// to the notify command.
pub async fn finish(
    agent: &AgentConfig,
    state: &ClusterState,
    mut report: Report,
    started: Instant,
) -> Report {
    if report.duration_ms == 0 {
        report.finish(started.elapsed());
    }
    let path = state.report_path(&report.id).ok();
    if let Some(p) = &path {
        if let Err(e) = state::write_private(
            p,
            &serde_json::to_vec_pretty(&report).expect("reports serialize"),
        ) {
            tracing::error!("cannot write the report {}: {e}", p.display());
        }
    }
    let master = match &report.outcome {
        Outcome::Success => report.new_master.clone(),
        Outcome::RolledBack { .. } => Some(report.old_master.clone()),
        _ => None,
    };
    if let Some(master) = master {
        let record = MasterRecord {
            master,
            at: state::unix_seconds(SystemTime::now()),
            by: report.id.clone(),
        };
        if let Err(e) = state.record_master(&record) {
            tracing::error!(
                "cannot record the new master in {}: {e}",
                state.dir().display()
            );
        }
    }
    match &report.outcome {
        Outcome::Success => tracing::info!(cluster = %report.cluster, "{}", report.summary()),
        _ => tracing::error!(cluster = %report.cluster, "{}", report.summary()),
    }
    notify::notify(agent, &report, path.as_deref()).await;
    report
}

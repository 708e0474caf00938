//! Around the step loop: the local lock and the journal before it; the
//! report, the master record and the notify command after it. Shared by
//! failover and switchover.

use std::time::{Instant, SystemTime};

use super::journal::Journal;
use super::notify;
use super::report::{Outcome, Report, Trigger};
use crate::config::{AgentConfig, ClusterConfig};
use crate::plan::Plan;
use crate::state::{self, ClusterState, MasterRecord};
use crate::topology::ClusterView;

/// Runs `plan` under the cluster's lock with a journal, each step checked
/// and recorded by `ledger`; Err when the lock is held (nothing was done).
pub async fn locked_execute(
    state: &ClusterState,
    cluster: &ClusterConfig,
    view: &ClusterView,
    plan: &Plan,
    (id, trigger): (String, Trigger),
    ledger: &mut dyn super::Ledger,
) -> Result<Report, String> {
    let _lock = state.lock()?;
    let mut journal = match state.journal_path(&id) {
        Ok(p) => Journal::open(&p),
        Err(e) => {
            tracing::error!("cannot create the journal directory: {e}");
            Journal::open(std::path::Path::new("/dev/null"))
        }
    };
    Ok(super::execute(cluster, view, plan, id, trigger, &mut journal, ledger).await)
}

/// The change and each of its steps, for `/metrics`.
fn record_metrics(report: &Report) {
    use crate::telemetry::{CHANGES, STEP_SECONDS};
    let kind = report.kind.label();
    metrics::counter!(
        CHANGES,
        "cluster" => report.cluster.clone(),
        "kind" => kind,
        "outcome" => report.outcome.label()
    )
    .increment(1);
    for s in &report.steps {
        metrics::histogram!(
            STEP_SECONDS,
            "kind" => kind,
            "step" => s.step.name(),
            "outcome" => s.outcome.label()
        )
        .record(s.elapsed_ms as f64 / 1000.0);
    }
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
    record_metrics(&report);
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

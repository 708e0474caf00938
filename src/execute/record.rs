//! What each step leaves behind: a log line, a journal line, a line of
//! the report, and the VIP backends' part for `/metrics`.

use std::time::Instant;

use super::report::{Report, StepOutcome, StepRecord};
use super::{Done, Journal, JournalEvent, StepError};
use crate::plan::Step;

/// Each backend's part in a VIP move, for `/metrics`.
pub(super) fn record_vip_moves(
    cluster: &str,
    moved: &Result<Vec<(&'static str, crate::vip::Moved)>, crate::vip::MoveFailed>,
) {
    let count = |backend: &'static str, result: &'static str| {
        metrics::counter!(
            crate::telemetry::VIP_MOVES,
            "cluster" => cluster.to_string(),
            "backend" => backend,
            "result" => result
        )
        .increment(1)
    };
    match moved {
        Ok(done) => {
            for (backend, m) in done {
                count(backend, m.label());
            }
        }
        Err(f) => count(f.backend, "failed"),
    }
}

/// Logs, journals and reports one step; `times` are the start of the
/// failover and of the step.
pub(super) fn record_step(
    step: &Step,
    result: &Result<Done, StepError>,
    times: (Instant, Instant),
    journal: &mut Journal,
    report: &mut Report,
) {
    let (started, t0) = times;
    let (outcome, detail) = match result {
        Ok(d) if d.skipped => (StepOutcome::Skipped, d.detail.clone()),
        Ok(d) => (StepOutcome::Ok, d.detail.clone()),
        Err(e) => (StepOutcome::Failed, e.to_string()),
    };
    let record = StepRecord {
        step: step.clone(),
        outcome,
        detail,
        at_ms: (t0 - started).as_millis() as u64,
        elapsed_ms: t0.elapsed().as_millis() as u64,
    };
    let kind = report.kind.label();
    tracing::info!(cluster = %report.cluster, "{kind} step {}: {:?}: {}", step, record.outcome, record.detail);
    journal.write(JournalEvent::Step(record.clone()));
    report.steps.push(record);
}

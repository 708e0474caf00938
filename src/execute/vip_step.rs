//! The VIP step: the address moved through every backend. In a failover —
//! the old master is dead — a backend that fails for a reason that may
//! pass (an API down or throttled past its deadline, a route table that
//! refuses) is tried again, the whole move each time (what already points
//! at the candidate is left as it is), until `vip.retry_for` has passed.
//! The candidate is made writable only after the VIP points at it, so
//! clients that follow the address meet the dead master or the one new
//! master, never two writers; and the failover ends by itself once the
//! API answers again, rather than waiting for an operator. A switchover
//! does not wait: its old master is alive, and it is rolled back.

use std::time::{Duration, Instant};

use super::record::record_vip_moves;
use super::{Done, Executor, StepError};
use crate::plan::Kind;
use crate::vip::Moved;

/// The first pause between attempts, doubled each time up to `LONGEST`.
const FIRST: Duration = Duration::from_secs(1);
const LONGEST: Duration = Duration::from_secs(10);

impl Executor<'_> {
    pub(super) async fn move_vip(&mut self, from: &str, to: &str) -> Result<Done, StepError> {
        let Some(vip) = &self.cluster.vip else {
            return Ok(Done::skipped("no VIP configured"));
        };
        let (from_node, to_node) = (self.node(from)?, self.node(to)?);
        let retrying = self.plan.kind == Kind::Failover;
        let started = Instant::now();
        let mut pause = FIRST;
        let mut failures = 0;
        loop {
            let moved =
                crate::vip::move_vip(vip, &self.cluster.nodes, Some(from_node), to_node).await;
            record_vip_moves(&self.cluster.name, &moved);
            let failed = match moved {
                Ok(moved) => return Ok(done(&moved, failures, started)),
                Err(failed) => failed,
            };
            let tried_for = started.elapsed();
            if !retrying || !failed.may_pass() || tried_for + pause > vip.retry_for {
                return Err(failed.into());
            }
            failures += 1;
            tracing::warn!(
                cluster = %self.cluster.name,
                "moving the VIP to {to} failed ({failed}); trying again in {} (vip.retry_for {}, {} so far); {to} stays read-only until the VIP points at it",
                humantime::format_duration(pause),
                humantime::format_duration(vip.retry_for),
                humantime::format_duration(Duration::from_secs(tried_for.as_secs()))
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST);
        }
    }
}

/// The step's outcome from what each backend did, and how many attempts
/// failed before.
fn done(moved: &[(&'static str, Moved)], failures: u32, started: Instant) -> Done {
    let mut detail = moved
        .iter()
        .map(|(backend, m)| format!("{backend}: {}", m.detail()))
        .collect::<Vec<_>>()
        .join("; ");
    if failures > 0 {
        detail.push_str(&format!(
            " (after {failures} failed attempt(s) over {} ms)",
            started.elapsed().as_millis()
        ));
    }
    if moved
        .iter()
        .any(|(_, m)| matches!(m, Moved::FailedProceed(_)))
    {
        Done::skipped(detail)
    } else {
        Done::ok(detail)
    }
}

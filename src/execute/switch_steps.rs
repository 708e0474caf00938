//! What only a switchover does: stopping writes on a live master, waiting
//! for the candidate to apply all it wrote, disconnecting clients left on
//! it, holding every step to the write-block deadline, and rolling back.

use std::time::{Duration, Instant};

use super::guard;
use super::journal::Journal;
use super::poll::Polling;
use super::report::{Outcome, Report};
use super::{coord, record_step, Done, Executor, StepError, Stopped, POLL};
use crate::mysql::admin::{self, StartFrom};
use crate::mysql::probe::read_state;
use crate::plan::{Plan, Step};

impl Executor<'_> {
    /// Read-only, a grace for running statements, then every client
    /// connection killed; records what the master wrote.
    pub(super) async fn stop_writes(&mut self, node: &str) -> Result<Done, StepError> {
        let v = self.version.clone();
        let grace = self.cluster.switchover.kill_grace;
        let cluster = self.cluster;
        let s = self.session(node).await?;
        admin::set_read_only(s, &v, true).await?;
        tokio::time::sleep(grace).await;
        let killed = admin::kill_client_connections(s, &cluster.own_users()).await?;
        let binlog = admin::binlog_position(s, &v).await?;
        let state = read_state(s).await?;
        if state.writable() {
            return Err(format!("{node} is still writable after SET GLOBAL read_only=ON").into());
        }
        let detail = format!(
            "read-only; {killed} client connection(s) killed after {}; wrote up to {}{}",
            humantime::format_duration(grace),
            binlog
                .as_ref()
                .map(|b| b.to_string())
                .unwrap_or_else(|| "-".into()),
            state
                .gtid
                .executed
                .as_ref()
                .map(|g| format!(" ({g})"))
                .unwrap_or_default()
        );
        self.stopped = Some(Stopped::new(binlog, state.gtid.executed));
        Ok(Done::ok(detail))
    }

    /// Waits until `node` has applied everything the stopped master wrote.
    pub(super) async fn wait_reached(
        &mut self,
        node: &str,
        master: &str,
    ) -> Result<Done, StepError> {
        let stopped = self
            .stopped
            .clone()
            .ok_or_else(|| format!("{master}'s final position is unknown"))?;
        let limit = self.cluster.failover.apply_timeout;
        let mut polling = Polling::until(Instant::now() + limit, POLL);
        let mut applied = None;
        while polling.next().await {
            let s = self.session(node).await?;
            let state = read_state(s).await?;
            let r = state
                .replica
                .as_ref()
                .ok_or_else(|| format!("{node} no longer replicates"))?;
            if !r.sql_running || r.last_io_errno != 0 {
                return Err(format!(
                    "{node}: {}",
                    r.problem().unwrap_or_else(|| "replication stopped".into())
                )
                .into());
            }
            if !stopped.reached_by(state.gtid.executed.as_ref(), r.executed.as_ref()) {
                applied = r.executed.clone();
                continue;
            }
            // Say what was checked: under a multi-threaded applier the
            // executed binlog position lags the GTIDs actually applied.
            let how = match (&stopped.gtids, &state.gtid.executed) {
                (Some(wrote), Some(_)) => {
                    format!("its executed GTIDs contain all {master} wrote ({wrote})")
                }
                _ => format!("executed up to {master}'s {}", coord(r.executed.as_ref())),
            };
            return Ok(Done::ok(format!("applied all {master} wrote: {how}")));
        }
        Err(format!(
            "{node} did not apply all {master} wrote within {} (failover.apply_timeout); applied up to {}",
            humantime::format_duration(limit),
            coord(applied.as_ref())
        ).into())
    }

    pub(super) async fn disconnect_clients(&mut self, node: &str) -> Result<Done, StepError> {
        let cluster = self.cluster;
        let s = self.session(node).await?;
        let killed = admin::kill_client_connections(s, &cluster.own_users()).await?;
        Ok(Done::ok(format!("{killed} client connection(s) killed")))
    }

    /// Rollback: `node` read-only and replicating from `to` where it left off.
    pub(super) async fn reattach(&mut self, node: &str, to: &str) -> Result<Done, StepError> {
        let v = self.version.clone();
        let s = self.session(node).await?;
        admin::set_read_only(s, &v, true).await?;
        let start = match (&self.plan.positioning, &self.stopped) {
            (crate::plan::Positioning::Gtid, _) => StartFrom::Gtid,
            (
                _,
                Some(Stopped {
                    binlog: Some(b), ..
                }),
            ) => StartFrom::Position(b.clone()),
            _ => {
                return Err(
                    format!("{to}'s binlog position is unknown: repoint {node} by hand").into(),
                )
            }
        };
        self.replicate_from(node, to, &start).await?;
        Ok(Done::ok(format!("read-only, replicates from {to} again")))
    }

    /// How long writes may still stay blocked.
    pub(super) fn block_left(&self) -> Option<Duration> {
        self.write_block_deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Runs a switchover step while writes are blocked: it fails when the
    /// block would outlast `switchover.deadline`.
    pub(super) async fn run_within_block(&mut self, step: &Step) -> Result<Done, StepError> {
        let Some(left) = self.block_left() else {
            return self.run(step).await;
        };
        let exceeded = StepError::WriteBlock(self.cluster.switchover.deadline);
        if left.is_zero() {
            return Err(exceeded);
        }
        match tokio::time::timeout(left, self.run(step)).await {
            Ok(r) => r,
            Err(_) => Err(exceeded),
        }
    }

    /// Undoes what a switchover did before `failed` and says how it ended.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn roll_back(
        &mut self,
        plan: &Plan,
        tried: &[Step],
        failed: &Step,
        error: StepError,
        started: Instant,
        journal: &mut Journal,
        report: &mut Report,
    ) -> Outcome {
        tracing::warn!(cluster = %plan.cluster, "{} cannot go on at {failed}: {error}; rolling back", plan.kind.label());
        // A session that broke with the failure must not fail the undo.
        self.sessions.clear();
        let undo = crate::plan::rollback(plan, tried);
        tracing::info!(cluster = %plan.cluster, "rollback plan:\n{}", undo.describe());
        let steps = undo.steps;
        let mut undone_not = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let t0 = Instant::now();
            let result = self.run(step).await;
            record_step(step, &result, (started, t0), journal, report);
            let Err(undo_error) = result else { continue };
            undone_not.push(format!("\"{step}\": {undo_error}"));
            if crate::plan::undo_must_stop(plan, tried, step) {
                let left: Vec<String> = steps[i..].iter().map(ToString::to_string).collect();
                return Outcome::Failed {
                    step: failed.name().into(),
                    node: Some(failed.node().to_string()),
                    error: format!("{error}; then rolling back failed at {}", undone_not.join("; ")),
                    remedy: format!(
                        "{} may be writable: make sure it is read-only before anything else, then by hand: {}; check with `vipkeeper status` and `vipkeeper vip status`",
                        plan.candidate,
                        left.join(", then ")
                    ),
                };
            }
        }
        // The truth is what the nodes say now, not what the steps hoped for.
        let found = self.read_back().await;
        let old = &plan.old_master;
        if undone_not.is_empty() && found.old_master_sole_writer {
            return Outcome::RolledBack {
                step: failed.name().into(),
                node: Some(failed.node().to_string()),
                error: error.to_string(),
                found: found.words,
            };
        }
        let not_undone = if undone_not.is_empty() {
            String::new()
        } else {
            format!(", except {}", undone_not.join("; "))
        };
        let state = if found.old_master_sole_writer {
            format!("{old} is the writable master again")
        } else {
            format!("{old} is NOT the only writable node")
        };
        Outcome::Failed {
            step: failed.name().into(),
            node: Some(failed.node().to_string()),
            error: format!("{error}; rolled back{not_undone}; read back: {}", found.words),
            remedy: format!(
                "{state}: make exactly one node writable and the VIP point at it, finish by hand what failed above once the node answers; check with `vipkeeper status` and `vipkeeper vip status`"
            ),
        }
    }

    /// Every node and the VIP, read back after a rollback.
    async fn read_back(&mut self) -> ReadBack {
        let old = self.plan.old_master.clone();
        let cluster = self.cluster;
        let Some(lock) = self.lock.as_mut() else {
            return ReadBack {
                words: "nothing could be read back (no cluster lock)".into(),
                old_master_sole_writer: false,
            };
        };
        let (reread, vip) =
            futures::future::join(lock.reread(cluster), crate::vip::placements(cluster)).await;
        let mut words = guard::describe(&reread);
        for p in vip {
            words.push_str(&match p {
                Ok(p) => format!("; VIP ({}) -> {}", p.backend, p.node.unwrap_or(p.target)),
                Err(e) => format!("; VIP: {e}"),
            });
        }
        ReadBack {
            words,
            old_master_sole_writer: guard::sole_writable(&old, &reread),
        }
    }
}

struct ReadBack {
    words: String,
    old_master_sole_writer: bool,
}

//! The read-relay-log step: before the replica that received most is
//! detached (which resets its relay log), read from its relay log, through
//! its host agent, what each lagging file/position replica lacks — in the
//! dead master's coordinates, from where that replica's applier stopped —
//! and keep it for the level step. It is what levels them when the dead
//! master's host is gone too. Best effort: what cannot be read is said,
//! and the level step falls back to the dead master's binlog.

use std::time::Instant;

use super::{Done, Executor, StepError};
use crate::binlog::fetch::{fetch, Source, Within};
use crate::binlog::Tail;
use crate::mysql::admin;
use crate::mysql::binlog::BinlogCoord;

/// What a lagging replica lacks, read from another replica's relay log.
pub(super) struct Kept {
    /// Whose relay log.
    pub of: String,
    /// Where the lagging replica's applier stopped.
    pub at: BinlogCoord,
    pub tail: Tail,
}

impl Executor<'_> {
    pub(super) async fn read_relay_log(
        &mut self,
        node: &str,
        lagging: &[String],
    ) -> Result<Done, StepError> {
        let cfg = self.salvage_config()?;
        let address = self.host_agent(node)?;
        let started = Instant::now();
        let (mut read, mut unread) = (Vec::new(), Vec::new());
        for lag in lagging {
            let at = match self.stop_applier_at(lag).await {
                Ok(at) => at,
                Err(why) => {
                    unread.push(format!("{lag}: {why}"));
                    continue;
                }
            };
            let left = cfg.deadline.saturating_sub(started.elapsed());
            let source = (address.as_str(), Source::RelayLog);
            let within = Within {
                connect: self.cluster.timing.connect_timeout,
                deadline: left,
            };
            match fetch(source, &self.cluster.name, &at, &cfg.token, within).await {
                Ok(answer) => {
                    read.push(format!(
                        "{} transaction(s) after {at} for {lag}{}",
                        answer.tail.transactions.len(),
                        answer
                            .tail
                            .left_out
                            .as_ref()
                            .map(|l| format!(" (left out: {l})"))
                            .unwrap_or_default()
                    ));
                    let kept = Kept {
                        of: node.to_string(),
                        at,
                        tail: answer.tail,
                    };
                    self.relay_tails.insert(lag.clone(), kept);
                }
                Err(why) => unread.push(format!("{lag}: {why}")),
            }
        }
        let mut detail = String::new();
        if !read.is_empty() {
            detail = format!("read from {node}'s relay log: {}", read.join("; "));
        }
        if unread.is_empty() {
            return Ok(Done::ok(detail));
        }
        if !detail.is_empty() {
            detail.push_str("; ");
        }
        Ok(Done::skipped(format!(
            "{detail}not read (levelling falls back to the dead master's binlog) for {}",
            unread.join("; ")
        )))
    }

    /// Stops `node`'s applier, so that where it stands no longer moves;
    /// returns that position (in the dead master's binlog).
    async fn stop_applier_at(&mut self, node: &str) -> Result<BinlogCoord, StepError> {
        let v = self.version.clone();
        let s = self.session(node).await?;
        admin::stop_applier(s, &v).await?;
        self.replica_status(node)
            .await?
            .executed
            .ok_or_else(|| format!("{node} has no executed position").into())
    }
}

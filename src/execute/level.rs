//! Levelling a file/position replica (no GTIDs) that received less than
//! the new master: it has no position in the new master's binlog, so it
//! is first brought to exactly where the new master stood in the dead
//! master's binlog — by replaying what lies between, read from the new
//! master's relay log before it was detached (MHA's relay-log catch-up) or
//! from the dead master's files, both through host agents — and then
//! repointed at the new master's position of that moment. When that
//! cannot be done the replica is left stopped and the step says why: a
//! replica started at a guessed position would silently diverge.

use std::cmp::Ordering;

use super::{Done, Executor, StepError};
use crate::binlog::apply::replay;
use crate::binlog::fetch::{fetch, Source, Within};
use crate::binlog::Tail;
use crate::config::SalvageConfig;
use crate::mysql::admin;
use crate::mysql::binlog::BinlogCoord;
use crate::mysql::probe::read_state;

impl Executor<'_> {
    pub(super) async fn level(
        &mut self,
        node: &str,
        from: &str,
        to: &str,
    ) -> Result<Done, StepError> {
        let cfg = self.salvage_config()?;
        let until = self.salvaged_from.clone().ok_or_else(|| {
            format!("where {to} stood in {from}'s binlog is unknown (no salvage step looked)")
        })?;
        let v = self.version.clone();
        // Stopped for good unless levelled: never resumed from a returning
        // old master; the exact executed position (MySQL's parallel applier).
        let s = self.session(node).await?;
        admin::stop_replication(s, &v).await?;
        let at = self
            .replica_status(node)
            .await?
            .executed
            .ok_or_else(|| format!("{node} has no position in {from}'s binlog"))?;
        let mut replayed_what = format!("already at {until}, nothing to replay");
        if at != until {
            let (mut tail, source) = self.lacking(node, &at, from, &cfg).await?;
            tail.transactions.retain(|t| {
                BinlogCoord::new(t.file.clone(), t.end).compare(&until) != Some(Ordering::Greater)
            });
            let reaches = tail
                .transactions
                .last()
                .map(|t| BinlogCoord::new(t.file.clone(), t.end));
            if reaches.as_ref() != Some(&until) {
                return Err(format!(
                    "{source} after {at} does not end a transaction at {until} (where {to} stood); {node} is left stopped"
                )
                .into());
            }
            let s = self.session(node).await?;
            let state = read_state(s).await?;
            if state.super_read_only {
                s.exec("SET GLOBAL super_read_only=OFF").await?;
            }
            let replayed = tokio::time::timeout(
                cfg.deadline,
                replay(s, v.flavor, &tail, state.gtid.executed.as_ref()),
            )
            .await;
            if state.super_read_only {
                // Best kept even when the replay failed: clients stay out.
                let _ = s.exec("SET GLOBAL super_read_only=ON").await;
            }
            let count = match replayed {
                Ok(Ok(done)) => done.applied.len(),
                Ok(Err(e)) => {
                    return Err(format!(
                        "{} transaction(s) replayed, then {}; {node} is left stopped",
                        e.done.applied.len(),
                        e.why
                    )
                    .into())
                }
                Err(_) => {
                    self.forget_session(node);
                    return Err(format!(
                        "levelling passed salvage.deadline ({:?}); {node} is left stopped",
                        cfg.deadline
                    )
                    .into());
                }
            };
            replayed_what =
                format!("{count} transaction(s) of {source} from {at} to {until} replayed");
        }
        self.leveled.push(node.to_string());
        let repointed = self.repoint(node, to).await?;
        Ok(Done::ok(format!(
            "levelled with {to}: {replayed_what}; {}",
            repointed.detail
        )))
    }

    /// What `node` lacks after `at`, and where it was read: kept from the
    /// relay log of the replica that received most (read before it was
    /// detached), else asked of the dead master `from`'s host agent.
    async fn lacking(
        &mut self,
        node: &str,
        at: &BinlogCoord,
        from: &str,
        cfg: &SalvageConfig,
    ) -> Result<(Tail, String), StepError> {
        if let Some(kept) = self.relay_tails.remove(node).filter(|k| k.at == *at) {
            return Ok((kept.tail, format!("{}'s relay log", kept.of)));
        }
        let address = self.node(from)?.host_agent.clone().ok_or_else(|| {
            format!("{from} has no host_agent and no relay log was read for {node}; {node} is left stopped")
        })?;
        let source = (address.as_str(), Source::Binlog);
        let within = Within {
            connect: self.dead_host_connect_timeout(),
            deadline: cfg.deadline,
        };
        let answer = fetch(source, &self.cluster.name, at, &cfg.token, within)
            .await
            .map_err(|why| format!("{why}; {node} is left stopped"))?;
        Ok((answer.tail, format!("{from}'s binlog")))
    }
}

//! The salvage step: before the candidate is detached, fetch from the dead
//! master's host agent what its binlog holds beyond the point the
//! replicas executed, and replay it on the candidate (skipping what it
//! already has by GTID). Under async replication those can be
//! acknowledged writes no replica received. Best effort within
//! `salvage.deadline`: when the host agent does not answer, the step says
//! from which position writes may be lost and the failover goes on.

use std::time::Instant;

use super::{Done, Executor, StepError};
use crate::binlog::apply::{replay, Replayed};
use crate::binlog::fetch::{fetch, Source, Within};
use crate::mysql::probe::read_state;

impl Executor<'_> {
    pub(super) async fn salvage(
        &mut self,
        node: &str,
        from: &str,
        position_of: &str,
    ) -> Result<Done, StepError> {
        let Some(cfg) = self.cluster.salvage.clone() else {
            return Ok(Done::skipped("salvage is not configured"));
        };
        // The applier has applied everything it received (the step
        // before); stopping it makes its position exact (MySQL's parallel
        // applier moves Exec_Master_Log_Pos at checkpoints only) and ends
        // a transaction it may sit inside whose end never arrived: the
        // replay would wait on that transaction's row locks (MariaDB's
        // applier held them until innodb_lock_wait_timeout).
        let version = self.version.clone();
        let s = self.session(position_of).await?;
        crate::mysql::admin::stop_applier(s, &version).await?;
        let r = self.replica_status(position_of).await?;
        let Some(at) = r.executed.clone() else {
            return Ok(Done::skipped(format!(
                "{position_of} has no position in {from}'s binlog: nothing to salvage after"
            )));
        };
        self.salvaged_from = Some(at.clone());
        let may_be_lost = format!(
            "what {from} wrote after {at} ({position_of} executed up to there) may be lost{}",
            self.last_seen_beyond(from, node).await
        );
        let Some(address) = self.node(from)?.host_agent.clone() else {
            return Ok(Done::skipped(format!(
                "{from} has no host_agent to salvage from: {may_be_lost}"
            )));
        };
        let started = Instant::now();
        let answer = match fetch(
            (&address, Source::Binlog),
            &self.cluster.name,
            &at,
            &cfg.token,
            Within {
                connect: self.dead_host_connect_timeout(),
                deadline: cfg.deadline,
            },
        )
        .await
        {
            Ok(a) => a,
            Err(why) => return Ok(Done::skipped(format!("{why}: {may_be_lost}"))),
        };
        let flavor = version.flavor;
        let s = self.session(node).await?;
        let state = read_state(s).await?;
        // Clients stay out (read_only stays on); MySQL's super_read_only
        // would keep out this session too.
        if state.super_read_only {
            s.exec("SET GLOBAL super_read_only=OFF").await?;
        }
        let before = crate::mysql::admin::binlog_position(s, &version).await?;
        let left = cfg.deadline.saturating_sub(started.elapsed());
        let replayed = tokio::time::timeout(
            left,
            replay(s, flavor, &answer.tail, state.gtid.executed.as_ref()),
        )
        .await;
        let timed_out = replayed.is_err();
        let applied = match &replayed {
            Ok(Ok(done)) => !done.applied.is_empty(),
            Ok(Err(e)) => !e.done.applied.is_empty(),
            Err(_) => true,
        };
        if applied {
            // File/position replicas level with the candidate lack what was
            // replayed: they are repointed to where it stood before (Detach
            // keeps this).
            self.candidate_binlog = before;
        }
        if timed_out {
            // The session may be inside a statement: the next step opens
            // a fresh one.
            self.forget_session(node);
        } else if state.super_read_only {
            let s = self.session(node).await?;
            s.exec("SET GLOBAL super_read_only=ON").await?;
        }
        let mysqld = if answer.mysqld_answers {
            "its mysqld still accepts connections there"
        } else {
            "its mysqld is down"
        };
        let source = format!("{from}'s binlog after {at} (via its host agent; {mysqld})");
        let left_out = answer
            .tail
            .left_out
            .as_ref()
            .map(|l| format!("; left out: {l}"))
            .unwrap_or_default();
        match replayed {
            Ok(Ok(done)) => Ok(Done::ok(format!(
                "{} from {source}{left_out}",
                describe(&done, node)
            ))),
            Ok(Err(e)) => Ok(Done::skipped(format!(
                "{} from {source}, then stopped: {}; the rest {may_be_lost}",
                describe(&e.done, node),
                e.why
            ))),
            Err(_) => Ok(Done::skipped(format!(
                "replaying {source} passed salvage.deadline ({:?}); {may_be_lost}",
                cfg.deadline
            ))),
        }
    }
}

impl Executor<'_> {
    /// What the old master had written at its last answer beyond what
    /// `node` holds now: at least that may be lost (it may have written
    /// more before it died).
    async fn last_seen_beyond(&mut self, from: &str, node: &str) -> String {
        let Some(seen) = self.plan.master_last_seen.clone() else {
            return String::new();
        };
        let mut out = String::new();
        if let Some(b) = &seen.binlog {
            out.push_str(&format!("; {from} was last seen at {b}"));
        }
        let (Some(text), Ok(s)) = (&seen.gtids, self.session(node).await) else {
            return out;
        };
        let mine = read_state(s).await.ok().and_then(|s| s.gtid.executed);
        let theirs = match self.version.flavor {
            crate::mysql::flavor::Flavor::Mysql => crate::mysql::gtid::MysqlGtidSet::parse(text)
                .ok()
                .map(crate::mysql::gtid::GtidSet::Mysql),
            crate::mysql::flavor::Flavor::Mariadb => {
                crate::mysql::gtid::MariadbGtidPos::parse(text)
                    .ok()
                    .map(crate::mysql::gtid::GtidSet::Mariadb)
            }
        };
        if let (Some(theirs), Some(mine)) = (theirs, mine) {
            if let Some(surplus) = theirs.describe_surplus(&mine) {
                out.push_str(&format!(
                    " holding at least these transactions {node} lacks: {surplus}"
                ));
            }
        }
        out
    }
}

/// Every name when there are few, else the first and last five (the
/// journal keeps the step; a report line stays readable).
fn abridged(names: &[String]) -> String {
    if names.len() <= 12 {
        return names.join(", ");
    }
    format!(
        "{}, ... {} more ..., {}",
        names[..5].join(", "),
        names.len() - 10,
        names[names.len() - 5..].join(", ")
    )
}

fn describe(done: &Replayed, node: &str) -> String {
    let applied = if done.applied.is_empty() {
        "nothing to salvage".to_string()
    } else {
        format!(
            "salvaged {} transaction(s) onto {node} [{}]",
            done.applied.len(),
            abridged(&done.applied)
        )
    };
    if done.skipped > 0 {
        format!("{applied}, {} already on {node}", done.skipped)
    } else {
        applied
    }
}

impl Executor<'_> {
    /// `[cluster.salvage]`, which the salvage, read-relay-log and level
    /// steps need.
    pub(super) fn salvage_config(&self) -> Result<crate::config::SalvageConfig, StepError> {
        self.cluster
            .salvage
            .clone()
            .ok_or_else(|| "salvage is not configured".into())
    }

    /// The address of `node`'s host agent.
    pub(super) fn host_agent(&self, node: &str) -> Result<String, StepError> {
        self.node(node)?
            .host_agent
            .clone()
            .ok_or_else(|| format!("{node} has no host_agent").into())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_long_list_is_abridged_in_the_middle() {
        let names: Vec<String> = (1..=30).map(|i| format!("0-1-{i}")).collect();
        assert_eq!(
            super::abridged(&names),
            "0-1-1, 0-1-2, 0-1-3, 0-1-4, 0-1-5, ... 20 more ..., 0-1-26, 0-1-27, 0-1-28, 0-1-29, 0-1-30"
        );
        assert_eq!(super::abridged(&names[..2]), "0-1-1, 0-1-2");
    }
}

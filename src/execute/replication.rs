//! The executor's replication work: waiting for a replica to apply what it
//! received, catching one up from another, pointing a node at a new source
//! and checking that it replicates with no errant transaction, and the
//! semi-sync source role that follows the master.

use std::time::Instant;

use super::poll::Polling;
use super::{coord, Done, Executor, StepError, Stopped, POLL};
use crate::mysql::admin::{self, SourceLogin, StartFrom};
use crate::mysql::gtid::GtidSet;
use crate::mysql::probe::read_state;
use crate::mysql::replica_status::{IoThread, ReplicaStatus};
use crate::plan::Positioning;

impl Executor<'_> {
    pub(super) async fn replica_status(&mut self, node: &str) -> Result<ReplicaStatus, StepError> {
        let v = self.version.clone();
        let s = self.session(node).await?;
        let row = s.first(v.replica_status_sql()).await?;
        let row = row.ok_or_else(|| format!("{node} is not a replica"))?;
        Ok(ReplicaStatus::from_row(&row, v.flavor)?)
    }

    /// Waits until `node` executed up to the stopped master's binlog position.
    pub(super) async fn wait_replica_reached(
        &mut self,
        node: &str,
        stopped: &Stopped,
    ) -> Result<(), StepError> {
        let deadline = Instant::now() + self.cluster.failover.apply_timeout;
        let not_reached = |r: &ReplicaStatus| {
            format!(
                "{node} did not reach the old master's last position {}: {}",
                coord(stopped.binlog.as_ref()),
                r.problem()
                    .unwrap_or_else(|| format!("executed up to {}", coord(r.executed.as_ref())))
            )
        };
        let mut polling = Polling::until(deadline, POLL);
        let mut last = None;
        while polling.next().await {
            let r = self.replica_status(node).await?;
            if stopped.reached_by(None, r.executed.as_ref()) {
                return Ok(());
            }
            if !r.sql_running {
                return Err(not_reached(&r).into());
            }
            last = Some(r);
        }
        Err(StepError::TimedOut(
            last.map(|r| not_reached(&r)).unwrap_or_default(),
        ))
    }

    pub(super) async fn wait_applied(&mut self, node: &str) -> Result<Done, StepError> {
        let limit = self.cluster.failover.apply_timeout;
        let mut polling = Polling::until(Instant::now() + limit, POLL);
        let mut last = None;
        while polling.next().await {
            let r = self.replica_status(node).await?;
            if !r.sql_running {
                return Err(format!("{node}: {}", r.problem().unwrap_or_default()).into());
            }
            if applied(&r) {
                let at = coord(r.executed.as_ref());
                return Ok(Done::ok(format!("applied all it received (up to {at})")));
            }
            last = Some(r);
        }
        Err(format!(
            "{node} did not apply its relay log within {} (executed {}, received {})",
            humantime::format_duration(limit),
            coord(last.as_ref().and_then(|r| r.executed.as_ref())),
            coord(last.as_ref().and_then(|r| r.received.as_ref()))
        )
        .into())
    }

    pub(super) async fn catch_up(
        &mut self,
        node: &str,
        from: &str,
        skip: Option<&str>,
    ) -> Result<Done, StepError> {
        let v = self.version.clone();
        let target_gtids = {
            let s = self.session(from).await?;
            read_state(s).await?.gtid.executed
        }
        .ok_or_else(|| format!("{from} reports no GTIDs to catch up to"))?;
        let skipped = match skip {
            Some(set) => self.skip_errant(node, from, set).await?,
            None => String::new(),
        };
        self.replicate_from(node, from, &StartFrom::Gtid).await?;
        let limit = self.cluster.failover.apply_timeout;
        let mut polling = Polling::until(Instant::now() + limit, POLL);
        while polling.next().await {
            let s = self.session(node).await?;
            let state = read_state(s).await?;
            if state
                .gtid
                .executed
                .as_ref()
                .is_some_and(|g| g.contains(&target_gtids))
            {
                admin::stop_replication(s, &v).await?;
                return Ok(Done::ok(format!(
                    "has all of {from}'s transactions ({target_gtids}){skipped}"
                )));
            }
            if let Some(problem) = state.replica.as_ref().and_then(|r| {
                (r.last_sql_errno != 0 || r.last_io_errno != 0)
                    .then(|| r.problem())
                    .flatten()
            }) {
                return Err(format!("replicating from {from}: {problem}").into());
            }
        }
        Err(format!(
            "{node} did not catch up with {from} within {}",
            humantime::format_duration(limit)
        )
        .into())
    }

    pub(super) async fn repoint(&mut self, node: &str, to: &str) -> Result<Done, StepError> {
        // Done before (by a manager that stopped before recording it): a
        // second CHANGE to the same position would apply again what the
        // replica already applied.
        let source = self.node(to)?.clone();
        if let Ok(r) = self.replica_status(node).await {
            if (r.source_host.as_str(), r.source_port) == (source.host.as_str(), source.port)
                && r.sql_running
            {
                return Ok(Done::skipped(format!("already replicates from {to}")));
            }
        }
        let former_master = node == self.plan.old_master;
        // A file/position replica that received less than the new master:
        // its GTID position is exact where its binlog position is not.
        let by_gtid = self.plan.by_gtid.iter().any(|n| n == node);
        let leveled = self.leveled.iter().any(|n| n == node);
        if self.plan.positioning == Positioning::SamePosition
            && !former_master
            && !by_gtid
            && !leveled
        {
            match self.stopped.clone() {
                // A switchover: the replica must reach the old master's last write.
                Some(stopped) => self.wait_replica_reached(node, &stopped).await?,
                None => {
                    self.wait_applied(node).await?;
                }
            }
        }
        let start = match self.plan.positioning {
            _ if by_gtid => StartFrom::Gtid,
            Positioning::Gtid if former_master => StartFrom::GtidIncludingOwn,
            Positioning::Gtid => StartFrom::Gtid,
            Positioning::SamePosition => StartFrom::Position(
                self.candidate_binlog
                    .clone()
                    .ok_or("the new master's binlog position is unknown")?,
            ),
        };
        // A demoted master keeps no semi-sync source role: with no replica
        // to acknowledge, each transaction it applies would wait out
        // rpl_semi_sync_*_timeout.
        let semi_sync = if former_master {
            self.semi_sync_source(node, false).await
        } else {
            String::new()
        };
        self.replicate_from(node, to, &start).await?;
        let to_id = self.server_ids.get(to).copied();
        let limit = self.cluster.failover.statement_timeout;
        let mut polling = Polling::until(Instant::now() + limit, POLL);
        let mut replicating = false;
        let mut last = None;
        while polling.next().await {
            let r = self.replica_status(node).await?;
            let connected =
                r.io_thread == IoThread::Yes && (to_id.is_none() || r.source_server_id == to_id);
            if connected && r.sql_running {
                replicating = true;
                break;
            }
            if r.last_io_errno != 0 && r.last_io_errno != 2003 || !r.sql_running {
                return Err(r
                    .problem()
                    .unwrap_or_else(|| "replication broken".into())
                    .into());
            }
            last = Some(r);
        }
        if !replicating {
            return Err(format!(
                "{node} did not start replicating from {to} within {}: {}",
                humantime::format_duration(limit),
                last.and_then(|r| r.problem())
                    .unwrap_or_else(|| "IO thread not connected".into())
            )
            .into());
        }
        if let Some(errant) = self.errant_against_candidate(node).await? {
            return Err(
                format!("replicates from {to}, but has errant transactions {errant}").into(),
            );
        }
        let how = if by_gtid {
            match self.version.flavor {
                crate::mysql::flavor::Flavor::Mariadb => " by GTID (master_use_gtid=slave_pos: it received less than the new master, so no binlog position fits it; its GTID position is exact)",
                crate::mysql::flavor::Flavor::Mysql => " by GTID (auto-position: it received less than the new master, so no binlog position fits it)",
            }
        } else {
            ""
        };
        Ok(Done::ok(format!("replicates from {to}{how}{semi_sync}")))
    }

    /// Gives `node` the semi-sync source role (`on`: it is the new master, and
    /// the cluster uses semi-sync) or takes it away, when that changes
    /// anything. Never fails the step: returns a note for its detail.
    pub(super) async fn semi_sync_source(&mut self, node: &str, on: bool) -> String {
        let Some(mine) = self.semi_sync.get(node).cloned() else {
            return String::new();
        };
        let cluster_uses_it = self
            .semi_sync
            .iter()
            .any(|(n, s)| n != node && (s.source_enabled || s.replica_enabled));
        if mine.source_enabled == on || (on && !cluster_uses_it) {
            return String::new();
        }
        let v = self.version.clone();
        let result = match self.session(node).await {
            Ok(s) => admin::set_semi_sync_source(s, &v, on)
                .await
                .map_err(StepError::from),
            Err(e) => Err(e),
        };
        let word = if on { "on" } else { "off" };
        match result {
            Ok(()) => format!("; semi-sync source {word}"),
            Err(e) => {
                tracing::warn!(cluster = %self.cluster.name, "cannot turn the semi-sync source side {word} on {node}: {e}");
                format!("; semi-sync source NOT turned {word}: {e}")
            }
        }
    }

    /// Points `node` at `source` and starts replicating.
    pub(super) async fn replicate_from(
        &mut self,
        node: &str,
        source: &str,
        start: &StartFrom,
    ) -> Result<(), StepError> {
        let v = self.version.clone();
        let source = self.node(source)?.clone();
        let repl = self.cluster.users.replication.clone();
        let login = SourceLogin {
            host: &source.host,
            port: source.port,
            user: &repl.user,
            password: &repl.password,
            // Replication is encrypted whenever vipkeeper's own connections are.
            tls: self.cluster.tls.mode != crate::config::TlsMode::Disabled,
        };
        let s = self.session(node).await?;
        admin::stop_replication(s, &v).await?;
        if let Err(changing) = admin::change_source(s, &v, &login, start).await {
            // A failed CHANGE leaves the previous source in place: start it
            // again rather than leave the replica stopped.
            let restarted = match admin::start_replication(s, &v).await {
                Ok(()) => "its previous source was kept and replication restarted".to_string(),
                Err(e) => {
                    format!("its previous source was kept, but restarting replication failed: {e}")
                }
            };
            return Err(format!("{changing}; {restarted}").into());
        }
        Ok(admin::start_replication(s, &v).await?)
    }

    pub(super) async fn errant_against_candidate(
        &mut self,
        node: &str,
    ) -> Result<Option<String>, StepError> {
        let Some(candidate) = self.candidate_state.clone() else {
            return Ok(None);
        };
        let s = self.session(node).await?;
        let state = read_state(s).await?;
        Ok(match (&state.gtid.executed, &candidate.gtid.executed) {
            (Some(mine), Some(theirs)) => mine.errant(
                theirs,
                candidate.server_uuid.as_deref(),
                candidate.server_id,
            ),
            _ => None,
        })
    }
}

/// Has the replica applied everything it received?
fn applied(r: &ReplicaStatus) -> bool {
    if r.executed.is_some() && r.executed == r.received {
        return true;
    }
    if r.sql_state.contains("read all relay log") {
        return true;
    }
    match (&r.retrieved_gtids, &r.executed_gtids) {
        (Some(GtidSet::Mysql(got)), Some(GtidSet::Mysql(done))) => done.contains(got),
        _ => false,
    }
}

impl Executor<'_> {
    /// Marks `from`'s errant transactions (`set`, a MySQL GTID set) done on
    /// `node`, empty, before it catches up from `from`: the errant replica
    /// is not promoted, and what was written on it by hand spreads to no
    /// other server. Returns the words for the step's detail.
    async fn skip_errant(
        &mut self,
        node: &str,
        from: &str,
        set: &str,
    ) -> Result<String, StepError> {
        use crate::mysql::gtid::MysqlGtidSet;
        use crate::mysql::skip_gtids;
        let gtids = MysqlGtidSet::parse(set)
            .map_err(|e| format!("{from}'s errant transactions {set:?} cannot be read: {e}"))?;
        let n = skip_gtids::count(&gtids);
        if n > skip_gtids::MOST {
            return Err(format!(
                "{from} holds {n} errant transactions ({set}): too many to mark done on {node} (at most {}); look at {from} before promoting anything",
                skip_gtids::MOST
            )
            .into());
        }
        let s = self.session(node).await?;
        skip_gtids::mark_done(s, &gtids).await?;
        Ok(format!(
            "; {from}'s errant transactions {set} were marked done (empty) on {node} first, not copied"
        ))
    }
}

//! One step of a plan, carried out: the dispatch from `Step` to what
//! the executor does on which node.

use super::{Done, Executor, StepError};
use crate::mysql::admin;
use crate::mysql::probe::read_state;
use crate::plan::Step;

impl Executor<'_> {
    pub(super) async fn run(&mut self, step: &Step) -> Result<Done, StepError> {
        let v = self.version.clone();
        match step {
            Step::FenceOldMaster { node } => {
                let cluster = self.cluster;
                let budget = self.dead_host_connect_timeout();
                let s = match self.session_within(node, budget).await {
                    Ok(s) => s,
                    Err(e) => {
                        return Ok(Done::skipped(format!(
                            "{e}; it will be fenced when it comes back"
                        )))
                    }
                };
                admin::set_read_only(s, &v, true).await?;
                let killed = admin::kill_client_connections(s, &cluster.own_users()).await?;
                Ok(Done::ok(format!(
                    "read-only, {killed} client connection(s) killed"
                )))
            }
            Step::WaitApplied { node } => self.wait_applied(node).await,
            Step::CatchUp { node, from, skip } => self.catch_up(node, from, skip.as_deref()).await,
            Step::Salvage {
                node,
                from,
                position_of,
            } => self.salvage(node, from, position_of).await,
            Step::ReadRelayLog { node, lagging } => self.read_relay_log(node, lagging).await,
            Step::Detach { node } => {
                let s = self.session(node).await?;
                admin::stop_replication(s, &v).await?;
                let binlog = admin::binlog_position(s, &v).await?;
                let state = read_state(s).await?;
                admin::reset_replication(s, &v).await?;
                let detail = format!(
                    "replication stopped and reset at binlog {}",
                    binlog
                        .as_ref()
                        .map(|b| b.to_string())
                        .unwrap_or_else(|| "-".into())
                );
                // A salvage replayed transactions the level replicas lack:
                // they start where the candidate stood before it.
                self.candidate_binlog = self.candidate_binlog.take().or(binlog);
                self.candidate_state = Some(state);
                Ok(Done::ok(detail))
            }
            Step::MoveVip { from, to } => self.move_vip(from, to).await,
            Step::MakeWritable { node } => {
                self.guard_writable(node).await?;
                let s = self.session(node).await?;
                admin::set_read_only(s, &v, false).await?;
                let state = read_state(s).await?;
                if !state.writable() {
                    return Err(format!(
                        "{node} is still read-only after SET GLOBAL read_only=OFF"
                    )
                    .into());
                }
                Ok(Done::ok(format!(
                    "read_only off{}",
                    self.semi_sync_source(node, true).await
                )))
            }
            Step::Repoint { node, to } => self.repoint(node, to).await,
            Step::StopWrites { node } => self.stop_writes(node).await,
            Step::WaitReached { node, master } => self.wait_reached(node, master).await,
            Step::DisconnectClients { node } => self.disconnect_clients(node).await,
            Step::Reattach { node, to } => self.reattach(node, to).await,
            Step::Level { node, from, to } => self.level(node, from, to).await,
            Step::StopReplication { node } => {
                let s = self.session(node).await?;
                admin::stop_replication(s, &v).await?;
                Ok(Done::ok(
                    "replication stopped; see the report for what to do",
                ))
            }
        }
    }
}

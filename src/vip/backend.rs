//! What every VIP backend does: say where the address points, move it to a
//! node, and say how long a move needs before traffic arrives. The executor,
//! `vip status` and `vip move` see backends only through this trait.

use std::net::Ipv4Addr;
use std::time::Duration;

use futures::future::BoxFuture;

use super::{Moved, Placement, VipError};
use crate::config::NodeConfig;

/// The address and the cluster's nodes, which every backend works with.
#[derive(Clone, Copy)]
pub struct Site<'a> {
    pub address: Ipv4Addr,
    pub nodes: &'a [NodeConfig],
}

pub trait VipBackend: Send + Sync {
    /// Its name in `vip.backends`.
    fn name(&self) -> &'static str;

    /// What it manages, in words (`vip status`, reports).
    fn describe(&self) -> String;

    /// How long traffic may still miss the new master after a move
    /// starts, so that the executor waits that long before routing there.
    fn settle_time(&self) -> Duration {
        Duration::ZERO
    }

    /// Where the address points now: one line per thing it manages (a
    /// backend with several route tables reports each); an unreadable one
    /// is an `Err` naming it.
    fn status<'a>(&'a self, site: Site<'a>) -> BoxFuture<'a, Vec<Result<Placement, String>>>;

    /// Points the address at `to` (away from `from`, when known).
    fn move_to<'a>(
        &'a self,
        site: Site<'a>,
        from: Option<&'a NodeConfig>,
        to: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>>;

    /// Takes the address away from `from` before another node is chosen
    /// (MHA's `stop`), so that a master that was wrongly judged dead gets
    /// no more clients. `Moved::NotHere` when this backend has nothing to
    /// take away, or does not point at `from`.
    fn withdraw<'a>(
        &'a self,
        _site: Site<'a>,
        from: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        Box::pin(async move {
            Ok(Moved::NotHere(format!(
                "{}: nothing to take away from {}; the VIP moves when the new master is known",
                self.name(),
                from.name
            )))
        })
    }
}

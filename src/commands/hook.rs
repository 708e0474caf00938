//! `vipkeeper hook master-ip-failover|master-ip-online-change ARGS`: the
//! VIP part of an MHA failover or online switch, done by vipkeeper's VIP
//! backends for the cluster in vipkeeper's config that holds MHA's master.
//!
//! Exit status as MHA reads it (MasterFailover.pm, MasterRotate.pm):
//! * 0: done.
//! * 10: a backend failed in a way its contract says is not fatal (a
//!   script backend's own exit 10), or the failover's `stop` could not take
//!   a route away (`start` replaces it; refusing would leave no master);
//!   MHA goes on.
//! * 1: abort. `status`: the VIP does not point at MHA's master, or cannot
//!   be read, so MHA refuses to start with it broken. `stop` of an online
//!   change: writes could not be stopped on the old master, so switching
//!   would leave two writers. `start`: the VIP did not move (or does not
//!   read back at the new master): clients would not follow.

use std::process::ExitCode;

use crate::cli::{HookArgs, HookBackend, HookSlot};
use crate::config::{ClusterConfig, NodeConfig};
use crate::mha::{self, Call, FlagBackend, Phase, VipFlags};
use crate::mysql::{admin, Session};
use crate::topology::observe::target;
use crate::vip::{move_vip, placements, withdraw_vip, Moved};

const PROCEED: u8 = 10;

pub async fn run(config_path: &std::path::Path, args: &HookArgs) -> ExitCode {
    let call = match mha::parse(&args.args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for unknown in &call.ignored {
        tracing::debug!("ignoring MHA option --{unknown}");
    }
    let clusters = if let Some(flags) = flags_of(args) {
        match mha::cluster_from(&flags, &call) {
            Ok(c) => vec![c],
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        match super::load_config(config_path) {
            Ok(c) => c.clusters,
            Err(code) => return code,
        }
    };
    // The cluster is the one that holds MHA's master.
    let Some((cluster, old)) = clusters.iter().find_map(|c| {
        mha::find(c, &call.orig, "original master")
            .ok()
            .map(|n| (c, n))
    }) else {
        let why = clusters
            .first()
            .map(|c| mha::find(c, &call.orig, "original master").unwrap_err())
            .unwrap_or_else(|| "the config has no cluster".into());
        eprintln!("error: {why}");
        return ExitCode::FAILURE;
    };
    let result = match (call.phase, args.slot) {
        (Phase::Status, _) => status(cluster, old).await,
        (Phase::Stop { .. }, HookSlot::MasterIpFailover) => withdraw(cluster, old).await,
        (Phase::Stop { .. }, HookSlot::MasterIpOnlineChange) => stop_writes(cluster, old).await,
        (Phase::Start, _) => start(cluster, old, &call).await,
    };
    match result {
        Ok(said) => {
            println!("{}", crate::terminal::safe(&said));
            ExitCode::SUCCESS
        }
        Err(Failed::Proceed(why)) => {
            eprintln!("warning: {}; MHA may proceed", crate::terminal::safe(&why));
            ExitCode::from(PROCEED)
        }
        Err(Failed::Abort(why)) => {
            eprintln!("error: {}", crate::terminal::safe(&why));
            ExitCode::FAILURE
        }
    }
}

/// The flags that stand in for a config, when `--vip` is given.
fn flags_of(args: &HookArgs) -> Option<VipFlags> {
    let address = args.vip?;
    Some(VipFlags {
        address: Some(address),
        backend: args.backend.map(|b| match b {
            HookBackend::AwsRouteTable => FlagBackend::AwsRouteTable,
            HookBackend::LinuxRoute => FlagBackend::LinuxRoute,
        }),
        enis: args.enis.clone(),
        route_tables: args.route_tables.clone(),
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        table: args.routing_table,
    })
}

enum Failed {
    Proceed(String),
    Abort(String),
}

/// Every backend that can tell points at `old`.
async fn status(cluster: &ClusterConfig, old: &NodeConfig) -> Result<String, Failed> {
    if cluster.vip.is_none() {
        return Err(Failed::Abort(format!(
            "cluster {} has no [cluster.vip] section: nothing for this hook to move",
            cluster.name
        )));
    }
    let mut said = Vec::new();
    for p in placements(cluster).await {
        match p {
            Err(e) => return Err(Failed::Abort(e)),
            Ok(p) => match &p.node {
                Some(n) if *n != old.name => {
                    return Err(Failed::Abort(format!(
                        "{} points at {n} ({}), not at MHA's master {}",
                        p.backend, p.target, old.name
                    )))
                }
                None if p.no_node_is_wrong => {
                    return Err(Failed::Abort(format!(
                        "{} points at no node ({})",
                        p.backend, p.target
                    )))
                }
                _ => said.push(format!("{}: {}", p.backend, p.target)),
            },
        }
    }
    Ok(format!("the VIP is at {}: {}", old.name, said.join("; ")))
}

/// Failover, once MHA judged the master dead: the VIP's routes to it go,
/// so that a master wrongly judged dead gets no more clients while MHA
/// recovers. Its host agent drops the address on `lo` once another master
/// is writable. A route that could not be taken away is "proceed" (10):
/// `start` replaces it, and refusing would leave the cluster without a
/// master.
async fn withdraw(cluster: &ClusterConfig, old: &NodeConfig) -> Result<String, Failed> {
    let Some(vip) = &cluster.vip else {
        return Err(Failed::Abort(format!(
            "cluster {} has no [cluster.vip] section",
            cluster.name
        )));
    };
    let mut said = Vec::new();
    let mut failed = Vec::new();
    for (b, r) in withdraw_vip(vip, &cluster.nodes, old).await {
        match r {
            Ok(Moved::FailedProceed(why)) => failed.push(format!("{b}: {why}")),
            Ok(m) => said.push(format!("{b}: {}", m.detail())),
            Err(e) => failed.push(format!("{b}: {e}")),
        }
    }
    if !failed.is_empty() {
        return Err(Failed::Proceed(format!(
            "the VIP could not be taken away from {} ({}); start moves it",
            old.name,
            failed.join("; ")
        )));
    }
    Ok(format!(
        "the VIP is taken away from {}: {}",
        old.name,
        said.join("; ")
    ))
}

/// Online change, before MHA's FLUSH TABLES WITH READ LOCK: the old master
/// refuses writes, and after a grace its application connections go.
async fn stop_writes(cluster: &ClusterConfig, old: &NodeConfig) -> Result<String, Failed> {
    let mut t = target(cluster, &old.host, old.port, &cluster.users.admin);
    t.query_timeout = cluster.failover.statement_timeout;
    let mut s = Session::connect(&t)
        .await
        .map_err(|e| Failed::Abort(format!("cannot connect to {} as {}: {e}", old.name, t.user)))?;
    let result = async {
        let state = crate::mysql::probe::read_state(&mut s).await?;
        admin::set_read_only(&mut s, &state.version, true).await?;
        tokio::time::sleep(cluster.switchover.kill_grace).await;
        admin::kill_client_connections(&mut s, &cluster.own_users()).await
    }
    .await;
    s.close().await;
    let killed = result
        .map_err(|e| Failed::Abort(format!("writes could not be stopped on {}: {e}", old.name)))?;
    Ok(format!(
        "{} is read-only; {killed} application connection(s) killed after {}",
        old.name,
        humantime::format_duration(cluster.switchover.kill_grace)
    ))
}

/// The VIP to MHA's new master, then read back.
async fn start(cluster: &ClusterConfig, old: &NodeConfig, call: &Call) -> Result<String, Failed> {
    let new = mha::find(cluster, &call.new, "new master").map_err(Failed::Abort)?;
    let Some(vip) = &cluster.vip else {
        return Err(Failed::Abort(format!(
            "cluster {} has no [cluster.vip] section",
            cluster.name
        )));
    };
    let moved = move_vip(vip, &cluster.nodes, Some(old), new)
        .await
        .map_err(|e| Failed::Abort(e.to_string()))?;
    let said: Vec<String> = moved
        .iter()
        .map(|(b, m)| format!("{b}: {}", m.detail()))
        .collect();
    if let Some((b, m)) = moved
        .iter()
        .find(|(_, m)| matches!(m, Moved::FailedProceed(_)))
    {
        return Err(Failed::Proceed(format!("{b}: {}", m.detail())));
    }
    for p in placements(cluster).await {
        match p {
            Ok(p) if p.node.as_ref().is_some_and(|n| *n != new.name) => {
                return Err(Failed::Abort(format!(
                    "moved, but {} reads back at {} ({})",
                    p.backend,
                    p.node.unwrap_or_default(),
                    p.target
                )))
            }
            Err(e) => return Err(Failed::Abort(format!("moved, but reading it back: {e}"))),
            Ok(_) => {}
        }
    }
    Ok(format!("the VIP is at {}: {}", new.name, said.join("; ")))
}

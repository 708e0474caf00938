//! `vipkeeper vip status` and `vipkeeper vip move --to NODE`.

use std::process::ExitCode;

use crate::cli::VipCommand;
use crate::config::ClusterConfig;
use crate::topology::{observe, Topology};
use crate::vip::aws_route_table;
use crate::vip::{move_vip, placements};

pub async fn run(config_path: &std::path::Path, cmd: &VipCommand) -> ExitCode {
    match cmd {
        VipCommand::Status { cluster } => status(config_path, cluster.as_deref()).await,
        VipCommand::Move {
            to,
            cluster,
            dry_run,
            force,
        } => move_to(config_path, cluster.as_deref(), to, *dry_run, *force).await,
    }
}

async fn master_of(cluster: &ClusterConfig) -> Option<String> {
    let view = observe(cluster).await;
    let t = Topology::derive(&view, cluster.failover.max_lag.as_secs());
    t.master.filter(|m| {
        view.node(m)
            .and_then(|n| n.state())
            .is_some_and(|s| s.writable())
    })
}

async fn status(config_path: &std::path::Path, cluster: Option<&str>) -> ExitCode {
    let (_, clusters) = match super::load_clusters(config_path, cluster) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut code = ExitCode::SUCCESS;
    for c in &clusters {
        let Some(vip) = &c.vip else {
            println!("cluster {}: no VIP configured", c.name);
            continue;
        };
        // Everything is asked at once: the command takes as long as the
        // slowest backend's deadline, not their sum.
        let (master, places, (details, details_code)) =
            tokio::join!(master_of(c), placements(c), aws_details(c, vip));
        println!(
            "cluster {}: VIP {}, master {}",
            c.name,
            vip.address,
            master.as_deref().unwrap_or("none")
        );
        for p in places {
            match p {
                Ok(p) => {
                    let verdict = match (&p.node, &master) {
                        (Some(n), Some(m)) if n == m => "the master".to_string(),
                        (Some(n), _) => {
                            code = worse(code, 2);
                            format!("{n}, NOT the master")
                        }
                        // A route table whose VIP route is missing, or
                        // points at no node, sends clients nowhere useful.
                        (None, _) if p.no_node_is_wrong => {
                            code = worse(code, 2);
                            "no node: NOT the master".to_string()
                        }
                        (None, _) => "no node".to_string(),
                    };
                    println!("  {}: {} -> {verdict}", p.backend, p.target);
                }
                Err(e) => {
                    println!("  error: {e}");
                    code = ExitCode::FAILURE;
                }
            }
        }
        for line in details {
            println!("  {line}");
        }
        if details_code {
            code = ExitCode::FAILURE;
        }
    }
    code
}

/// For the aws-route-table backend: who this host is, and every node's
/// source/dest check. The lines to print, and whether any was an error.
async fn aws_details(c: &ClusterConfig, vip: &crate::config::VipConfig) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut failed = false;
    for backend in &vip.backends {
        let crate::config::BackendConfig::AwsRouteTable(s) = backend else {
            continue;
        };
        let (me, checks) = tokio::join!(
            crate::aws::this_instance(std::time::Duration::from_secs(1)),
            aws_route_table::source_dest_checks(s, &c.nodes)
        );
        lines.push(match me {
            Ok(me) => {
                let node = c
                    .nodes
                    .iter()
                    .find(|n| {
                        n.instance_id.as_deref() == Some(me.instance_id.as_str())
                            || (me.eni_id.is_some() && n.eni_id == me.eni_id)
                    })
                    .map(|n| format!(", node {}", n.name))
                    .unwrap_or_else(|| ", not a node of this cluster".into());
                format!(
                    "this host (IMDSv2): instance {}, ENI {}{node}",
                    me.instance_id,
                    me.eni_id.as_deref().unwrap_or("unknown")
                )
            }
            Err(e) => format!("this host: not known as an EC2 instance ({e})"),
        });
        for (node, r) in checks {
            lines.push(match r {
                Ok((eni, Some(false))) => format!("{node} {eni}: source/dest check off"),
                Ok((eni, Some(true))) => format!(
                    "{node} {eni}: source/dest check ON (it cannot take VIP traffic until it is off; vipkeeper turns it off when it moves the VIP there)"
                ),
                Ok((eni, None)) => format!("{node} {eni}: source/dest check unknown"),
                Err(e) => {
                    failed = true;
                    format!("{node}: error: {e}")
                }
            });
        }
    }
    (lines, failed)
}

/// `code` unless `new` is worse (1, error, outranks 2, not the master).
fn worse(code: ExitCode, new: u8) -> ExitCode {
    if code == ExitCode::FAILURE {
        code
    } else {
        ExitCode::from(new)
    }
}

async fn move_to(
    config_path: &std::path::Path,
    cluster: Option<&str>,
    to: &str,
    dry_run: bool,
    force: bool,
) -> ExitCode {
    let (config, clusters) = match super::load_clusters(config_path, cluster) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if !dry_run {
        if let Err(code) = super::ready_to_act(&config) {
            return code;
        }
    }
    if clusters.len() > 1 {
        eprintln!(
            "error: {} configures several clusters: name one with --cluster",
            config.path.display()
        );
        return ExitCode::FAILURE;
    }
    let c = &clusters[0];
    let Some(vip) = &c.vip else {
        eprintln!("error: cluster {} has no [cluster.vip] section", c.name);
        return ExitCode::FAILURE;
    };
    let Some(target) = c.node(to) else {
        let names: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
        eprintln!(
            "error: cluster {} has no node {to} (nodes: {})",
            c.name,
            names.join(", ")
        );
        return ExitCode::FAILURE;
    };
    let master = master_of(c).await;
    if master.as_deref() != Some(to) && !force {
        eprintln!(
            "error: {to} is not the writable master (the master is {}): moving the VIP there would send writes to a replica; add --force to do it anyway",
            master.as_deref().unwrap_or("unknown")
        );
        return ExitCode::FAILURE;
    }
    let current: Vec<_> = placements(c).await;
    let from = current
        .iter()
        .filter_map(|p| p.as_ref().ok()?.node.clone())
        .find(|n| n != to)
        .and_then(|n| c.node(&n));
    for p in &current {
        match p {
            Ok(p) => println!(
                "{}: now {} ({})",
                p.backend,
                p.target,
                p.node.as_deref().unwrap_or("no node")
            ),
            Err(e) => println!("error: {e}"),
        }
    }
    if dry_run {
        println!(
            "would move the VIP {} to {to} ({}); nothing changed (--dry-run)",
            vip.address, target.host
        );
        for b in crate::vip::backends(vip) {
            println!("  through {}: {}", b.name(), b.describe());
        }
        // A dry run that could not read where the VIP points found nothing out.
        return if current.iter().any(Result::is_err) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    match move_vip(vip, &c.nodes, from, target).await {
        Ok(done) => {
            for (backend, m) in done {
                println!("{backend}: {}", m.detail());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

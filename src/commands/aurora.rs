//! The commands on an Aurora cluster: Aurora promotes its own writer, so
//! `vipkeeper switchover --to` asks it to (and follows), and `vipkeeper
//! failover` is refused.

use std::process::ExitCode;

use crate::aurora::switch;
use crate::cli::SwitchoverArgs;
use crate::config::{AuroraConfig, ClusterConfig};
use crate::state::ClusterState;

pub async fn switchover(
    state_dir: &std::path::Path,
    cluster: &ClusterConfig,
    aurora: &AuroraConfig,
    args: &SwitchoverArgs,
) -> ExitCode {
    let Some(to) = &args.to else {
        eprintln!(
            "error: cluster {} is an Aurora cluster: name the reader to promote with --to INSTANCE",
            cluster.name
        );
        return ExitCode::from(2);
    };
    let cluster = &match crate::aurora::discover::with_instances(cluster, aurora).await {
        Ok(c) => c,
        Err(why) => {
            println!(
                "switchover refused: the instances cannot be listed: {}; nothing was changed",
                crate::terminal::safe(&why)
            );
            return ExitCode::FAILURE;
        }
    };
    let pre = match switch::preflight(cluster, aurora, to).await {
        Ok(p) => p,
        Err(why) => {
            println!(
                "switchover refused: {}; nothing was changed",
                crate::terminal::safe(&why)
            );
            return ExitCode::FAILURE;
        }
    };
    for line in &pre.lines {
        println!("ok: {}", crate::terminal::safe(line));
    }
    println!(
        "plan: FailoverDBCluster {} to {to}, then clients follow ({} -> {to})",
        aurora.cluster_identifier, pre.writer
    );
    if args.dry_run {
        println!("dry run: nothing was changed");
        return ExitCode::SUCCESS;
    }
    if !args.yes {
        if let Err(why) = super::switchover::confirm(&pre.writer, to, cluster) {
            println!("{why}; nothing was changed");
            return ExitCode::FAILURE;
        }
    }
    let state = ClusterState::new(state_dir, &cluster.name);
    let report = switch::switch(&state, cluster, aurora, &pre, cluster.switchover.deadline).await;
    crate::aurora::act::keep(&state, &report);
    println!("{}", crate::terminal::safe(&report.summary()));
    for (backend, label, detail) in &report.backends {
        println!("  {backend}: {label}: {}", crate::terminal::safe(detail));
    }
    if let Some(why) = &report.why {
        println!("  {}", crate::terminal::safe(why));
    }
    println!("report: {}", report.id);
    if let Some(journal) = &report.journal {
        println!("journal: {journal} (vipkeeper report reads it)");
    }
    if report.outcome == "moved" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Aurora replaces a failed writer itself: there is nothing to fail over.
pub fn no_failover(cluster: &ClusterConfig) -> ExitCode {
    eprintln!(
        "error: cluster {} is an Aurora cluster: Aurora promotes its own writer, and the agent moves clients after it; to choose the writer use `vipkeeper switchover {} --to INSTANCE`",
        cluster.name, cluster.name
    );
    ExitCode::FAILURE
}

//! `vipkeeper switchover CLUSTER [--to NODE] [--dry-run] [--yes]`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use crate::cli::SwitchoverArgs;
use crate::config::{ClusterConfig, Config};
use crate::execute::{Outcome, StepOutcome};
use crate::switchover::{gather_facts, preflight, switch_over, Preflight};
use crate::topology::{observe, Topology};

pub async fn run(config_path: &std::path::Path, args: &SwitchoverArgs) -> ExitCode {
    let (config, clusters) = match super::load_clusters(config_path, Some(&args.cluster)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(code) = super::ready_to_act(&config) {
        return code;
    }
    let cluster = &clusters[0];
    if let Some(aurora) = &cluster.aurora {
        return super::aurora::switchover(&config.agent.state_dir, cluster, aurora, args).await;
    }
    let check = look(&config, cluster, args).await;
    print!("{}", crate::terminal::safe(&check.describe()));
    // Present only when every check passed.
    let Some(plan) = check.plan else {
        println!("switchover refused: nothing was changed");
        return ExitCode::FAILURE;
    };
    if args.dry_run {
        println!("dry run: nothing was changed");
        return ExitCode::SUCCESS;
    }
    if !args.yes {
        if let Err(why) = confirm(&plan.old_master, &plan.candidate, cluster) {
            println!("{why}; nothing was changed");
            return ExitCode::FAILURE;
        }
        // The answer may have taken a while: check again, on what is true now.
        let again = look(&config, cluster, args).await;
        match again.plan {
            Some(p) if p.candidate == plan.candidate => {}
            _ => {
                print!("{}", crate::terminal::safe(&again.describe()));
                println!("the cluster changed while waiting for confirmation; nothing was changed");
                return ExitCode::FAILURE;
            }
        }
    }
    // The freshest view: the executor reads versions and server ids from it.
    let view = observe(cluster).await;
    let shield = hold_off_interrupts(cluster.switchover.deadline);
    let report = switch_over(&config.agent, cluster, &view, &plan).await;
    shield.abort();
    print!("{}", crate::terminal::safe(&report.summary()));
    match report.outcome {
        Outcome::Success
            if report
                .steps
                .iter()
                .any(|s| s.outcome == StepOutcome::Failed) =>
        {
            ExitCode::from(2)
        }
        Outcome::Success => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// Observes the cluster and runs the preflight checks on what it saw.
async fn look(config: &Config, cluster: &ClusterConfig, args: &SwitchoverArgs) -> Preflight {
    let view = observe(cluster).await;
    let topology = Topology::derive(&view, cluster.failover.max_lag.as_secs());
    let facts = gather_facts(&config.agent, cluster, &topology).await;
    preflight(&view, &topology, cluster, args.to.as_deref(), &facts)
}

/// Ctrl-C or SIGTERM while writes are blocked must not leave the old master
/// read-only: while the switchover runs they are reported and ignored; it
/// finishes or rolls back on its own, bounded by `switchover.deadline`.
fn hold_off_interrupts(deadline: std::time::Duration) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return tokio::spawn(async {});
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            eprintln!(
                "the switchover is running and will not be interrupted: it finishes, or rolls back, within {} of the write block (switchover.deadline)",
                humantime::format_duration(deadline)
            );
        }
    })
}

pub(super) fn confirm(from: &str, to: &str, cluster: &ClusterConfig) -> Result<(), String> {
    if !std::io::stdin().is_terminal() {
        return Err(
            "not confirmed: standard input is not a terminal (pass --yes to switch without asking)"
                .into(),
        );
    }
    print!(
        "Switch the master of cluster {} from {from} to {to}? Writes pause for up to {}. [y/N] ",
        cluster.name,
        humantime::format_duration(cluster.switchover.deadline)
    );
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    match answer.trim() {
        "y" | "Y" | "yes" => Ok(()),
        _ => Err("not confirmed".into()),
    }
}

//! `vipkeeper failover CLUSTER [--dry-run]`: an operator-initiated failover
//! of a dead master. The operator's word replaces the count of misses, not
//! the replicas' confirmation: a master that any replica still hears is not
//! failed over.

use std::process::ExitCode;
use std::time::Duration;

use crate::analysis::{analyze, Analysis, History};
use crate::cli::FailoverArgs;
use crate::config::ClusterConfig;
use crate::execute::restart_io_threads;
use crate::execute::{Outcome, StepOutcome, Trigger};
use crate::failover::fail_over;
use crate::plan::plan;
use crate::topology::{observe, ClusterView, Topology};

pub async fn run(config_path: &std::path::Path, args: &FailoverArgs) -> ExitCode {
    let (config, clusters) = match super::load_clusters(config_path, Some(&args.cluster)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(code) = super::ready_to_act(&config) {
        return code;
    }
    let cluster = &clusters[0];
    if cluster.aurora.is_some() {
        return super::aurora::no_failover(cluster);
    }
    let (view, topology, analysis, history) = look(cluster).await;
    let (view, topology, analysis, history) = match &analysis {
        // Replicas that still claim a connection to a silent master: ask
        // them to reconnect, then look again.
        Analysis::MasterUnreachable {
            stale,
            still_receiving,
            ..
        } if !stale.is_empty() && still_receiving.is_empty() => {
            restart_io_threads(cluster, &view, stale).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            look(cluster).await
        }
        _ => (view, topology, analysis, history),
    };

    let master = match (&analysis, args.dry_run) {
        (
            Analysis::DeadMaster {
                master, evidence, ..
            },
            _,
        ) => {
            println!("{master} is dead: {evidence}");
            master.clone()
        }
        (Analysis::Healthy { master }, true) => {
            println!("{master} is alive: this is what a failover would do now");
            master.clone()
        }
        (other, _) => {
            println!(
                "not failing over: {}",
                crate::terminal::safe(&other.describe())
            );
            if let Analysis::Healthy { .. } | Analysis::MasterAlive { .. } = other {
                println!("(a planned change of a live master is a switchover, not a failover)");
            }
            return ExitCode::FAILURE;
        }
    };

    let planned = plan(&view, &topology, &master, cluster, &history);
    if args.dry_run {
        return match planned {
            Ok(p) => {
                print!("{}", p.describe());
                ExitCode::SUCCESS
            }
            Err(r) => {
                println!("refused: {}", r.why);
                for c in &r.considered {
                    println!("  {}: {}", c.name, c.verdict);
                }
                ExitCode::FAILURE
            }
        };
    }
    let report = fail_over(
        &config.agent,
        cluster,
        &view,
        &master,
        planned,
        (Trigger::Manual, &mut crate::execute::Alone),
    )
    .await;
    print!("{}", crate::terminal::safe(&report.summary()));
    match report.outcome {
        // Promoted, but a best-effort step (fencing, repointing) failed.
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

/// Observes and analyses, counting one failed probe as enough on the
/// manager's side: the operator says the master is dead.
async fn look(cluster: &ClusterConfig) -> (ClusterView, Topology, Analysis, History) {
    let view = observe(cluster).await;
    let topology = Topology::derive(&view, cluster.failover.max_lag.as_secs());
    let mut history = History::default();
    let analysis = analyze(&view, &topology, &history, 1);
    history.record(&view, &topology);
    (view, topology, analysis, history)
}

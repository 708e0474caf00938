//! `vipkeeper ack CLUSTER`

use std::process::ExitCode;

use crate::cli::AckArgs;
use crate::state::ClusterState;

pub async fn run(config_path: &std::path::Path, args: &AckArgs) -> ExitCode {
    let (config, clusters) = match super::load_clusters(config_path, Some(&args.cluster)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let cluster = &clusters[0];
    match ClusterState::new(&config.agent.state_dir, &cluster.name).ack() {
        Ok(Some(last)) => {
            println!(
                "acknowledged failover {} of cluster {} ({} -> {}, {}): the next automatic failover may run",
                last.id,
                cluster.name,
                last.dead_master,
                last.new_master.as_deref().unwrap_or("none"),
                last.outcome
            );
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("cluster {} has no failover to acknowledge", cluster.name);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `vipkeeper ack CLUSTER`

use std::process::ExitCode;

use crate::cli::AckArgs;
use crate::failover::ClusterState;

pub async fn run(config_path: &std::path::Path, args: &AckArgs) -> ExitCode {
    let config = match super::load_config(config_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let cluster = match super::select_clusters(&config, Some(&args.cluster)) {
        Ok(c) => c[0],
        Err(code) => return code,
    };
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

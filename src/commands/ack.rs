//! `vipkeeper ack CLUSTER`: the operator has looked at the last failover;
//! the next automatic one may run. With several managers the block period
//! lives in etcd (the failover record every manager reads), and is
//! acknowledged there too.

use std::process::ExitCode;

use crate::cli::AckArgs;
use crate::config::CoordinationConfig;
use crate::execute::Progress;
use crate::state::{ClusterState, LastFailover};

pub async fn run(config_path: &std::path::Path, args: &AckArgs) -> ExitCode {
    let (config, clusters) = match super::load_clusters(config_path, Some(&args.cluster)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let cluster = &clusters[0];
    let acked = match &config.coordination {
        Some(c) => ack_in_etcd(c, &cluster.name).await,
        None => ClusterState::new(&config.agent.state_dir, &cluster.name).ack(),
    };
    match acked {
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

/// Marks the ended failover in etcd acknowledged (one in flight is not:
/// the managers are finishing it).
async fn ack_in_etcd(
    c: &CoordinationConfig,
    cluster: &str,
) -> Result<Option<LastFailover>, String> {
    let written = crate::coord::record::edit(c, cluster, |text| {
        let mut p: Progress = serde_json::from_str(text).ok()?;
        p.last_failover()?;
        p.acked = true;
        Some(serde_json::to_string(&p).expect("progress serializes"))
    })
    .await
    .map_err(|e| format!("cannot acknowledge in etcd: {e}"))?;
    Ok(written
        .and_then(|t| serde_json::from_str::<Progress>(&t).ok())
        .and_then(|p| p.last_failover()))
}

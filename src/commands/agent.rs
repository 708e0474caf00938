//! `vipkeeper agent`

use std::process::ExitCode;

use crate::cli::AgentArgs;

pub async fn run(config_path: &std::path::Path, args: &AgentArgs) -> ExitCode {
    let (config, clusters) = match super::load_clusters(config_path, args.cluster.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(code) = super::ready_to_act(&config) {
        return code;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for c in clusters {
        match &args.local_node {
            Some(node) => {
                if c.node(node).is_none() {
                    eprintln!("error: cluster {} has no node {node}", c.name);
                    return ExitCode::FAILURE;
                }
                tasks.spawn(crate::agent::local::run(c.clone(), node.clone()));
            }
            None => {
                tasks.spawn(crate::agent::run_cluster(config.agent.clone(), c.clone()));
            }
        }
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping"),
        _ = terminate() => tracing::info!("terminated: stopping"),
        _ = tasks.join_next() => tracing::error!("a cluster loop ended unexpectedly"),
    }
    ExitCode::SUCCESS
}

async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

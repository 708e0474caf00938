//! `vipkeeper agent`: the service (see `agent::service`), with its HTTP API
//! and metrics when `agent.listen` is set.

use std::process::ExitCode;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;

use crate::agent::board::Board;
use crate::agent::service::{self, Role, Service};
use crate::cli::AgentArgs;

pub async fn run(config_path: &std::path::Path, args: &AgentArgs) -> ExitCode {
    let (config, clusters) = match super::load_clusters(config_path, args.cluster.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(code) = super::ready_to_act(&config) {
        return code;
    }
    let role = match &args.local_node {
        Some(node) => {
            if let Some(c) = clusters.iter().find(|c| c.node(node).is_none()) {
                eprintln!("error: cluster {} has no node {node}", c.name);
                return ExitCode::FAILURE;
            }
            Role::Host { node: node.clone() }
        }
        None => Role::Manager,
    };
    let listen = match (&args.listen, &role) {
        (Some(l), _) if l.is_empty() => None,
        (Some(l), _) => match l.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                eprintln!("error: --listen {l} is not an address and port (e.g. 127.0.0.1:9106)");
                return ExitCode::FAILURE;
            }
        },
        // A host agent shares its host with a database, often with the
        // manager too: no port unless asked.
        (None, Role::Host { .. }) => None,
        (None, Role::Manager) => config.agent.listen,
    };
    let board = Board::default();
    if let Some(addr) = listen {
        let handle = match PrometheusBuilder::new()
            .set_buckets(&crate::telemetry::BUCKETS)
            .and_then(|b| b.install_recorder())
        {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: cannot set up the metrics: {e}");
                return ExitCode::FAILURE;
            }
        };
        crate::telemetry::describe();
        let listener = match crate::api::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!("HTTP API on http://{addr} (/health, /status, /metrics)");
        // Histograms keep their samples until upkeep folds them in.
        let upkeep = handle.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                upkeep.run_upkeep();
            }
        });
        tokio::spawn(crate::api::serve(
            listener,
            crate::api::router(board.clone(), handle),
        ));
    }
    let svc = Service::new(role, args.cluster.clone(), board, &config);
    service::run(svc, config_path).await
}

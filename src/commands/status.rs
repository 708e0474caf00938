//! `vipkeeper status`

use std::process::ExitCode;

use crate::cli::StatusArgs;
use crate::topology::render::{cluster_status, render_text, StatusDocument, STATUS_SCHEMA};
use crate::topology::{observe, Topology};

pub async fn run(config_path: &std::path::Path, args: &StatusArgs) -> ExitCode {
    let (_, clusters) = match super::load_clusters(config_path, args.cluster.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let views = futures::future::join_all(clusters.iter().map(observe)).await;
    let topologies: Vec<Topology> = views
        .iter()
        .zip(&clusters)
        .map(|(v, c)| Topology::derive(v, c.failover.max_lag.as_secs()))
        .collect();

    if args.json {
        let doc = StatusDocument {
            schema: STATUS_SCHEMA,
            clusters: views
                .iter()
                .zip(&topologies)
                .map(|(v, t)| cluster_status(v, t))
                .collect(),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("status serializes")
        );
    } else {
        for (i, (v, t)) in views.iter().zip(&topologies).enumerate() {
            if i > 0 {
                println!();
            }
            print!("{}", crate::terminal::safe(&render_text(v, t)));
        }
    }

    let nothing_reachable = views
        .iter()
        .any(|v| v.nodes.iter().all(|n| n.state().is_none()));
    if nothing_reachable {
        ExitCode::FAILURE
    } else if topologies.iter().any(|t| !t.warnings.is_empty()) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

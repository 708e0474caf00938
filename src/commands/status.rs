//! `vipkeeper status`

use std::process::ExitCode;

use crate::cli::StatusArgs;
use crate::coord::managers::{self, Managers};
use crate::topology::render::{cluster_status, render_text, StatusDocument, STATUS_SCHEMA};
use crate::topology::{observe, Topology};

pub async fn run(config_path: &std::path::Path, args: &StatusArgs) -> ExitCode {
    let (config, all) = match super::load_clusters(config_path, args.cluster.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Aurora clusters have a writer, not a replication tree.
    let aurora = futures::future::join_all(
        all.iter()
            .filter_map(|c| Some(crate::aurora::status::status(c, c.aurora.as_ref()?))),
    )
    .await;
    // Several managers: who leads each cluster, and what each sees.
    let managers: Vec<Result<Managers, String>> = match &config.coordination {
        Some(c) => {
            futures::future::join_all(all.iter().map(|cl| managers::read(c, &cl.name))).await
        }
        None => Vec::new(),
    };
    let clusters: Vec<_> = all.into_iter().filter(|c| c.aurora.is_none()).collect();
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
        let mut value = serde_json::to_value(&doc).expect("status serializes");
        if !aurora.is_empty() {
            value["aurora"] = serde_json::to_value(&aurora).expect("status serializes");
        }
        if !managers.is_empty() {
            value["managers"] = serde_json::to_value(&managers).expect("status serializes");
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("status serializes")
        );
    } else {
        let texts = views
            .iter()
            .zip(&topologies)
            .map(|(v, t)| render_text(v, t))
            .chain(aurora.iter().map(|a| a.render()))
            .chain(managers.iter().map(|m| match m {
                Ok(m) => m.render(),
                Err(e) => format!("managers: cannot be read from etcd: {e}\n"),
            }));
        for (i, text) in texts.enumerate() {
            if i > 0 {
                println!();
            }
            print!("{}", crate::terminal::safe(&text));
        }
    }

    let nothing_reachable = views
        .iter()
        .any(|v| v.nodes.iter().all(|n| n.state().is_none()))
        || aurora.iter().any(|a| {
            a.instances
                .iter()
                .all(|(_, s)| s.starts_with("unreachable"))
        });
    if nothing_reachable {
        ExitCode::FAILURE
    } else if topologies.iter().any(|t| !t.warnings.is_empty())
        || aurora.iter().any(|a| !a.healthy())
    {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

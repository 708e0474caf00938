//! "Am I the writer?", asked of every instance at once over SQL with the
//! monitor account, each within the cluster's connect and query timeouts.

use futures::future::join_all;

use crate::config::{ClusterConfig, NodeConfig};
use crate::mysql::Session;
use crate::topology::observe::target;

/// Each instance's answer, in the config's order.
pub async fn ask_all(cluster: &ClusterConfig, query: &str) -> Vec<(String, Result<bool, String>)> {
    join_all(
        cluster
            .nodes
            .iter()
            .map(|n| async move { (n.name.clone(), ask(cluster, n, query).await) }),
    )
    .await
}

async fn ask(cluster: &ClusterConfig, node: &NodeConfig, query: &str) -> Result<bool, String> {
    let t = target(cluster, &node.host, node.port, &cluster.users.monitor);
    let mut s = Session::connect(&t).await.map_err(|e| e.to_string())?;
    let row = s.first(query).await;
    s.close().await;
    let row = row
        .map_err(|e| e.to_string())?
        .ok_or("the writer query returned no row")?;
    // One column, or the one named `writer`.
    let value = if row.len() == 1 {
        row.values().next().cloned().flatten()
    } else {
        row.get("writer").cloned().flatten()
    };
    match value.as_deref() {
        Some("1") => Ok(true),
        Some("0") | None => Ok(false),
        Some(other) => Err(format!("the writer query answered `{other}`, not 1 or 0")),
    }
}

/// Each instance's replica lag in milliseconds, as `query` asked of the
/// writer gives it (rows of `instance` and `lag_ms`).
pub async fn lags(
    cluster: &ClusterConfig,
    writer: &NodeConfig,
    query: &str,
) -> Result<std::collections::BTreeMap<String, f64>, String> {
    let t = target(cluster, &writer.host, writer.port, &cluster.users.monitor);
    let mut s = Session::connect(&t).await.map_err(|e| e.to_string())?;
    let rows = s.rows(query).await;
    s.close().await;
    rows.map_err(|e| e.to_string())?
        .into_iter()
        .map(|row| {
            let field = |name: &str| row.get(name).cloned().flatten();
            match (field("instance"), field("lag_ms")) {
                (Some(i), Some(l)) => match l.parse::<f64>() {
                    Ok(ms) => Ok((i, ms)),
                    Err(_) => Err(format!(
                        "the lag query answered `{l}` for {i}, not a number"
                    )),
                },
                _ => Err("the lag query must answer `instance` and `lag_ms` columns".to_string()),
            }
        })
        .collect()
}

//! `vipkeeper status` for an Aurora cluster: who SQL and the RDS API name
//! the writer, each instance's answer, and where what clients use goes.

use serde::Serialize;

use super::{api, probe};
use crate::config::{AuroraConfig, ClusterConfig};
use crate::vip::{placements, Placement};

#[derive(Debug, Clone, Serialize)]
pub struct AuroraStatus {
    pub cluster: String,
    pub cluster_identifier: String,
    /// The one instance answering SQL as the writer, if exactly one does.
    pub writer: Option<String>,
    /// Each instance: `writer`, `reader`, or `unreachable: why`.
    pub instances: Vec<(String, String)>,
    /// Each reader's replica lag (ms), as the writer reports it, or why
    /// it could not be read.
    pub lag_ms: Result<std::collections::BTreeMap<String, f64>, String>,
    /// The writer the RDS API names, or why it could not be asked.
    pub api_writer: Result<Option<String>, String>,
    /// Where each backend points.
    pub clients: Vec<Result<Placement, String>>,
}

impl AuroraStatus {
    /// All agree: one writer, the API names it, every backend points there.
    pub fn healthy(&self) -> bool {
        let Some(w) = &self.writer else {
            return false;
        };
        self.api_writer.as_ref().ok().and_then(|a| a.as_ref()) == Some(w)
            && self.clients.iter().all(|c| match c {
                Ok(p) => p.node.as_ref().is_none_or(|n| n == w),
                Err(_) => false,
            })
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "cluster {} (Aurora cluster {}): writer {}\n",
            self.cluster,
            self.cluster_identifier,
            self.writer.as_deref().unwrap_or("unknown")
        );
        for (name, answer) in &self.instances {
            let lag = match &self.lag_ms {
                Ok(lags) if answer == "reader" => lags
                    .get(name)
                    .map(|l| format!(", lag {l:.0} ms"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            out.push_str(&format!("  {name}: {answer}{lag}\n"));
        }
        if let Err(e) = &self.lag_ms {
            out.push_str(&format!("  lag: not known ({e})\n"));
        }
        out.push_str(&format!(
            "  RDS API: {}\n",
            match &self.api_writer {
                Ok(Some(w)) => format!("writer {w}"),
                Ok(None) => "no writer".into(),
                Err(e) => format!("cannot be asked: {e}"),
            }
        ));
        for c in &self.clients {
            out.push_str(&match c {
                Ok(p) => format!(
                    "  clients: {}: {} -> {}\n",
                    p.backend,
                    p.target,
                    p.node.as_deref().unwrap_or("no instance")
                ),
                Err(e) => format!("  clients: error: {e}\n"),
            });
        }
        out
    }
}

pub async fn status(cluster: &ClusterConfig, aurora: &AuroraConfig) -> AuroraStatus {
    // No instances listed: the RDS API lists them (when it cannot, the
    // status says so as the API's answer).
    let listed = super::discover::with_instances(cluster, aurora).await;
    let cluster = listed.as_ref().unwrap_or(cluster);
    let (sql, api_writer, clients) = tokio::join!(
        probe::ask_all(cluster, &aurora.writer_query),
        api::writer(aurora),
        placements(cluster)
    );
    let writers: Vec<&String> = sql
        .iter()
        .filter(|(_, a)| matches!(a, Ok(true)))
        .map(|(n, _)| n)
        .collect();
    let writer = match writers[..] {
        [one] => Some(one.clone()),
        _ => None,
    };
    let lag_ms = match writer.as_deref().and_then(|w| cluster.node(w)) {
        Some(w) => probe::lags(cluster, w, &aurora.lag_query).await,
        None => Err("no single writer to ask".into()),
    };
    AuroraStatus {
        cluster: cluster.name.clone(),
        cluster_identifier: aurora.cluster_identifier.clone(),
        writer,
        lag_ms,
        instances: sql
            .iter()
            .map(|(n, a)| {
                (
                    n.clone(),
                    match a {
                        Ok(true) => "writer".to_string(),
                        Ok(false) => "reader".to_string(),
                        Err(e) => format!("unreachable: {e}"),
                    },
                )
            })
            .collect(),
        api_writer,
        clients,
    }
}

//! Moving what clients use to Aurora's new writer, through the cluster's
//! VIP backends, and the report of it (or of a conflict that was not acted
//! on) in the cluster's state directory.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::decide::{Basis, Evidence};
use crate::config::ClusterConfig;
use crate::state::{write_private, ClusterState};
use crate::vip::move_vip;

/// What one decision did, as written to `reports/<id>.json`.
#[derive(Debug, Clone, Serialize)]
pub struct AuroraReport {
    pub id: String,
    pub cluster: String,
    pub kind: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub basis: Option<Basis>,
    /// What every instance and the RDS API answered.
    pub evidence: Evidence,
    /// Why nothing was done (a conflict), or what failed.
    pub why: Option<String>,
    /// Each backend's result: (backend, done / already-there / ..., detail).
    pub backends: Vec<(String, String, String)>,
    /// From the decision to every backend done.
    pub move_ms: Option<u128>,
    pub outcome: &'static str,
}

impl AuroraReport {
    pub fn summary(&self) -> String {
        match (self.outcome, &self.to) {
            ("moved", Some(to)) => format!(
                "{}: clients now go to {to}, Aurora's writer ({}), in {} ms",
                self.cluster,
                self.basis.map(Basis::describe).unwrap_or(""),
                self.move_ms.unwrap_or(0)
            ),
            _ => format!(
                "{}: {} ({})",
                self.cluster,
                self.outcome,
                self.why.as_deref().unwrap_or("")
            ),
        }
    }
}

fn new_id(cluster: &str) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    format!("{cluster}-aurora-{ms}")
}

/// Points every VIP backend at `to`; the report says how it went.
pub async fn move_clients(
    cluster: &ClusterConfig,
    from: Option<&str>,
    to: &str,
    basis: Basis,
    evidence: &Evidence,
) -> AuroraReport {
    let started = Instant::now();
    let mut report = AuroraReport {
        id: new_id(&cluster.name),
        cluster: cluster.name.clone(),
        kind: "aurora-writer-change",
        from: from.map(str::to_string),
        to: Some(to.to_string()),
        basis: Some(basis),
        evidence: evidence.clone(),
        why: None,
        backends: Vec::new(),
        move_ms: None,
        outcome: "failed",
    };
    let (Some(vip), Some(new)) = (&cluster.vip, cluster.node(to)) else {
        report.why = Some(format!(
            "{to} is not a node of cluster {}, or the cluster has no [cluster.vip]: nothing to move",
            cluster.name
        ));
        return report;
    };
    let old = from.and_then(|f| cluster.node(f));
    match move_vip(vip, &cluster.nodes, old, new).await {
        Ok(moved) => {
            report.backends = moved
                .iter()
                .map(|(b, m)| (b.to_string(), m.label().to_string(), m.detail().to_string()))
                .collect();
            report.move_ms = Some(started.elapsed().as_millis());
            report.outcome = "moved";
        }
        Err(e) => report.why = Some(e.to_string()),
    }
    report
}

/// Points every Route 53 reader record at the healthy readers (`healthy`:
/// the instances answering SQL as readers), or at `writer` when none is.
/// Returns what changed, a line per record.
pub async fn readers(
    cluster: &ClusterConfig,
    healthy: &[String],
    writer: &str,
) -> Result<Vec<String>, String> {
    let (Some(vip), Some(w)) = (&cluster.vip, cluster.node(writer)) else {
        return Ok(Vec::new());
    };
    let readers: Vec<&crate::config::NodeConfig> = healthy
        .iter()
        .filter(|n| *n != writer)
        .filter_map(|n| cluster.node(n))
        .collect();
    let mut said = Vec::new();
    for b in &vip.backends {
        if let crate::config::BackendConfig::AwsRoute53(s) = b {
            if let Some(line) = crate::vip::aws_route53::set_readers(s, &readers, w)
                .await
                .map_err(|e| e.message)?
            {
                said.push(line);
            }
        }
    }
    Ok(said)
}

/// A conflict that was reported and not acted on.
pub fn conflict(cluster: &ClusterConfig, why: &str, evidence: &Evidence) -> AuroraReport {
    AuroraReport {
        id: new_id(&cluster.name),
        cluster: cluster.name.clone(),
        kind: "aurora-conflict",
        from: None,
        to: None,
        basis: None,
        evidence: evidence.clone(),
        why: Some(why.to_string()),
        backends: Vec::new(),
        move_ms: None,
        outcome: "not-acted-on",
    }
}

/// Writes the report (0600) under the cluster's state directory.
pub fn keep(state: &ClusterState, report: &AuroraReport) {
    let written = state.report_path(&report.id).and_then(|p| {
        write_private(
            &p,
            &serde_json::to_vec_pretty(report).expect("serializable"),
        )
    });
    if let Err(e) = written {
        tracing::error!(cluster = %report.cluster, "cannot write the report {}: {e}", report.id);
    }
}

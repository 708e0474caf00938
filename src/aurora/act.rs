//! Moving what clients use to Aurora's new writer, through the cluster's
//! VIP backends, and the report of it (or of a conflict that was not acted
//! on) in the cluster's state directory.

use std::time::Instant;

use serde::Serialize;

use super::decide::{Basis, Evidence};
use super::episode::Episode;
use crate::config::ClusterConfig;
use crate::state::{write_private, ClusterState};
use crate::vip::move_vip;

/// What one decision did, as written to `reports/<id>.json`.
#[derive(Debug, Clone, Serialize)]
pub struct AuroraReport {
    pub id: String,
    /// The journal of the same id: every decision on the way.
    pub journal: Option<String>,
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

impl AuroraReport {
    /// Episode `ep`'s report: `kind`, on `evidence`, nothing done yet.
    fn of(ep: &Episode, cluster: &ClusterConfig, kind: &'static str, evidence: &Evidence) -> Self {
        Self {
            id: ep.id.clone(),
            journal: Some(ep.journal_path()),
            cluster: cluster.name.clone(),
            kind,
            from: ep.from.clone(),
            to: None,
            basis: None,
            evidence: evidence.clone(),
            why: None,
            backends: Vec::new(),
            move_ms: None,
            outcome: "failed",
        }
    }
}

/// Points every VIP backend at `to`; the report says how it went.
pub async fn move_clients(
    ep: &Episode,
    cluster: &ClusterConfig,
    to: &str,
    basis: Basis,
    evidence: &Evidence,
) -> AuroraReport {
    let started = Instant::now();
    let from = ep.from.as_deref();
    let mut report = AuroraReport {
        to: Some(to.to_string()),
        basis: Some(basis),
        ..AuroraReport::of(ep, cluster, "aurora-writer-change", evidence)
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
            if let Some(line) = crate::vip::aws_route53_readers::set_readers(s, &readers, w)
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
pub fn conflict(
    ep: &Episode,
    cluster: &ClusterConfig,
    why: &str,
    evidence: &Evidence,
) -> AuroraReport {
    AuroraReport {
        why: Some(why.to_string()),
        outcome: "not-acted-on",
        ..AuroraReport::of(ep, cluster, "aurora-conflict", evidence)
    }
}

/// The writer settled where clients already go (an answer that flapped,
/// a promotion that did not happen): nothing was moved.
pub fn unchanged(
    ep: &Episode,
    cluster: &ClusterConfig,
    writer: &str,
    evidence: &Evidence,
) -> AuroraReport {
    AuroraReport {
        to: Some(writer.to_string()),
        why: Some(format!(
            "{writer} is the writer again and clients already go there: nothing moved"
        )),
        outcome: "unchanged",
        ..AuroraReport::of(ep, cluster, "aurora-no-change", evidence)
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

//! What one tick of a cluster's loop records (names: `telemetry`).

use std::time::SystemTime;

use metrics::{counter, gauge, histogram};

use crate::analysis::Analysis;
use crate::config::ClusterConfig;
use crate::telemetry::{
    ANALYSIS, LAST_TICK, LEADER, LEADERSHIP_CHANGES, NODE_WRITABLE, PROBE_FAILURES, PROBE_SECONDS,
    REPLICATION_LAG,
};
use crate::topology::ClusterView;

pub fn tick(cluster: &ClusterConfig, view: &ClusterView, analysis: &Analysis) {
    let c = cluster.name.clone();
    for n in &view.nodes {
        let labels = [("cluster", c.clone()), ("node", n.name.clone())];
        histogram!(PROBE_SECONDS, &labels).record(n.probe.elapsed.as_secs_f64());
        match (n.state(), n.error()) {
            (Some(s), _) => {
                gauge!(NODE_WRITABLE, &labels).set(if s.writable() { 1.0 } else { 0.0 });
                if let Some(lag) = s.replica.as_ref().and_then(|r| r.seconds_behind) {
                    gauge!(REPLICATION_LAG, &labels).set(lag as f64);
                }
            }
            (None, Some(e)) => {
                counter!(
                    PROBE_FAILURES,
                    "cluster" => c.clone(),
                    "node" => n.name.clone(),
                    "kind" => e.kind.label()
                )
                .increment(1);
            }
            (None, None) => {}
        }
    }
    for state in Analysis::LABELS {
        let now = if state == analysis.label() { 1.0 } else { 0.0 };
        gauge!(ANALYSIS, "cluster" => c.clone(), "state" => state).set(now);
    }
    let unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    gauge!(LAST_TICK, "cluster" => c).set(unix);
}

/// This manager's role in `cluster` changed to `role`.
pub fn leadership(cluster: &str, role: &'static str) {
    counter!(LEADERSHIP_CHANGES, "cluster" => cluster.to_string(), "role" => role).increment(1);
    gauge!(LEADER, "cluster" => cluster.to_string()).set(if role == "leader" { 1.0 } else { 0.0 });
}

//! The Prometheus metrics vipkeeper exports (docs/METRICS.md): their names
//! and help texts in one place. The loops and the executor record through
//! the `metrics` facade; the agent installs the exporter and serves
//! `/metrics`. Without the agent nothing is recorded, at no cost.

pub const PROBE_SECONDS: &str = "vipkeeper_probe_duration_seconds";
pub const PROBE_FAILURES: &str = "vipkeeper_probe_failures_total";
pub const ANALYSIS: &str = "vipkeeper_analysis";
pub const REPLICATION_LAG: &str = "vipkeeper_replication_lag_seconds";
pub const NODE_WRITABLE: &str = "vipkeeper_node_writable";
pub const LAST_TICK: &str = "vipkeeper_last_tick_timestamp_seconds";
pub const CHANGES: &str = "vipkeeper_changes_total";
pub const STEP_SECONDS: &str = "vipkeeper_step_duration_seconds";
pub const VIP_MOVES: &str = "vipkeeper_vip_moves_total";
pub const LEADER: &str = "vipkeeper_leader";
pub const LEADERSHIP_CHANGES: &str = "vipkeeper_leadership_changes_total";
pub const LEASE_RENEW_SECONDS: &str = "vipkeeper_lease_renew_duration_seconds";

/// Histogram buckets, in seconds: a probe or a step takes milliseconds
/// when things are well and up to its timeout when not.
pub const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Registers every metric's help text and unit.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_histogram!(
        PROBE_SECONDS,
        Unit::Seconds,
        "How long probing a node took (labels: cluster, node)"
    );
    describe_counter!(
        PROBE_FAILURES,
        "Probes that failed (labels: cluster, node, kind: refused, timeout, unreachable, connection-lost, access-denied, server, other)"
    );
    describe_gauge!(
        ANALYSIS,
        "1 for the cluster's current analysis state, 0 for the others (labels: cluster, state)"
    );
    describe_gauge!(
        REPLICATION_LAG,
        Unit::Seconds,
        "Seconds_Behind_Source of each replica, as last probed (labels: cluster, node)"
    );
    describe_gauge!(
        NODE_WRITABLE,
        "1 when the node is writable (read_only off), 0 when read-only (labels: cluster, node)"
    );
    describe_gauge!(
        LAST_TICK,
        Unit::Seconds,
        "When the cluster's loop last finished a round (Unix time; labels: cluster)"
    );
    describe_counter!(
        CHANGES,
        "Failovers, switchovers and rollbacks run, by outcome (labels: cluster, kind, outcome)"
    );
    describe_histogram!(
        STEP_SECONDS,
        Unit::Seconds,
        "How long each step of a failover or switchover took (labels: kind, step, outcome)"
    );
    describe_counter!(
        VIP_MOVES,
        "VIP moves by backend and result (labels: cluster, backend, result: done, already-there, not-here, failed-proceed, failed)"
    );
    describe_gauge!(
        LEADER,
        "1 while this manager leads the cluster through etcd, 0 while it does not (labels: cluster)"
    );
    describe_counter!(
        LEADERSHIP_CHANGES,
        "Times this manager's role in a cluster changed (labels: cluster, role: leader, follower, unknown)"
    );
    describe_histogram!(
        LEASE_RENEW_SECONDS,
        Unit::Seconds,
        "How long renewing this manager's etcd lease took"
    );
}

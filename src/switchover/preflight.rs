//! Whether a live master can hand over now, and the plan if so. Pure: the
//! caller gathers the facts (the cluster view, long transactions, where the
//! VIP points, whether a failover holds the lock) and `--dry-run` prints
//! exactly what this decides.

use std::time::Duration;

use serde::Serialize;

use crate::analysis::History;
use crate::candidate::{choose, Considered, Verdict};
use crate::config::ClusterConfig;
use crate::mysql::replica_status::IoThread;
use crate::plan::Plan;
use crate::topology::{ClusterView, Topology};
use crate::vip::Placement;

/// A transaction open on the master, from `information_schema.INNODB_TRX`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenTransaction {
    /// The connection (processlist id) that holds it: `KILL <id>` ends it.
    pub connection: u64,
    pub age: Duration,
    pub state: String,
    pub rows_modified: u64,
}

/// What the caller found out besides the cluster view.
#[derive(Debug, Clone)]
pub struct Facts {
    pub open_transactions: Vec<OpenTransaction>,
    /// Where each VIP backend points now (empty: no VIP configured).
    pub vip: Vec<Result<Placement, String>>,
    /// Err when a failover or another switchover holds the cluster's lock.
    pub lock: Result<(), String>,
    /// Each node's admin login, tried: a switchover acts on every node.
    pub admin_logins: Vec<(String, Result<(), String>)>,
}

/// One preflight check, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub what: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct Preflight {
    pub checks: Vec<Check>,
    /// Present when every check passed.
    pub plan: Option<Plan>,
}

impl Preflight {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The checks, one a line, then the plan's steps.
    pub fn describe(&self) -> String {
        let mut out = String::from("preflight:\n");
        for c in &self.checks {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            out.push_str(&format!("  {mark} {:<13} {}\n", c.what, c.detail));
        }
        if let Some(p) = &self.plan {
            out.push_str(&p.describe());
        }
        out
    }
}

/// Checks the cluster and plans the handover of its master to `to` (or to
/// the best candidate).
pub fn preflight(
    view: &ClusterView,
    topology: &Topology,
    cluster: &ClusterConfig,
    to: Option<&str>,
    facts: &Facts,
) -> Preflight {
    let mut checks = Vec::new();
    let mut check = |what: &'static str, result: Result<String, String>| {
        checks.push(Check {
            what,
            ok: result.is_ok(),
            detail: result.unwrap_or_else(|e| e),
        });
    };

    let master = match master(view, topology) {
        Ok(m) => {
            check("master", Ok(format!("{m} is the writable master")));
            m
        }
        Err(e) => {
            check("master", Err(e));
            return Preflight { checks, plan: None };
        }
    };
    let replicas: Vec<String> = topology
        .replicas_of(view, &master)
        .map(|n| n.name.clone())
        .collect();
    check(
        "replicas",
        replicas_healthy(view, topology, cluster, &master, &replicas),
    );
    let mut history = History::default();
    history.record(view, topology);
    let candidate = candidate(view, cluster, &master, &replicas, to, &history);
    check(
        "candidate",
        candidate
            .as_ref()
            .map(|(c, why, _)| format!("{c}: {why}"))
            .map_err(Clone::clone),
    );
    check(
        "transactions",
        transactions(&facts.open_transactions, cluster, &master),
    );
    check("vip", vip_points_at(&facts.vip, &master));
    check("admin", admin_logins(&facts.admin_logins, cluster));
    check("password", replication_password(view, cluster));
    check(
        "lock",
        facts
            .lock
            .clone()
            .map(|_| "no failover or switchover in flight".to_string()),
    );

    let passed = checks.iter().all(|c| c.ok);
    let plan = match candidate {
        Ok((candidate, why, considered)) if passed => Some(crate::plan::switchover(
            view, topology, cluster, &master, &replicas, candidate, why, considered,
        )),
        _ => None,
    };
    Preflight { checks, plan }
}

fn admin_logins(
    logins: &[(String, Result<(), String>)],
    cluster: &ClusterConfig,
) -> Result<String, String> {
    let failed: Vec<String> = logins
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("{n}: {e}")))
        .collect();
    if failed.is_empty() {
        Ok(format!(
            "{} logs in on every node",
            cluster.users.admin.user
        ))
    } else {
        Err(format!(
            "the admin user {} cannot log in on {}: fix the account before a switchover, which acts on every node",
            cluster.users.admin.user,
            failed.join("; ")
        ))
    }
}

fn replication_password(view: &ClusterView, cluster: &ClusterConfig) -> Result<String, String> {
    let password = cluster.users.replication.password.expose();
    for n in &view.nodes {
        if let Some(problem) = n
            .state()
            .and_then(|s| s.version.replication_password_problem(password))
        {
            return Err(format!("{}: {problem}", n.name));
        }
    }
    Ok("fits every server's limit".into())
}

fn master(view: &ClusterView, topology: &Topology) -> Result<String, String> {
    let m = topology
        .master
        .clone()
        .ok_or("no master: the cluster has no single writable master with replicas (see `vipkeeper status`)")?;
    match view.node(&m).and_then(|n| n.state()) {
        Some(s) if s.writable() => Ok(m),
        Some(_) => Err(format!(
            "{m} is read-only: a switchover starts from a writable master"
        )),
        None => Err(format!(
            "{m} is unreachable: that is a failover (`vipkeeper failover`), not a switchover"
        )),
    }
}

fn replicas_healthy(
    view: &ClusterView,
    topology: &Topology,
    cluster: &ClusterConfig,
    master: &str,
    replicas: &[String],
) -> Result<String, String> {
    let limit = cluster.switchover.max_lag;
    let mut problems = Vec::new();
    for n in &cluster.nodes {
        if n.name == master {
            continue;
        }
        let Some(state) = view.node(&n.name).and_then(|v| v.state()) else {
            problems.push(format!("{} is unreachable", n.name));
            continue;
        };
        let Some(r) = &state.replica else {
            problems.push(format!("{} does not replicate", n.name));
            continue;
        };
        if !replicas.contains(&n.name) {
            // A replica of a replica follows its own source: not repointed.
            if topology
                .source
                .get(&n.name)
                .and_then(|s| s.as_deref())
                .is_none()
            {
                problems.push(format!(
                    "{} replicates from {}:{}, outside the cluster",
                    n.name, r.source_host, r.source_port
                ));
            }
            continue;
        }
        if r.io_thread != IoThread::Yes || !r.sql_running {
            problems.push(format!(
                "{}: {}",
                n.name,
                r.problem()
                    .unwrap_or_else(|| "replication threads not running".into())
            ));
        } else if let Some(lag) = r.seconds_behind.filter(|l| Duration::from_secs(*l) > limit) {
            problems.push(format!(
                "{} is {lag} s behind (switchover.max_lag {})",
                n.name,
                humantime::format_duration(limit)
            ));
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "{} replicate from {master}, at most {} behind",
            replicas.join(", "),
            humantime::format_duration(limit)
        ))
    } else {
        Err(problems.join("; "))
    }
}

/// The candidate, why, and every replica's verdict.
fn candidate(
    view: &ClusterView,
    cluster: &ClusterConfig,
    master: &str,
    replicas: &[String],
    to: Option<&str>,
    history: &History,
) -> Result<(String, String, Vec<Considered>), String> {
    if replicas.is_empty() {
        return Err(format!("{master} has no replica to hand over to"));
    }
    let (considered, auto) = match choose(view, master, replicas, &cluster.failover, history) {
        Ok(c) => (c.considered, Ok((c.candidate, c.why))),
        Err(r) => (r.considered, Err(r.why)),
    };
    let Some(to) = to else {
        let (c, why) = auto?;
        return Ok((c, why, considered));
    };
    if cluster.node(to).is_none() {
        return Err(format!(
            "--to {to}: not a node of cluster {}; nodes: {}",
            cluster.name,
            cluster
                .nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if to == master {
        return Err(format!("--to {to}: {to} is already the master"));
    }
    match considered.iter().find(|c| c.name == to).map(|c| &c.verdict) {
        None => Err(format!(
            "--to {to}: {to} does not replicate directly from {master}"
        )),
        Some(Verdict::Excluded { reasons }) => Err(format!(
            "--to {to}: not eligible: {}",
            crate::candidate::joined(reasons)
        )),
        Some(_) => Ok((
            to.to_string(),
            "chosen by the operator (--to)".into(),
            considered,
        )),
    }
}

fn transactions(
    open: &[OpenTransaction],
    cluster: &ClusterConfig,
    master: &str,
) -> Result<String, String> {
    let limit = cluster.switchover.max_transaction_age;
    let long: Vec<String> = open
        .iter()
        .filter(|t| t.age > limit)
        .map(|t| {
            format!(
                "connection {} has had a transaction open for {} s ({}, {} rows modified)",
                t.connection,
                t.age.as_secs(),
                t.state,
                t.rows_modified
            )
        })
        .collect();
    if long.is_empty() {
        Ok(format!(
            "none open on {master} longer than {} (switchover.max_transaction_age)",
            humantime::format_duration(limit)
        ))
    } else {
        Err(format!(
            "on {master}: {}; let it finish or end it (KILL <connection>), or raise switchover.max_transaction_age",
            long.join("; ")
        ))
    }
}

fn vip_points_at(placements: &[Result<Placement, String>], master: &str) -> Result<String, String> {
    if placements.is_empty() {
        return Ok("no VIP configured".into());
    }
    let mut seen = Vec::new();
    for p in placements {
        match p {
            Err(e) => return Err(format!("{e}; fix the VIP backend before a switchover")),
            Ok(p) => match &p.node {
                Some(n) if n != master => {
                    return Err(format!(
                    "{} points at {n} ({}), not at the master {master}; see `vipkeeper vip status`",
                    p.backend, p.target
                ))
                }
                Some(_) => seen.push(format!("{} -> {master}", p.backend)),
                None => {}
            },
        }
    }
    Ok(if seen.is_empty() {
        "reachable (no backend here names a node)".into()
    } else {
        seen.join(", ")
    })
}

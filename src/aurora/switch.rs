//! `vipkeeper switchover CLUSTER --to INSTANCE` on an Aurora cluster:
//! check that the instance is a healthy reader and that SQL and the RDS API
//! agree on the writer, ask Aurora to promote it (`FailoverDBCluster`),
//! then follow the promotion as the agent does and move what clients use.

use std::time::{Duration, Instant};

use super::act::{self, AuroraReport};
use super::decide::{describe, Decision, Evidence, Follower};
use super::episode::Episode;
use super::{api, probe};
use crate::config::{AuroraConfig, ClusterConfig};
use crate::execute::Trigger;
use crate::state::ClusterState;

/// What the checks found: the writer now, the instance to promote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    pub writer: String,
    pub to: String,
    /// One line per check.
    pub lines: Vec<String>,
}

/// `Err` says which check failed; nothing was changed.
pub async fn preflight(
    cluster: &ClusterConfig,
    aurora: &AuroraConfig,
    to: &str,
) -> Result<Preflight, String> {
    let (members, sql) = tokio::join!(
        api::members(aurora),
        probe::ask_all(cluster, &aurora.writer_query)
    );
    let members = members.map_err(|e| format!("the RDS API cannot be asked: {e}"))?;
    let mut lines = Vec::new();
    let api_writer = members
        .iter()
        .find(|(_, w)| *w)
        .map(|(n, _)| n.clone())
        .ok_or("the RDS API names no writer: a promotion may be under way")?;
    if !members.iter().any(|(n, _)| n == to) {
        return Err(format!(
            "{to} is not an instance of Aurora cluster {}: the instances are {}",
            aurora.cluster_identifier,
            members
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if to == api_writer {
        return Err(format!("{to} is already the writer"));
    }
    lines.push(format!(
        "the RDS API names {api_writer} the writer, {to} a reader"
    ));
    let sql_writers: Vec<&str> = sql
        .iter()
        .filter(|(_, a)| matches!(a, Ok(true)))
        .map(|(n, _)| n.as_str())
        .collect();
    if sql_writers != [api_writer.as_str()] {
        return Err(format!(
            "SQL names {} the writer, the RDS API {api_writer}: not switching while they disagree",
            if sql_writers.is_empty() {
                "no instance".to_string()
            } else {
                sql_writers.join(" and ")
            }
        ));
    }
    match sql.iter().find(|(n, _)| n == to).map(|(_, a)| a) {
        Some(Ok(false)) => lines.push(format!("{to} answers SQL as a reader")),
        Some(Err(e)) => return Err(format!("{to} does not answer SQL: {e}")),
        Some(Ok(true)) => return Err(format!("{to} answers SQL as the writer")),
        None => {
            return Err(format!(
            "{to} is not a node of cluster {} in vipkeeper's config: add it as a [[cluster.node]]",
            cluster.name
        ))
        }
    }
    Ok(Preflight {
        writer: api_writer,
        to: to.to_string(),
        lines,
    })
}

/// Promotes `pre.to` and follows until clients go to the new writer, or
/// `deadline` passes. The report says how it went (and where clients went
/// if Aurora promoted another instance).
/// Its journal (every decision on the way) has the report's id.
pub async fn switch(
    state: &ClusterState,
    cluster: &ClusterConfig,
    aurora: &AuroraConfig,
    pre: &Preflight,
    deadline: Duration,
) -> AuroraReport {
    let started = Instant::now();
    let mut ep = Episode::open(state, &cluster.name, Some(&pre.writer), Trigger::Manual);
    let mut follower = Follower::new(Some(pre.writer.clone()));
    let mut last = Evidence {
        sql: Vec::new(),
        api: Err("not asked yet".into()),
    };
    if let Err(e) = api::fail_over_to(aurora, &pre.to).await {
        let why = format!("the promotion was refused: {e}");
        let mut r = act::conflict(&ep, cluster, &why, &last);
        r.kind = "aurora-switchover";
        r.outcome = "refused";
        ep.unchanged(&why);
        return r;
    }
    let mut next_api = Instant::now();
    let mut said = String::new();
    let mut prober = probe::Prober::default();
    while started.elapsed() < deadline {
        let tick = Instant::now();
        let sql = prober.ask_all(cluster, &aurora.writer_query).await;
        // The API once an interval, as the agent asks it.
        if tick >= next_api {
            last.api = api::writer(aurora).await;
            next_api = tick + aurora.interval;
        }
        last.sql = sql;
        let decision = follower.decide(&last, tick, aurora.disagreement);
        let text = describe(&decision, &last);
        if text != said {
            ep.decided(&decision, &text, &last);
            said = text;
        }
        if let Decision::Move { to, basis, .. } = decision {
            let mut r = act::move_clients(&ep, cluster, &to, basis, &last).await;
            r.kind = "aurora-switchover";
            if to != pre.to && r.outcome == "moved" {
                r.why = Some(format!(
                    "Aurora promoted {to}, not {}: clients follow the writer",
                    pre.to
                ));
            }
            ep.moved(&r);
            return r;
        }
        tokio::time::sleep_until((tick + aurora.fast_interval).into()).await;
    }
    let why = format!(
        "{} did not become the writer within {}: clients still go to {}",
        pre.to,
        humantime::format_duration(deadline),
        pre.writer
    );
    let mut r = act::conflict(&ep, cluster, &why, &last);
    r.kind = "aurora-switchover";
    r.outcome = "timed-out";
    ep.unchanged(&why);
    r
}

//! The agent's loop for an Aurora cluster: every `aurora.interval` (every
//! `aurora.fast_interval` for `aurora.fast_for` after any change) ask every
//! instance and the RDS API who the writer is, decide, and move what
//! clients use when a new writer is confirmed. Every change of decision is
//! logged; every move and every conflict is a report. Observe-only: says
//! what it would move.

use std::time::Duration;

use tokio::time::Instant;

use crate::aurora::decide::describe;
use crate::aurora::episode::Episode;
use crate::aurora::{act, discover, probe, Decision, Evidence, Follower};
use crate::config::{AgentConfig, AuroraConfig, ClusterConfig};
use crate::coord::{Coordinator, Role};
use crate::execute::Trigger;
use crate::state::ClusterState;
use crate::vip::placements;

use super::aurora_view::ApiView;
use super::board::{Board, Entry};

pub async fn run(
    agent: AgentConfig,
    cluster: ClusterConfig,
    aurora: AuroraConfig,
    board: Board,
    coord: Option<Coordinator>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let state = ClusterState::new(&agent.state_dir, &cluster.name);
    // No nodes listed: the instances are the RDS API's to list.
    let discover = cluster.nodes.is_empty();
    let mut cluster = cluster;
    let mut follower = Follower::new(vip_node(&cluster).await);
    tracing::info!(
        cluster = %cluster.name,
        "following Aurora cluster {}'s writer over {}; clients go to {}",
        aurora.cluster_identifier,
        if discover {
            "the instances the RDS API lists".to_string()
        } else {
            format!("{} listed instance(s)", cluster.nodes.len())
        },
        follower.target.as_deref().unwrap_or("no known instance")
    );
    let mut fast_until = Instant::now() + aurora.fast_for;
    let mut said = String::new();
    let mut episode: Option<Episode> = None;
    let mut prober = probe::Prober::default();
    let mut role_said: Option<Role> = None;
    let mut api_view = ApiView::spawn(aurora.clone(), discover, stop.clone());
    // The readers (and the writer) the reader records were last set for.
    let mut readers_set: Option<(Vec<String>, String)> = None;
    loop {
        let started = Instant::now();
        if let Some(found) = api_view.instances() {
            if found != cluster.nodes {
                tracing::info!(cluster = %cluster.name, "the instances of Aurora cluster {}: {}", aurora.cluster_identifier, discover::describe(&found));
                let first = cluster.nodes.is_empty();
                cluster.nodes = found;
                if first && follower.target.is_none() {
                    follower = Follower::new(vip_node(&cluster).await);
                }
            }
        }
        if cluster.nodes.is_empty() {
            let why = "waiting for the RDS API to list the instances";
            if said != why {
                tracing::warn!(cluster = %cluster.name, "{why}");
                said = why.to_string();
            }
            board.put(&cluster.name, Entry::aurora(None, why, aurora.interval));
            tokio::select! {
                _ = tokio::time::sleep_until(started + aurora.fast_interval) => continue,
                _ = stop.changed() => break,
            }
        }
        let sql = prober.ask_all(&cluster, &aurora.writer_query).await;
        let evidence = Evidence {
            sql,
            api: api_view.latest(aurora.interval),
        };
        let decision = follower.decide(&evidence, started.into_std(), aurora.disagreement);
        let sentence = describe(&decision, &evidence);
        if sentence != said {
            match &decision {
                Decision::Steady { .. } => tracing::info!(cluster = %cluster.name, "{sentence}"),
                Decision::Conflict { .. } => tracing::error!(cluster = %cluster.name, "{sentence}"),
                _ => tracing::warn!(cluster = %cluster.name, "{sentence}"),
            }
            fast_until = started + aurora.fast_for;
            // An episode begins at the first look that is not steady.
            if episode.is_some() || !matches!(decision, Decision::Steady { .. }) {
                let ep = episode.get_or_insert_with(|| {
                    Episode::open(
                        &state,
                        &cluster.name,
                        follower.target.as_deref(),
                        Trigger::Automatic,
                    )
                });
                ep.decided(&decision, &sentence, &evidence);
            }
            match (&decision, episode.take()) {
                (Decision::Conflict { why }, Some(ep)) => {
                    act::keep(&state, &act::conflict(&ep, &cluster, why, &evidence));
                    ep.unchanged(why);
                }
                (Decision::Steady { writer }, Some(ep)) => {
                    let report = act::unchanged(&ep, &cluster, writer, &evidence);
                    act::keep(&state, &report);
                    ep.unchanged(report.why.as_deref().unwrap_or_default());
                }
                (_, ep) => episode = ep,
            }
            said = sentence;
        }
        // Several managers: only the cluster's leader moves clients.
        let leads = match &coord {
            Some(c) => {
                let role = c.lead(&cluster.name).await;
                if role_said.as_ref() != Some(&role) {
                    tracing::info!(cluster = %cluster.name, "{}", role.describe(c.name(), &cluster.name));
                    role_said = Some(role.clone());
                }
                role == Role::Leader && c.covers(aurora.api_deadline * 3)
            }
            None => true,
        };
        if let (Decision::Move { to, .. }, false) = (&decision, leads) {
            // The leader moves clients; this manager follows along.
            tracing::info!(cluster = %cluster.name, "{to} is Aurora's new writer: the leading manager moves clients, not this one");
            follower.moved(to);
            if let Some(ep) = episode.take() {
                ep.unchanged("another manager leads: it moves clients");
            }
        }
        if let (Decision::Move { to, basis, .. }, true) = (&decision, leads) {
            if cluster.observe_only {
                tracing::warn!(cluster = %cluster.name, "observe-only: would move what clients use from {} to {to}", follower.target.as_deref().unwrap_or("nowhere"));
                follower.moved(to);
                if let Some(ep) = episode.take() {
                    ep.unchanged("observe-only: nothing was moved");
                }
            } else {
                let ep = episode.take().unwrap_or_else(|| {
                    Episode::open(
                        &state,
                        &cluster.name,
                        follower.target.as_deref(),
                        Trigger::Automatic,
                    )
                });
                let report = act::move_clients(&ep, &cluster, to, *basis, &evidence).await;
                act::keep(&state, &report);
                ep.moved(&report);
                if report.outcome == "moved" {
                    tracing::info!(cluster = %cluster.name, "{}", report.summary());
                    follower.moved(to);
                } else {
                    tracing::error!(cluster = %cluster.name, "moving clients to {to} failed: {}", report.summary());
                }
                fast_until = Instant::now() + aurora.fast_for;
            }
        }
        // The reader records, only while the writer is settled (during a
        // promotion the writer to stand in for absent readers is not known).
        if let (Decision::Steady { writer }, false, true) = (&decision, cluster.observe_only, leads)
        {
            let healthy: Vec<String> = evidence
                .sql
                .iter()
                .filter(|(n, a)| matches!(a, Ok(false)) && n != writer)
                .map(|(n, _)| n.clone())
                .collect();
            let now = (healthy, writer.clone());
            if readers_set.as_ref() != Some(&now) {
                match act::readers(&cluster, &now.0, writer).await {
                    Ok(changed) => {
                        for line in changed {
                            tracing::info!(cluster = %cluster.name, "reader record: {line}");
                        }
                        readers_set = Some(now);
                    }
                    Err(e) => {
                        tracing::error!(cluster = %cluster.name, "cannot set the reader record: {e}")
                    }
                }
            }
        }
        let interval = if Instant::now() < fast_until {
            aurora.fast_interval
        } else {
            aurora.interval
        };
        board.put(
            &cluster.name,
            Entry::aurora(follower.target.clone(), &said, interval),
        );
        tokio::select! {
            _ = tokio::time::sleep_until(started + interval) => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
    }
    tracing::info!(cluster = %cluster.name, "stopped following the writer");
}

/// The instance every VIP backend that can tell points at, if they agree.
async fn vip_node(cluster: &ClusterConfig) -> Option<String> {
    let bound = Duration::from_secs(10);
    let found = tokio::time::timeout(bound, placements(cluster))
        .await
        .ok()?;
    let mut named: Vec<String> = found.into_iter().filter_map(|p| p.ok()?.node).collect();
    named.dedup();
    match &named[..] {
        [one] => Some(one.clone()),
        _ => None,
    }
}

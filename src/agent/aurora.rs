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
use crate::aurora::{act, api, probe, Decision, Evidence, Follower};
use crate::config::{AgentConfig, AuroraConfig, ClusterConfig};
use crate::execute::Trigger;
use crate::state::ClusterState;
use crate::vip::placements;

use super::board::{Board, Entry};

pub async fn run(
    agent: AgentConfig,
    cluster: ClusterConfig,
    aurora: AuroraConfig,
    board: Board,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let state = ClusterState::new(&agent.state_dir, &cluster.name);
    let mut follower = Follower::new(vip_node(&cluster).await);
    tracing::info!(
        cluster = %cluster.name,
        "following Aurora cluster {}'s writer over {} instance(s); clients go to {}",
        aurora.cluster_identifier,
        cluster.nodes.len(),
        follower.target.as_deref().unwrap_or("no known instance")
    );
    let mut fast_until = Instant::now() + aurora.fast_for;
    let mut said = String::new();
    let mut episode: Option<Episode> = None;
    let api_view = ApiView::spawn(aurora.clone(), stop.clone());
    // The readers (and the writer) the reader records were last set for.
    let mut readers_set: Option<(Vec<String>, String)> = None;
    loop {
        let started = Instant::now();
        let sql = probe::ask_all(&cluster, &aurora.writer_query).await;
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
        if let Decision::Move { to, basis, .. } = &decision {
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
        if let (Decision::Steady { writer }, false) = (&decision, cluster.observe_only) {
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

/// The RDS API's answer, kept fresh by a task of its own every
/// `aurora.interval`: a slow or unreachable API never holds up the SQL
/// looks (and the API is not asked ten times a second).
struct ApiView {
    rx: tokio::sync::watch::Receiver<Option<(Instant, ApiAnswer)>>,
}

/// The writer the API names (`None`: none), or why it could not be asked.
type ApiAnswer = Result<Option<String>, String>;

impl ApiView {
    fn spawn(aurora: AuroraConfig, mut stop: tokio::sync::watch::Receiver<bool>) -> Self {
        let (tx, rx) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            loop {
                let asked = Instant::now();
                let answer = api::writer(&aurora).await;
                if tx.send(Some((Instant::now(), answer))).is_err() {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(asked + aurora.interval) => {}
                    _ = stop.changed() => return,
                }
            }
        });
        Self { rx }
    }

    /// The last answer; an error when there is none yet, or it is older
    /// than three intervals (the API has stopped answering in time).
    fn latest(&self, interval: Duration) -> ApiAnswer {
        match &*self.rx.borrow() {
            None => Err("the RDS API has not answered yet".into()),
            Some((at, _)) if at.elapsed() > interval * 3 => Err(format!(
                "the RDS API has not answered for over {}",
                humantime::format_duration(interval * 3)
            )),
            Some((_, answer)) => answer.clone(),
        }
    }
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

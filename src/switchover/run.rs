//! The thin edges of a switchover: gathering the facts preflight needs
//! (open transactions, where the VIP points, the lock), and carrying out
//! the plan with a journal, a report and the notify command.

use std::time::{Duration, Instant, SystemTime};

use super::preflight::{Facts, OpenTransaction};
use crate::config::{AgentConfig, ClusterConfig};
use crate::execute::report::new_id;
use crate::execute::{finish, locked_execute, Outcome, Report, Trigger};
use crate::mysql::{admin, Session};
use crate::plan::Plan;
use crate::state::ClusterState;
use crate::topology::observe::target;
use crate::topology::{ClusterView, Topology};

pub async fn gather_facts(
    agent: &AgentConfig,
    cluster: &ClusterConfig,
    topology: &Topology,
) -> Facts {
    let open_transactions = match &topology.master {
        Some(m) => open_transactions(cluster, m).await.unwrap_or_else(|e| {
            vec![OpenTransaction {
                connection: 0,
                age: Duration::MAX,
                state: format!("unknown: cannot list the transactions on {m}: {e}"),
                rows_modified: 0,
            }]
        }),
        None => Vec::new(),
    };
    let state = ClusterState::new(&agent.state_dir, &cluster.name);
    let (vip, admin_logins) =
        futures::future::join(crate::vip::placements(cluster), admin_logins(cluster)).await;
    Facts {
        open_transactions,
        vip,
        lock: state.lock().map(drop),
        admin_logins,
    }
}

/// Logs in as the admin user on every node, in parallel.
async fn admin_logins(cluster: &ClusterConfig) -> Vec<(String, Result<(), String>)> {
    futures::future::join_all(cluster.nodes.iter().map(|n| async move {
        let t = target(cluster, &n.host, n.port, &cluster.users.admin);
        let r = match Session::connect(&t).await {
            Ok(s) => {
                s.close().await;
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        };
        (n.name.clone(), r)
    }))
    .await
}

async fn open_transactions(
    cluster: &ClusterConfig,
    master: &str,
) -> Result<Vec<OpenTransaction>, String> {
    let n = cluster
        .node(master)
        .ok_or_else(|| format!("{master} is not configured"))?;
    let t = target(cluster, &n.host, n.port, &cluster.users.admin);
    let mut s = Session::connect(&t).await.map_err(|e| e.to_string())?;
    let rows = admin::open_transactions(&mut s)
        .await
        .map_err(|e| e.to_string());
    s.close().await;
    Ok(rows?
        .into_iter()
        .map(|(connection, age, state, rows_modified)| OpenTransaction {
            connection,
            age: Duration::from_secs(age),
            state,
            rows_modified,
        })
        .collect())
}

/// Carries out a preflighted plan under the cluster's lock.
pub async fn switch_over(
    agent: &AgentConfig,
    cluster: &ClusterConfig,
    view: &ClusterView,
    plan: &Plan,
) -> Report {
    let started = Instant::now();
    let state = ClusterState::new(&agent.state_dir, &cluster.name);
    let id = new_id(&cluster.name, SystemTime::now());
    tracing::info!(cluster = %cluster.name, "switchover plan:\n{}", plan.describe());
    let report = match locked_execute(
        &state,
        cluster,
        view,
        plan,
        (id.clone(), Trigger::Manual),
        &mut crate::execute::Alone,
    )
    .await
    {
        Ok(r) => r,
        Err(why) => {
            let mut r = Report::from_plan(id, plan, Trigger::Manual);
            r.outcome = Outcome::Refused { why };
            r
        }
    };
    finish(agent, &state, report, started).await
}

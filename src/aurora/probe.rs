//! "Am I the writer?", asked of every instance at once over SQL with the
//! monitor account, each within the cluster's connect and query timeouts.
//! The agent holds one connection per instance (`Prober`): at ten looks a
//! second, a new connection (and TLS handshake) per look would cost more
//! than the question.

use std::collections::HashMap;

use futures::future::join_all;

use crate::config::{ClusterConfig, NodeConfig};
use crate::mysql::{DbError, ErrorKind, Session};
use crate::topology::observe::target;

/// An instance's answer: writer or not, or why it could not be asked.
pub type Answer = Result<bool, String>;

/// Each instance's answer, in the config's order, on new connections.
pub async fn ask_all(cluster: &ClusterConfig, query: &str) -> Vec<(String, Answer)> {
    Prober::default().ask_all(cluster, query).await
}

/// Asks over held connections: one per instance, kept between looks,
/// dropped when it fails (and made again on the next look).
#[derive(Default)]
pub struct Prober {
    /// By instance, with the address it was opened to.
    held: HashMap<String, (String, Session)>,
}

impl Prober {
    /// Each instance's answer, in the config's order.
    pub async fn ask_all(&mut self, cluster: &ClusterConfig, query: &str) -> Vec<(String, Answer)> {
        let asked = join_all(cluster.nodes.iter().map(|n| {
            let held = self
                .held
                .remove(&n.name)
                .filter(|(address, _)| *address == n.address())
                .map(|(_, s)| s);
            async move {
                let (answer, session) = ask(cluster, n, query, held).await;
                (n, answer, session)
            }
        }))
        .await;
        // Connections to instances no longer in the cluster were not taken
        // out above: they close here.
        self.held.clear();
        asked
            .into_iter()
            .map(|(n, answer, session)| {
                if let Some(s) = session {
                    self.held.insert(n.name.clone(), (n.address(), s));
                }
                (n.name.clone(), answer)
            })
            .collect()
    }
}

/// The answer, and the session to keep (none when it failed). A held
/// session that was lost (the instance restarted, as Aurora's do on a
/// failover) is replaced by a new one at once: one look, one answer.
async fn ask(
    cluster: &ClusterConfig,
    node: &NodeConfig,
    query: &str,
    held: Option<Session>,
) -> (Answer, Option<Session>) {
    if let Some(mut s) = held {
        match writer_answer(&mut s, query).await {
            Ok(a) => return (a, Some(s)),
            Err(e) if e.kind == ErrorKind::ConnectionLost => {}
            Err(e) => return (Err(e.to_string()), None),
        }
    }
    let t = target(cluster, &node.host, node.port, &cluster.users.monitor);
    let mut s = match Session::connect(&t).await {
        Ok(s) => s,
        Err(e) => return (Err(e.to_string()), None),
    };
    match writer_answer(&mut s, query).await {
        Ok(a) => (a, Some(s)),
        Err(e) => (Err(e.to_string()), None),
    }
}

/// The writer query's answer; `Err` (outer) when the session failed.
async fn writer_answer(s: &mut Session, query: &str) -> Result<Answer, DbError> {
    let Some(row) = s.first(query).await? else {
        return Ok(Err("the writer query returned no row".into()));
    };
    // One column, or the one named `writer`.
    let value = if row.len() == 1 {
        row.values().next().cloned().flatten()
    } else {
        row.get("writer").cloned().flatten()
    };
    Ok(match value.as_deref() {
        Some("1") => Ok(true),
        Some("0") | None => Ok(false),
        Some(other) => Err(format!("the writer query answered `{other}`, not 1 or 0")),
    })
}

/// Each instance's replica lag in milliseconds, as `query` asked of the
/// writer gives it (rows of `instance` and `lag_ms`).
pub async fn lags(
    cluster: &ClusterConfig,
    writer: &NodeConfig,
    query: &str,
) -> Result<std::collections::BTreeMap<String, f64>, String> {
    let t = target(cluster, &writer.host, writer.port, &cluster.users.monitor);
    let mut s = Session::connect(&t).await.map_err(|e| e.to_string())?;
    let rows = s.rows(query).await;
    s.close().await;
    rows.map_err(|e| e.to_string())?
        .into_iter()
        .map(|row| {
            let field = |name: &str| row.get(name).cloned().flatten();
            match (field("instance"), field("lag_ms")) {
                (Some(i), Some(l)) => match l.parse::<f64>() {
                    Ok(ms) => Ok((i, ms)),
                    Err(_) => Err(format!(
                        "the lag query answered `{l}` for {i}, not a number"
                    )),
                },
                _ => Err("the lag query must answer `instance` and `lag_ms` columns".to_string()),
            }
        })
        .collect()
}

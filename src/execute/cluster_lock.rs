//! The cluster lock: one named server-side lock (`GET_LOCK`) taken on every
//! reachable node of the cluster, in configuration order, by sessions of
//! its own that live as long as the failover, switchover or fencing that
//! took it. Two actors whose reachable sets share a node meet on that node:
//! both cannot hold its lock at once, so at most one of them holds the
//! whole cluster. A process that dies loses its sessions, and the server
//! releases the lock at once: nothing is left to clean up.
//!
//! The same sessions re-read every locked node right before a node is made
//! writable (see `guard`), so the decision rests on what is true then.

use std::time::Duration;

use crate::config::ClusterConfig;
use crate::mysql::admin::quote;
use crate::mysql::probe::read_state;
use crate::mysql::{DbError, NodeState, Session};
use crate::topology::observe::target;

/// How long a node that was unreachable when the lock was taken gets to
/// answer a re-read: it was gone a moment ago, so this stays short.
const LATE_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);

/// Why the lock could not be taken. Nothing is held then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Another session holds it: another manager, a switchover, the agent.
    #[error("another vipkeeper holds the lock {lock} on {node}{holder}: a failover, switchover or fencing of this cluster is in progress")]
    Held {
        lock: String,
        node: String,
        /// ` (connection N, USER from HOST)` when the server says.
        holder: String,
    },
    /// A node the action needs cannot be locked.
    #[error("cannot take the lock {lock} on {node}, which this {action} needs: {error}")]
    Unusable {
        lock: String,
        node: String,
        action: &'static str,
        error: String,
    },
}

pub struct ClusterLock {
    name: String,
    /// Locked nodes, in configuration order, with the session that holds the lock.
    held: Vec<(String, Session)>,
    /// Nodes that could not be reached when the lock was taken, with why.
    unreachable: Vec<(String, String)>,
}

/// One node as re-read under the lock.
#[derive(Debug)]
pub struct Reread {
    pub node: String,
    pub state: Result<NodeState, String>,
    /// Whether this manager's lock session on the node still holds the lock.
    /// None for a node that was not locked (it was unreachable). A lost lock
    /// on a node that cannot be read is a node that went down.
    pub lock_held: Option<bool>,
}

fn lock_name(cluster: &str) -> String {
    // Servers cap lock names at 64 characters.
    let name = format!("vipkeeper-{cluster}");
    name.chars().take(64).collect()
}

impl ClusterLock {
    /// Locks every node of `cluster` but those in `skip` (known to be down),
    /// in configuration order, without waiting: a lock held elsewhere fails
    /// at once and releases what was taken. Every node in `required` must be
    /// locked. `action` names the caller in errors ("failover", ...).
    pub async fn acquire(
        cluster: &ClusterConfig,
        skip: &[String],
        required: &[String],
        action: &'static str,
    ) -> Result<ClusterLock, LockError> {
        let name = lock_name(&cluster.name);
        let nodes: Vec<_> = cluster
            .nodes
            .iter()
            .filter(|n| !skip.contains(&n.name))
            .collect();
        let sessions = futures::future::join_all(nodes.iter().map(|n| {
            let mut t = target(cluster, &n.host, n.port, &cluster.users.admin);
            t.query_timeout = cluster.failover.statement_timeout;
            async move { Session::connect(&t).await }
        }))
        .await;
        let mut lock = ClusterLock {
            name: name.clone(),
            held: Vec::new(),
            unreachable: skip
                .iter()
                .map(|n| (n.clone(), "known to be unreachable".to_string()))
                .collect(),
        };
        for (n, session) in nodes.iter().zip(sessions) {
            let mut s = match session {
                Ok(s) => s,
                Err(e) => {
                    lock.unreachable.push((n.name.clone(), e.to_string()));
                    continue;
                }
            };
            match try_lock(&mut s, &name).await {
                Ok(true) => lock.held.push((n.name.clone(), s)),
                Ok(false) => {
                    let holder = holder(&mut s, &name).await;
                    s.close().await;
                    lock.release().await;
                    return Err(LockError::Held {
                        lock: name,
                        node: n.name.clone(),
                        holder,
                    });
                }
                Err(e) => {
                    s.close().await;
                    lock.unreachable.push((n.name.clone(), e.to_string()));
                }
            }
        }
        if let Some((node, error)) = lock
            .unreachable
            .iter()
            .find(|(n, _)| required.contains(n))
            .cloned()
        {
            lock.release().await;
            return Err(LockError::Unusable {
                lock: name,
                node,
                action,
                error,
            });
        }
        Ok(lock)
    }

    /// Every node of the cluster read again, in parallel: the locked ones
    /// over their lock sessions (also telling whether the lock still holds),
    /// the others with a short connect of their own.
    pub async fn reread(&mut self, cluster: &ClusterConfig) -> Vec<Reread> {
        self.reread_some(cluster, true).await
    }

    /// Only the locked nodes: right after locking, the others were just
    /// found unreachable, and asking again would only cost time (a
    /// black-holed host answers nothing within the short connect).
    pub async fn reread_locked(&mut self, cluster: &ClusterConfig) -> Vec<Reread> {
        self.reread_some(cluster, false).await
    }

    async fn reread_some(&mut self, cluster: &ClusterConfig, all: bool) -> Vec<Reread> {
        let name = self.name.clone();
        let held = futures::future::join_all(self.held.iter_mut().map(|(node, s)| {
            let name = name.clone();
            async move {
                match read_state(s).await {
                    Ok(state) => Reread {
                        node: node.clone(),
                        lock_held: Some(still_held(s, &name).await.unwrap_or(false)),
                        state: Ok(state),
                    },
                    // The lock session broke: either the node is down (and
                    // cannot take writes), or someone killed the session
                    // (and the lock with it). A fresh look tells which.
                    Err(_) => Reread {
                        node: node.clone(),
                        state: late_read(cluster, node).await,
                        lock_held: Some(false),
                    },
                }
            }
        }));
        let late_nodes = if all { &self.unreachable[..] } else { &[] };
        let late = futures::future::join_all(late_nodes.iter().map(|(node, _)| async move {
            Reread {
                node: node.clone(),
                state: late_read(cluster, node).await,
                lock_held: None,
            }
        }));
        let (mut all, late) = futures::future::join(held, late).await;
        all.extend(late);
        all.sort_by_key(|r| cluster.nodes.iter().position(|n| n.name == r.node));
        all
    }

    /// Releases the lock on every node (also done by dropping it, when the
    /// sessions close).
    pub async fn release(&mut self) {
        let name = self.name.clone();
        futures::future::join_all(self.held.drain(..).map(|(_, mut s)| {
            let name = name.clone();
            async move {
                let _ = s.exec(&format!("DO RELEASE_LOCK({})", quote(&name))).await;
                s.close().await;
            }
        }))
        .await;
    }
}

/// A node read with a short connect of its own (monitor account).
async fn late_read(cluster: &ClusterConfig, node: &str) -> Result<NodeState, String> {
    let n = cluster
        .node(node)
        .ok_or_else(|| format!("{node} is not configured"))?;
    let mut t = target(cluster, &n.host, n.port, &cluster.users.monitor);
    t.connect_timeout = LATE_CONNECT_TIMEOUT.min(t.connect_timeout);
    let mut s = Session::connect(&t).await.map_err(|e| e.to_string())?;
    let state = read_state(&mut s).await.map_err(|e| e.to_string());
    s.close().await;
    state
}

async fn try_lock(s: &mut Session, name: &str) -> Result<bool, DbError> {
    let row = s
        .first(&format!("SELECT GET_LOCK({}, 0) AS got", quote(name)))
        .await?;
    Ok(row.and_then(|mut r| r.remove("got").flatten()).as_deref() == Some("1"))
}

async fn still_held(s: &mut Session, name: &str) -> Result<bool, DbError> {
    let row = s
        .first(&format!(
            "SELECT IS_USED_LOCK({}) = CONNECTION_ID() AS mine",
            quote(name)
        ))
        .await?;
    Ok(row.and_then(|mut r| r.remove("mine").flatten()).as_deref() == Some("1"))
}

/// Who holds `name` on this server, in words, if the server says.
async fn holder(s: &mut Session, name: &str) -> String {
    let sql = format!(
        "SELECT p.ID AS id, p.USER AS user, p.HOST AS host FROM information_schema.PROCESSLIST p \
         WHERE p.ID = IS_USED_LOCK({})",
        quote(name)
    );
    match s.first(&sql).await {
        Ok(Some(r)) => {
            let get = |k: &str| r.get(k).cloned().flatten().unwrap_or_default();
            format!(
                " (connection {}, {} from {})",
                get("id"),
                get("user"),
                get("host")
            )
        }
        _ => String::new(),
    }
}

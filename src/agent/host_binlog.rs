//! What a host agent knows of its node's binlog, for salvage: where the
//! binlog index is (learned from the live mysqld, and kept in the state
//! directory so that an agent restarted after mysqld died still knows). The
//! HTTP API (`api::node`) serves the tail from
//! it to managers that hold the salvage token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::{ClusterConfig, SalvageConfig};
use crate::mysql::Session;
use crate::topology::observe::target;

/// One cluster's node on this host.
#[derive(Debug, Clone)]
pub struct NodeBinlog {
    pub node: String,
    /// Where the local mysqld listens (to ask, at a request, whether it
    /// still answers).
    pub address: String,
    /// The binlog index file, once known.
    pub index: Option<PathBuf>,
    pub salvage: Option<SalvageConfig>,
}

/// By cluster name.
#[derive(Clone, Default)]
pub struct HostBinlogs(Arc<Mutex<BTreeMap<String, NodeBinlog>>>);

impl HostBinlogs {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, NodeBinlog>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn put(&self, cluster: &str, facts: NodeBinlog) {
        self.map().insert(cluster.to_string(), facts);
    }

    pub fn get(&self, cluster: &str) -> Option<NodeBinlog> {
        self.map().get(cluster).cloned()
    }

    pub fn remove(&self, cluster: &str) {
        self.map().remove(cluster);
    }
}

/// How often the node is asked (it is local: cheap).
const EVERY: Duration = Duration::from_secs(1);

/// Keeps `binlogs`' entry for `node` of `cluster` current until `stop`.
pub async fn learn(
    cluster: ClusterConfig,
    node: String,
    binlogs: HostBinlogs,
    state_dir: PathBuf,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(me) = cluster.node(&node).cloned() else {
        return;
    };
    let kept = state_dir
        .join(&cluster.name)
        .join(format!("host-{node}-binlog-index"));
    // Configured: the host's own path to it, whatever mysqld says.
    let configured = me.binlog_index.clone();
    let mut index = configured.clone().or_else(|| {
        std::fs::read_to_string(&kept)
            .ok()
            .map(|t| PathBuf::from(t.trim()))
    });
    if let Some(i) = &configured {
        tracing::info!(cluster = %cluster.name, "host agent for {node}: the binlog index is {} (configured)", i.display());
    }
    let mut session: Option<Session> = None;
    loop {
        let asked = ask(&cluster, &me, &mut session).await;
        if let (Ok(Some(found)), None) = (asked, &configured) {
            if index.as_ref() != Some(&found) {
                tracing::info!(cluster = %cluster.name, "host agent for {node}: the binlog index is {}", found.display());
                if let Err(e) = keep(&kept, &found) {
                    tracing::warn!(cluster = %cluster.name, "cannot keep the binlog index's path in {}: {e}", kept.display());
                }
                index = Some(found);
            }
        }
        binlogs.put(
            &cluster.name,
            NodeBinlog {
                node: node.clone(),
                address: me.address(),
                index: index.clone(),
                salvage: cluster.salvage.clone(),
            },
        );
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => {
                binlogs.remove(&cluster.name);
                return;
            }
        }
    }
}

/// The index file the server writes (relative paths are relative to its
/// data directory); `None` when binary logging is off.
async fn ask(
    cluster: &ClusterConfig,
    me: &crate::config::NodeConfig,
    session: &mut Option<Session>,
) -> Result<Option<PathBuf>, ()> {
    if session.is_none() {
        let t = target(cluster, &me.host, me.port, &cluster.users.monitor);
        *session = Some(Session::connect(&t).await.map_err(|_| ())?);
    }
    let s = session.as_mut().expect("connected above");
    let row = match s
        .first("SELECT @@GLOBAL.log_bin_index AS idx, @@GLOBAL.datadir AS datadir")
        .await
    {
        Ok(r) => r,
        Err(_) => {
            *session = None;
            return Err(());
        }
    };
    let get = |k: &str| row.as_ref().and_then(|r| r.get(k).cloned().flatten());
    Ok(get("idx").filter(|i| !i.is_empty()).map(|i| {
        let p = PathBuf::from(&i);
        if p.is_absolute() {
            p
        } else {
            Path::new(&get("datadir").unwrap_or_default()).join(p)
        }
    }))
}

fn keep(path: &Path, index: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        crate::state::private_dir(dir)?;
    }
    crate::state::write_private(path, index.display().to_string().as_bytes())
}

//! What a host agent knows of its node's binlog and relay log, for
//! salvage: where their index files are (learned from the live mysqld, and
//! kept in the state directory so that an agent restarted after mysqld
//! died still knows). The HTTP API (`api::node`) serves the tails from
//! them to managers that hold the salvage token.

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
    /// The relay log index file, once known.
    pub relay_index: Option<PathBuf>,
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

/// One index file's path: configured (the host's own path, whatever
/// mysqld says), or learned from mysqld and kept in the state directory
/// (an agent restarted after mysqld died still knows it).
struct IndexPath {
    what: &'static str,
    configured: Option<PathBuf>,
    kept: PathBuf,
    current: Option<PathBuf>,
}

impl IndexPath {
    fn new(what: &'static str, configured: Option<PathBuf>, kept: PathBuf) -> Self {
        let current = configured.clone().or_else(|| {
            std::fs::read_to_string(&kept)
                .ok()
                .map(|t| PathBuf::from(t.trim()))
        });
        IndexPath {
            what,
            configured,
            kept,
            current,
        }
    }

    fn learned(&mut self, cluster: &str, node: &str, found: Option<PathBuf>) {
        let Some(found) = found.filter(|_| self.configured.is_none()) else {
            return;
        };
        if self.current.as_ref() != Some(&found) {
            tracing::info!(
                cluster,
                "host agent for {node}: the {} is {}",
                self.what,
                found.display()
            );
            if let Err(e) = keep(&self.kept, &found) {
                tracing::warn!(
                    cluster,
                    "cannot keep the {}'s path in {}: {e}",
                    self.what,
                    self.kept.display()
                );
            }
            self.current = Some(found);
        }
    }
}

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
    let dir = state_dir.join(&cluster.name);
    let mut binlog = IndexPath::new(
        "binlog index",
        me.binlog_index.clone(),
        dir.join(format!("host-{node}-binlog-index")),
    );
    let mut relay = IndexPath::new(
        "relay log index",
        me.relay_log_index.clone(),
        dir.join(format!("host-{node}-relay-log-index")),
    );
    for i in [&binlog, &relay] {
        if let Some(c) = &i.configured {
            tracing::info!(cluster = %cluster.name, "host agent for {node}: the {} is {} (configured)", i.what, c.display());
        }
    }
    let mut session: Option<Session> = None;
    loop {
        if let Ok(found) = ask(&cluster, &me, &mut session).await {
            binlog.learned(&cluster.name, &node, found.binlog);
            relay.learned(&cluster.name, &node, found.relay);
        }
        binlogs.put(
            &cluster.name,
            NodeBinlog {
                node: node.clone(),
                address: me.address(),
                index: binlog.current.clone(),
                relay_index: relay.current.clone(),
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

/// The index files the server writes.
struct Found {
    /// `None` when binary logging is off.
    binlog: Option<PathBuf>,
    relay: Option<PathBuf>,
}

/// The index files mysqld names (relative paths are relative to its data
/// directory; MariaDB leaves `relay_log_index` empty by default: it is the
/// relay log's base name and `.index`).
async fn ask(
    cluster: &ClusterConfig,
    me: &crate::config::NodeConfig,
    session: &mut Option<Session>,
) -> Result<Found, ()> {
    if session.is_none() {
        let t = target(cluster, &me.host, me.port, &cluster.users.monitor);
        *session = Some(Session::connect(&t).await.map_err(|_| ())?);
    }
    let s = session.as_mut().expect("connected above");
    let row = match s
        .first(
            "SELECT @@GLOBAL.log_bin_index AS idx, @@GLOBAL.relay_log_index AS relay, \
             @@GLOBAL.relay_log_basename AS relay_base, @@GLOBAL.datadir AS datadir",
        )
        .await
    {
        Ok(r) => r,
        Err(_) => {
            *session = None;
            return Err(());
        }
    };
    let get = |k: &str| {
        row.as_ref()
            .and_then(|r| r.get(k).cloned().flatten())
            .filter(|v| !v.is_empty())
    };
    let datadir = get("datadir").unwrap_or_default();
    let full = |p: String| {
        let p = PathBuf::from(&p);
        if p.is_absolute() {
            p
        } else {
            Path::new(&datadir).join(p)
        }
    };
    Ok(Found {
        binlog: get("idx").map(full),
        relay: get("relay")
            .or_else(|| get("relay_base").map(|b| format!("{b}.index")))
            .map(full),
    })
}

fn keep(path: &Path, index: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        crate::state::private_dir(dir)?;
    }
    crate::state::write_private(path, index.display().to_string().as_bytes())
}

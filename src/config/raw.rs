//! The config file as written: serde structs that keep the location of
//! every value a later check may need to point at. `load` turns these into
//! the plain types of `model` after validating them.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::vip::RawVip;

type S<T> = Spanned<T>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    pub state_dir: Option<S<String>>,
    pub notify: Option<S<RawCommand>>,
    pub notify_timeout: Option<S<String>>,
    pub listen: Option<S<String>>,
}

/// A `[[cluster]]` table without its `[[cluster.node]]` entries and its
/// `[cluster.users.*]` tables, which are deserialized one by one so that
/// each one's problems are reported.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub name: S<String>,
    #[serde(default)]
    pub observe_only: Option<S<bool>>,
    #[serde(default)]
    pub timing: RawTiming,
    #[serde(default)]
    pub failover: RawFailover,
    #[serde(default)]
    pub switchover: RawSwitchover,
    pub vip: Option<S<RawVip>>,
    pub tls: Option<S<super::tls::RawTls>>,
    pub aurora: Option<super::aurora::RawAurora>,
    pub salvage: Option<S<super::salvage::RawSalvage>>,
}

/// The three `[cluster.users.*]` tables; `None` where missing or invalid
/// (already reported).
#[derive(Debug, Default)]
pub struct RawUsers {
    pub monitor: Option<S<RawCredentials>>,
    pub admin: Option<S<RawCredentials>>,
    pub replication: Option<S<RawCredentials>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCredentials {
    pub user: S<String>,
    pub password: Option<S<String>>,
    pub password_file: Option<S<String>>,
    pub password_env: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTiming {
    pub probe_interval: Option<S<String>>,
    pub connect_timeout: Option<S<String>>,
    pub query_timeout: Option<S<String>>,
    pub unreachable_after: Option<S<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFailover {
    #[serde(default)]
    pub prefer: Vec<S<String>>,
    #[serde(default)]
    pub never_promote: Vec<S<String>>,
    pub max_lag: Option<S<String>>,
    pub block_period: Option<S<String>>,
    pub apply_timeout: Option<S<String>>,
    pub statement_timeout: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSwitchover {
    pub max_lag: Option<S<String>>,
    pub max_transaction_age: Option<S<String>>,
    pub kill_grace: Option<S<String>>,
    pub deadline: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    pub name: S<String>,
    pub host: S<String>,
    pub port: Option<S<i64>>,
    pub instance_id: Option<S<String>>,
    pub eni_id: Option<S<String>>,
    pub az: Option<S<String>>,
    /// `host:port` of the node's host agent (salvage).
    pub host_agent: Option<S<String>>,
    /// The binlog index as this host sees it, when mysqld's own path
    /// differs (a container's volume, a chroot).
    pub binlog_index: Option<S<String>>,
    /// The same for the relay log index.
    pub relay_log_index: Option<S<String>>,
}

/// A command as written: one string, split by shell rules (`"/usr/bin/x
/// --name='a b'"`), or the argument vector itself (`["/usr/bin/x",
/// "--name=a b"]`). Never run through a shell.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawCommand {
    Line(String),
    Argv(Vec<String>),
}

/// The document split into the pieces validation works on.
pub struct RawDocument {
    pub agent: RawAgent,
    pub coordination: Option<super::coordination::RawCoordination>,
    pub clusters: Vec<RawClusterEntry>,
}

pub struct RawClusterEntry {
    /// Span of the `[[cluster]]` table.
    pub span: Range<usize>,
    /// `None` when the cluster's own keys did not deserialize (already reported).
    pub cluster: Option<RawCluster>,
    pub users: RawUsers,
    pub nodes: Vec<Spanned<RawNode>>,
    /// `[[cluster.node]]` tables that did not deserialize (already reported).
    pub bad_nodes: usize,
}

//! The validated configuration the rest of vipkeeper uses. Every value here
//! has passed `load`'s checks; defaults are filled in.

use std::path::PathBuf;
use std::time::Duration;

use super::secret::{Secret, SecretSource};
pub use super::vip::VipConfig;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/vipkeeper/vipkeeper.toml";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/vipkeeper";
pub const DEFAULT_PORT: u16 = 3306;
/// Where the agent's HTTP API listens unless `agent.listen` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9105";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub path: PathBuf,
    pub agent: AgentConfig,
    /// Several managers through etcd; `None`: this one acts alone.
    pub coordination: Option<super::CoordinationConfig>,
    pub clusters: Vec<ClusterConfig>,
}

impl Config {
    pub fn cluster(&self, name: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    pub state_dir: PathBuf,
    /// Run after every failover with the report (JSON) on its standard input.
    pub notify: Option<Command>,
    pub notify_timeout: Duration,
    /// The HTTP API (health, status, metrics); `None`: off.
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub name: String,
    /// The agent watches and says what it would do, and changes nothing:
    /// no failover, no fencing, no replication restarts, no VIP on `lo`
    /// (beside another manager, e.g. while migrating from MHA).
    pub observe_only: bool,
    pub users: Users,
    pub timing: Timing,
    pub failover: FailoverPolicy,
    pub switchover: SwitchoverPolicy,
    pub vip: Option<VipConfig>,
    /// How connections to the nodes are encrypted.
    pub tls: super::tls::TlsConfig,
    /// An Aurora cluster: Aurora promotes, vipkeeper follows (`None`: a
    /// replication cluster vipkeeper manages).
    pub aurora: Option<super::aurora::AuroraConfig>,
    /// Salvage from a dead master's binlog before a failover promotes.
    pub salvage: Option<super::salvage::SalvageConfig>,
    pub nodes: Vec<NodeConfig>,
}

impl ClusterConfig {
    pub fn node(&self, name: &str) -> Option<&NodeConfig> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// vipkeeper's own accounts: their sessions are never killed as clients.
    pub fn own_users(&self) -> [&str; 3] {
        [
            self.users.monitor.user.as_str(),
            self.users.admin.user.as_str(),
            self.users.replication.user.as_str(),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Users {
    pub monitor: Credentials,
    pub admin: Credentials,
    pub replication: Credentials,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
    pub source: SecretSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub probe_interval: Duration,
    pub connect_timeout: Duration,
    pub query_timeout: Duration,
    /// Consecutive probe timeouts before a node counts as unreachable.
    pub unreachable_after: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            probe_interval: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            query_timeout: Duration::from_secs(1),
            unreachable_after: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverPolicy {
    /// Nodes to promote first when they are (or can be made) most advanced.
    pub prefer: Vec<String>,
    pub never_promote: Vec<String>,
    /// Replicas further behind than this are not promoted.
    pub max_lag: Duration,
    /// A second automatic failover within this period waits for `ack`.
    pub block_period: Duration,
    /// How long a candidate may take to apply (and catch up) what it received.
    pub apply_timeout: Duration,
    /// Deadline of each administrative statement (STOP REPLICA, SET GLOBAL ...).
    pub statement_timeout: Duration,
}

impl Default for FailoverPolicy {
    fn default() -> Self {
        Self {
            prefer: Vec::new(),
            never_promote: Vec::new(),
            max_lag: Duration::from_secs(30),
            block_period: Duration::from_secs(3600),
            apply_timeout: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

/// Limits of a planned master change (`vipkeeper switchover`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchoverPolicy {
    /// Every replica must be at most this far behind before writes stop.
    pub max_lag: Duration,
    /// A transaction on the master open longer than this refuses the switchover.
    pub max_transaction_age: Duration,
    /// Time clients get to finish statements after the master turns
    /// read-only, before their connections are killed.
    pub kill_grace: Duration,
    /// Longest writes may be blocked: from read-only until the new master is
    /// writable. Past it, the switchover is rolled back.
    pub deadline: Duration,
}

impl Default for SwitchoverPolicy {
    fn default() -> Self {
        Self {
            max_lag: Duration::from_secs(5),
            max_transaction_age: Duration::from_secs(5),
            kill_grace: Duration::from_millis(100),
            deadline: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub instance_id: Option<String>,
    pub eni_id: Option<String>,
    pub az: Option<String>,
    /// Its IPv4 address when `host` is a DNS name (an Aurora instance
    /// endpoint, resolved when the instance was discovered).
    pub ipv4: Option<std::net::Ipv4Addr>,
    /// `host:port` of the vipkeeper agent on the node's host, which serves
    /// its binlog for salvage.
    pub host_agent: Option<String>,
    /// The binlog index as the host agent finds it, when the path mysqld
    /// reports is not the host's (default: learned from mysqld).
    pub binlog_index: Option<std::path::PathBuf>,
    /// The same for the relay log index.
    pub relay_log_index: Option<std::path::PathBuf>,
}

impl NodeConfig {
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The IPv4 address a target group or an A record names: the resolved
    /// one, else the host when it is an address.
    pub fn ipv4_host(&self) -> String {
        self.ipv4
            .map(|a| a.to_string())
            .unwrap_or_else(|| self.host.clone())
    }
}

/// A program and its arguments, run directly (no shell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub argv: Vec<String>,
}

impl Command {
    pub fn program(&self) -> &str {
        &self.argv[0]
    }

    pub fn args(&self) -> &[String] {
        &self.argv[1..]
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&shell_words::join(&self.argv))
    }
}

//! Everything one probe learns about one server, typed.

use serde::Serialize;

use super::binlog::BinlogCoord;
use super::flavor::ServerVersion;
use super::gtid::GtidSet;
use super::replica_status::ReplicaStatus;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeState {
    pub version: ServerVersion,
    pub server_id: u32,
    /// MySQL only.
    pub server_uuid: Option<String>,
    pub read_only: bool,
    /// MySQL only; false on MariaDB.
    pub super_read_only: bool,
    pub log_bin: bool,
    pub log_replica_updates: bool,
    pub binlog_format: String,
    /// Current binlog file and position (when binary logging is on).
    pub binlog: Option<BinlogCoord>,
    pub gtid: GtidState,
    pub semi_sync: SemiSync,
    /// The default channel's replica status; `None` when not a replica.
    pub replica: Option<ReplicaStatus>,
    /// How many replication channels / connections are configured.
    pub replica_channels: usize,
}

impl NodeState {
    /// Writable by ordinary clients.
    pub fn writable(&self) -> bool {
        !self.read_only && !self.super_read_only
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GtidState {
    /// MySQL `gtid_mode` (ON, OFF, ...); MariaDB: "ON" when strict mode is
    /// on, GTIDs being always present there.
    pub mode: String,
    /// Transactions this server has executed: MySQL `gtid_executed`,
    /// MariaDB `gtid_current_pos`.
    pub executed: Option<GtidSet>,
    /// MariaDB only: the three positions it keeps.
    pub mariadb: Option<MariadbPositions>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MariadbPositions {
    pub current_pos: String,
    pub slave_pos: String,
    pub binlog_pos: String,
    pub strict_mode: bool,
    pub domain_id: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SemiSync {
    /// Source (master) side enabled in configuration.
    pub source_enabled: bool,
    /// Source side actually waiting for acknowledgements now.
    pub source_active: bool,
    /// Replicas acknowledging right now.
    pub source_clients: u32,
    pub replica_enabled: bool,
    pub replica_active: bool,
    /// AFTER_SYNC or AFTER_COMMIT.
    pub wait_point: Option<String>,
}

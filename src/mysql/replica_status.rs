//! One normalised replica status, whichever of the three syntaxes produced
//! it: MySQL ≥ 8.0.22 `SHOW REPLICA STATUS` (`Source_*`, `Replica_*`),
//! MySQL < 8.0.22 `SHOW SLAVE STATUS` (`Master_*`, `Slave_*`) and MariaDB's
//! `SHOW SLAVE STATUS` (`Master_*`, `Slave_*`, `Using_Gtid`, `Gtid_IO_Pos`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::binlog::BinlogCoord;
use super::flavor::Flavor;
use super::gtid::{GtidSet, MariadbGtidPos, MysqlGtidSet};

/// A result row as column name → text (`None` for SQL NULL).
pub type Row = BTreeMap<String, Option<String>>;

/// State of the IO (receiver) thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IoThread {
    /// Connected and receiving.
    Yes,
    /// Trying to (re)connect to the source.
    Connecting,
    No,
}

impl IoThread {
    pub fn label(self) -> &'static str {
        match self {
            IoThread::Yes => "running",
            IoThread::Connecting => "connecting",
            IoThread::No => "stopped",
        }
    }
}

impl PositionMode {
    pub fn label(self) -> &'static str {
        match self {
            PositionMode::AutoPosition => "GTID auto-position",
            PositionMode::SlavePos => "GTID (slave_pos)",
            PositionMode::CurrentPos => "GTID (current_pos)",
            PositionMode::FilePos => "file/position",
        }
    }
}

/// How the replica finds its place in the source's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PositionMode {
    /// MySQL `SOURCE_AUTO_POSITION=1`.
    AutoPosition,
    /// MariaDB `MASTER_USE_GTID=slave_pos`.
    SlavePos,
    /// MariaDB `MASTER_USE_GTID=current_pos`.
    CurrentPos,
    /// Binlog file and position.
    FilePos,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaStatus {
    /// MySQL replication channel ("" is the default channel).
    pub channel: String,
    pub source_host: String,
    pub source_port: u16,
    pub source_user: String,
    /// Server id of the source, once the IO thread has connected.
    pub source_server_id: Option<u32>,
    /// MySQL only.
    pub source_uuid: Option<String>,
    pub io_thread: IoThread,
    pub sql_running: bool,
    pub io_state: String,
    pub sql_state: String,
    /// How far the IO thread has received in the source's binlog.
    pub received: Option<BinlogCoord>,
    /// How far the SQL thread has applied, in the source's binlog.
    pub executed: Option<BinlogCoord>,
    pub last_io_errno: u32,
    pub last_io_error: String,
    pub last_sql_errno: u32,
    pub last_sql_error: String,
    pub seconds_behind: Option<u64>,
    pub sql_delay: u64,
    pub position_mode: PositionMode,
    /// GTIDs received: MySQL `Retrieved_Gtid_Set`, MariaDB `Gtid_IO_Pos`.
    pub retrieved_gtids: Option<GtidSet>,
    /// GTIDs applied as this status reports them (MySQL `Executed_Gtid_Set`;
    /// MariaDB has no such column: the probe fills in `gtid_slave_pos`).
    pub executed_gtids: Option<GtidSet>,
    /// When the replica last heard from its source, where the server says
    /// (MySQL with performance_schema on) or the manager could tell from a
    /// count of heartbeats (MariaDB, `topology::hearing`); None elsewhere.
    /// Detection's input only: not part of `status --json`.
    #[serde(skip)]
    pub heard: Option<Heard>,
    /// Whether the server could be asked when the replica last heard from
    /// its source (MySQL's performance_schema answered), even when it has
    /// heard nothing yet since its IO thread started — which `heard`
    /// leaves unknown. `vipkeeper check` warns only when it could not.
    #[serde(skip)]
    pub heard_readable: bool,
    /// The heartbeats received and their period, where the server counts
    /// them but does not say when the last came (MariaDB): the manager
    /// tells the silence from a count that stops moving
    /// (`topology::hearing`) and fills in `heard`. Detection's input only.
    #[serde(skip)]
    pub heartbeats: Option<Heartbeats>,
}

/// A replica's count of heartbeats from its source, as read at `read_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeats {
    pub received: u64,
    pub period: std::time::Duration,
    /// When the count was read: the silence is measured between readings,
    /// not between the manager's looks (a look waits for its slowest node,
    /// a dead master, after the replicas were read).
    pub read_at: std::time::Instant,
}

/// When a connected replica last heard from its source — an event or a
/// heartbeat — by its own clock, and the heartbeat period it asked for. A
/// source that is up sends one at least every period; one silent for two
/// periods is silent to that replica too, with no need to restart its IO
/// thread to find out (a restart leaves MySQL's IO thread connecting to a
/// dead source, and stopping it then takes 2 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heard {
    pub silent_for: std::time::Duration,
    pub heartbeat: std::time::Duration,
}

/// The longest heartbeat period that makes a replica's silence evidence:
/// with a longer one, restarting its IO thread tells sooner.
pub const HEARD_AT_MOST: std::time::Duration = std::time::Duration::from_secs(1);

impl Heard {
    /// Whether the heartbeats are frequent enough to tell anything.
    pub fn tells(&self) -> bool {
        !self.heartbeat.is_zero() && self.heartbeat <= HEARD_AT_MOST
    }

    /// Silent for longer than two heartbeat periods.
    pub fn silent(&self) -> bool {
        !self.heartbeat.is_zero() && self.silent_for > 2 * self.heartbeat
    }

    /// How much longer the source must stay silent before `silent` holds.
    pub fn silent_in(&self) -> std::time::Duration {
        (2 * self.heartbeat).saturating_sub(self.silent_for)
    }
}

/// A replica status row that lacks a column we cannot do without.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replica status has no {column} column (looked for {names}); is this a supported server version?")]
pub struct MissingColumn {
    pub column: &'static str,
    pub names: String,
}

impl ReplicaStatus {
    /// Normalises one row of `SHOW REPLICA STATUS` / `SHOW SLAVE STATUS`.
    pub fn from_row(row: &Row, flavor: Flavor) -> Result<Self, MissingColumn> {
        let get = |names: &'static [&'static str]| field(row, names);
        let require = |column: &'static str, names: &'static [&'static str]| {
            names
                .iter()
                .find_map(|n| row.get(*n))
                .map(|v| v.as_deref().unwrap_or(""))
                .ok_or(MissingColumn {
                    column,
                    names: names.join(" or "),
                })
        };

        let io_thread = match require(
            "IO thread state",
            &["Replica_IO_Running", "Slave_IO_Running"],
        )? {
            "Yes" => IoThread::Yes,
            "Connecting" => IoThread::Connecting,
            _ => IoThread::No,
        };
        let sql_running = require(
            "SQL thread state",
            &["Replica_SQL_Running", "Slave_SQL_Running"],
        )? == "Yes";
        let coord = |file: &'static [&'static str], pos: &'static [&'static str]| {
            let file = get(file).filter(|f| !f.is_empty())?;
            Some(BinlogCoord::new(file, get(pos)?.parse().ok()?))
        };
        let received = coord(
            &["Source_Log_File", "Master_Log_File"],
            &["Read_Source_Log_Pos", "Read_Master_Log_Pos"],
        );
        let executed = coord(
            &["Relay_Source_Log_File", "Relay_Master_Log_File"],
            &["Exec_Source_Log_Pos", "Exec_Master_Log_Pos"],
        );

        let (position_mode, retrieved_gtids, executed_gtids) = match flavor {
            Flavor::Mariadb => {
                let mode = match get(&["Using_Gtid"]).unwrap_or("No") {
                    "Slave_Pos" => PositionMode::SlavePos,
                    "Current_Pos" => PositionMode::CurrentPos,
                    _ => PositionMode::FilePos,
                };
                let io_pos = get(&["Gtid_IO_Pos"])
                    .and_then(|t| MariadbGtidPos::parse(t).ok())
                    .map(GtidSet::Mariadb);
                (mode, io_pos, None)
            }
            Flavor::Mysql => {
                let mode = if get(&["Auto_Position"]) == Some("1") {
                    PositionMode::AutoPosition
                } else {
                    PositionMode::FilePos
                };
                let set = |names| {
                    get(names)
                        .and_then(|t| MysqlGtidSet::parse(t).ok())
                        .map(GtidSet::Mysql)
                };
                (
                    mode,
                    set(&["Retrieved_Gtid_Set"]),
                    set(&["Executed_Gtid_Set"]),
                )
            }
        };

        Ok(Self {
            channel: get(&["Channel_Name", "Connection_name"])
                .unwrap_or("")
                .to_string(),
            source_host: require("source host", &["Source_Host", "Master_Host"])?.to_string(),
            source_port: parsed(row, &["Source_Port", "Master_Port"]).unwrap_or(3306),
            source_user: get(&["Source_User", "Master_User"])
                .unwrap_or("")
                .to_string(),
            source_server_id: parsed(row, &["Source_Server_Id", "Master_Server_Id"])
                .filter(|id| *id != 0),
            source_uuid: get(&["Source_UUID", "Master_UUID"])
                .filter(|u| !u.is_empty())
                .map(str::to_string),
            io_thread,
            sql_running,
            io_state: get(&["Replica_IO_State", "Slave_IO_State"])
                .unwrap_or("")
                .to_string(),
            sql_state: get(&["Replica_SQL_Running_State", "Slave_SQL_Running_State"])
                .unwrap_or("")
                .to_string(),
            received,
            executed,
            last_io_errno: parsed(row, &["Last_IO_Errno"]).unwrap_or(0),
            last_io_error: crate::config::redact::scrub(get(&["Last_IO_Error"]).unwrap_or("")),
            last_sql_errno: parsed(row, &["Last_SQL_Errno"]).unwrap_or(0),
            last_sql_error: crate::config::redact::scrub(get(&["Last_SQL_Error"]).unwrap_or("")),
            seconds_behind: parsed(row, &["Seconds_Behind_Source", "Seconds_Behind_Master"]),
            sql_delay: parsed(row, &["SQL_Delay"]).unwrap_or(0),
            position_mode,
            retrieved_gtids,
            executed_gtids,
            heard: None,
            heard_readable: false,
            heartbeats: None,
        })
    }

    /// Both threads running, no error recorded.
    pub fn is_healthy(&self) -> bool {
        self.io_thread == IoThread::Yes
            && self.sql_running
            && self.last_io_errno == 0
            && self.last_sql_errno == 0
    }

    /// What is wrong with this replica, in one sentence; `None` if healthy.
    pub fn problem(&self) -> Option<String> {
        if !self.sql_running {
            return Some(if self.last_sql_errno != 0 {
                format!(
                    "SQL thread stopped by error {}: {}",
                    self.last_sql_errno, self.last_sql_error
                )
            } else {
                "SQL thread not running".to_string()
            });
        }
        match self.io_thread {
            IoThread::Yes => None,
            IoThread::Connecting if self.last_io_errno != 0 => Some(format!(
                "IO thread cannot connect to {}:{} (error {}: {})",
                self.source_host, self.source_port, self.last_io_errno, self.last_io_error
            )),
            IoThread::Connecting => Some(format!(
                "IO thread connecting to {}:{}",
                self.source_host, self.source_port
            )),
            IoThread::No if self.last_io_errno != 0 => Some(format!(
                "IO thread stopped by error {}: {}",
                self.last_io_errno, self.last_io_error
            )),
            IoThread::No => Some("IO thread not running".to_string()),
        }
    }
}

/// The first of `names` present in `row` (NULL counts as absent).
fn field<'a>(row: &'a Row, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| row.get(*n))
        .and_then(|v| v.as_deref())
}

fn parsed<T: std::str::FromStr>(row: &Row, names: &[&str]) -> Option<T> {
    field(row, names).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests;

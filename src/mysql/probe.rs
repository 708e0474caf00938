//! One probe of one server: connect, read its variables, binlog position,
//! replica status and semi-sync state, all within `connect_timeout +
//! query_timeout`, whatever the server does.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::binlog::BinlogCoord;
use super::conn::{Session, Target};
use super::error::{DbError, ErrorKind, Phase};
use super::flavor::{Flavor, ServerVersion};
use super::gtid::{GtidSet, MariadbGtidPos, MysqlGtidSet};
use super::node_state::{GtidState, MariadbPositions, NodeState, SemiSync};
use super::replica_status::{Heard, Heartbeats, IoThread, ReplicaStatus, Row};

const VARIABLES_SQL: &str = "SHOW GLOBAL VARIABLES WHERE Variable_name IN (\
    'version', 'version_comment', 'server_id', 'server_uuid', 'read_only', \
    'super_read_only', 'log_bin', 'log_slave_updates', 'log_replica_updates', \
    'binlog_format', 'gtid_mode', 'gtid_executed', 'gtid_current_pos', \
    'gtid_slave_pos', 'gtid_binlog_pos', 'gtid_strict_mode', 'gtid_domain_id', \
    'rpl_semi_sync_master_enabled', 'rpl_semi_sync_source_enabled', \
    'rpl_semi_sync_slave_enabled', 'rpl_semi_sync_replica_enabled', \
    'rpl_semi_sync_master_wait_point', 'rpl_semi_sync_source_wait_point')";

const STATUS_SQL: &str = "SHOW GLOBAL STATUS WHERE Variable_name IN (\
    'Rpl_semi_sync_master_status', 'Rpl_semi_sync_source_status', \
    'Rpl_semi_sync_slave_status', 'Rpl_semi_sync_replica_status', \
    'Rpl_semi_sync_master_clients', 'Rpl_semi_sync_source_clients', \
    'Slave_received_heartbeats', 'Slave_heartbeat_period')";

/// The outcome of one probe and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub result: Result<NodeState, DbError>,
    pub elapsed: Duration,
}

/// Probes `target`; returns within `connect_timeout + query_timeout`
/// (plus scheduling slack) in every case.
pub async fn probe(target: &Target) -> Probe {
    let started = Instant::now();
    let budget = target.connect_timeout + target.query_timeout;
    let result = match tokio::time::timeout(budget, probe_inner(target)).await {
        Ok(r) => r,
        Err(_) => Err(DbError::timeout(Phase::Query, budget)),
    };
    Probe {
        result,
        elapsed: started.elapsed(),
    }
}

async fn probe_inner(target: &Target) -> Result<NodeState, DbError> {
    let mut s = Session::connect(target).await?;
    let state = read_state(&mut s).await;
    s.close().await;
    state
}

/// Reads a node's state over an open session.
pub async fn read_state(s: &mut Session) -> Result<NodeState, DbError> {
    let vars = s.variables(VARIABLES_SQL).await?;
    let var = |name: &str| text(&vars, name);
    let version =
        ServerVersion::parse(var("version"), var("version_comment")).ok_or_else(|| DbError {
            kind: ErrorKind::Other,
            phase: Phase::Query,
            code: None,
            message: format!("cannot understand server version {:?}", var("version")),
        })?;
    let log_bin = on(var("log_bin"));
    let binlog = if log_bin {
        s.first(version.binlog_status_sql())
            .await?
            .and_then(|row| binlog_coord(&row))
    } else {
        None
    };
    let replica_rows = s.rows(version.replica_status_sql()).await?;
    let status = s.variables(STATUS_SQL).await?;
    // When the heartbeat count was read, to within the query's round trip.
    let read_at = Instant::now();
    let stat = |a: &str, b: &str| {
        status
            .get(a)
            .or_else(|| status.get(b))
            .and_then(|v| v.as_deref())
            .unwrap_or("")
    };
    let gtid = gtid_state(&version, &vars);
    let replica_channels = replica_rows.len();
    let mut replica = match replica_rows.iter().find(|r| is_default_channel(r)) {
        Some(row) => Some(
            ReplicaStatus::from_row(row, version.flavor).map_err(|e| DbError {
                kind: ErrorKind::Other,
                phase: Phase::Query,
                code: None,
                message: e.to_string(),
            })?,
        ),
        None => None,
    };
    if let Some(r) = replica
        .as_mut()
        .filter(|r| version.flavor == Flavor::Mysql && r.io_thread == IoThread::Yes)
    {
        (r.heard_readable, r.heard) = heard(s).await;
    }
    if let Some(r) = replica
        .as_mut()
        .filter(|r| version.flavor == Flavor::Mariadb && r.io_thread == IoThread::Yes)
    {
        r.heartbeats = heartbeats(&status, read_at);
    }
    if let (Some(r), Some(m)) = (replica.as_mut(), gtid.mariadb.as_ref()) {
        r.executed_gtids = MariadbGtidPos::parse(&m.slave_pos)
            .ok()
            .map(GtidSet::Mariadb);
    }
    let either = |a: &str, b: &str| on(var(a)) || on(var(b));
    Ok(NodeState {
        server_id: var("server_id").parse().unwrap_or(0),
        server_uuid: Some(var("server_uuid").to_string()).filter(|u| !u.is_empty()),
        read_only: on(var("read_only")),
        super_read_only: on(var("super_read_only")),
        log_bin,
        log_replica_updates: either("log_replica_updates", "log_slave_updates"),
        binlog_format: var("binlog_format").to_string(),
        binlog,
        gtid,
        semi_sync: SemiSync {
            source_enabled: either(
                "rpl_semi_sync_source_enabled",
                "rpl_semi_sync_master_enabled",
            ),
            source_active: on(stat(
                "rpl_semi_sync_source_status",
                "rpl_semi_sync_master_status",
            )),
            source_clients: stat(
                "rpl_semi_sync_source_clients",
                "rpl_semi_sync_master_clients",
            )
            .parse()
            .unwrap_or(0),
            replica_enabled: either(
                "rpl_semi_sync_replica_enabled",
                "rpl_semi_sync_slave_enabled",
            ),
            replica_active: on(stat(
                "rpl_semi_sync_replica_status",
                "rpl_semi_sync_slave_status",
            )),
            wait_point: Some(var("rpl_semi_sync_source_wait_point"))
                .filter(|w| !w.is_empty())
                .or(Some(var("rpl_semi_sync_master_wait_point")).filter(|w| !w.is_empty()))
                .map(str::to_string),
        },
        replica,
        replica_channels,
        version,
    })
}

fn gtid_state(version: &ServerVersion, vars: &Row) -> GtidState {
    let var = |name: &str| text(vars, name);
    match version.flavor {
        Flavor::Mysql => GtidState {
            mode: var("gtid_mode").to_string(),
            executed: MysqlGtidSet::parse(var("gtid_executed"))
                .ok()
                .map(GtidSet::Mysql),
            mariadb: None,
        },
        Flavor::Mariadb => {
            let strict_mode = on(var("gtid_strict_mode"));
            GtidState {
                mode: if strict_mode { "ON" } else { "OFF" }.to_string(),
                executed: MariadbGtidPos::parse(var("gtid_current_pos"))
                    .ok()
                    .map(GtidSet::Mariadb),
                mariadb: Some(MariadbPositions {
                    current_pos: var("gtid_current_pos").to_string(),
                    slave_pos: var("gtid_slave_pos").to_string(),
                    binlog_pos: var("gtid_binlog_pos").to_string(),
                    strict_mode,
                    domain_id: var("gtid_domain_id").parse().unwrap_or(0),
                }),
            }
        }
    }
}

/// Whether performance_schema answered, and when the replica last heard
/// from its source (an event or a heartbeat, by the replica's clock) with
/// its heartbeat period. The time is None when it cannot be read
/// (performance_schema off, no SELECT on the two tables) or when nothing
/// was heard yet since the IO thread started (the timestamps are zero):
/// detection then restarts the IO thread for its evidence instead.
async fn heard(s: &mut Session) -> (bool, Option<Heard>) {
    let Ok(Some(row)) = s.first(HEARD_SQL).await else {
        return (false, None);
    };
    let value = |name: &str| row.get(name)?.as_deref()?.parse::<f64>().ok();
    let heard = value("silent_us")
        .zip(value("heartbeat"))
        .and_then(|(silent_us, heartbeat)| {
            (silent_us >= 0.0 && heartbeat >= 0.0).then(|| Heard {
                silent_for: Duration::from_micros(silent_us as u64),
                heartbeat: Duration::from_secs_f64(heartbeat),
            })
        });
    (true, heard)
}

/// MariaDB's count of heartbeats from the default connection's source and
/// their period (`SHOW GLOBAL STATUS`: no privilege needed). None when the
/// server does not say.
fn heartbeats(status: &Row, read_at: Instant) -> Option<Heartbeats> {
    let value = |name: &str| status.get(name)?.as_deref()?.parse::<f64>().ok();
    let received = value("slave_received_heartbeats")?;
    let period = value("slave_heartbeat_period")?;
    (received >= 0.0 && period >= 0.0).then(|| Heartbeats {
        received: received as u64,
        period: Duration::from_secs_f64(period),
        read_at,
    })
}

const HEARD_SQL: &str = "SELECT TIMESTAMPDIFF(MICROSECOND, GREATEST(\
     s.LAST_HEARTBEAT_TIMESTAMP, s.LAST_QUEUED_TRANSACTION_START_QUEUE_TIMESTAMP, \
     s.LAST_QUEUED_TRANSACTION_END_QUEUE_TIMESTAMP), NOW(6)) AS silent_us, \
     c.HEARTBEAT_INTERVAL AS heartbeat \
     FROM performance_schema.replication_connection_status s \
     JOIN performance_schema.replication_connection_configuration c \
     ON c.CHANNEL_NAME = s.CHANNEL_NAME \
     WHERE s.CHANNEL_NAME = '' AND s.SERVICE_STATE = 'ON'";

fn is_default_channel(row: &Row) -> bool {
    ["Channel_Name", "Connection_name"]
        .iter()
        .find_map(|c| row.get(*c))
        .is_none_or(|v| v.as_deref().unwrap_or("").is_empty())
}

fn binlog_coord(row: &Row) -> Option<BinlogCoord> {
    let file = row.get("File")?.as_deref()?;
    let pos = row.get("Position")?.as_deref()?.parse().ok()?;
    Some(BinlogCoord::new(file, pos))
}

/// A variable's text ("" when absent or NULL).
fn text<'a>(row: &'a Row, name: &str) -> &'a str {
    row.get(name).and_then(|v| v.as_deref()).unwrap_or("")
}

fn on(value: &str) -> bool {
    matches!(
        value.to_ascii_uppercase().as_str(),
        "ON" | "1" | "YES" | "TRUE"
    )
}

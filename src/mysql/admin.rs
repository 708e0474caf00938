//! The statements that change a server's role, in each flavor's words.
//! Thin: one function per action, each a statement or two under the
//! session's deadline.

use super::binlog::BinlogCoord;
use super::conn::Session;
use super::error::DbError;
use super::flavor::{ServerVersion, Syntax};
use super::unfinished_group;
use crate::config::Secret;

/// Where a replica should start reading its new source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFrom {
    /// MySQL auto-position / MariaDB `master_use_gtid=slave_pos`.
    Gtid,
    /// For a former master: MySQL auto-position / MariaDB
    /// `master_use_gtid=current_pos`, which counts what it wrote itself
    /// (its `gtid_slave_pos` is as old as its last time as a replica).
    GtidIncludingOwn,
    /// A binlog file and position of the new source.
    Position(BinlogCoord),
}

/// How to log in to the new source.
pub struct SourceLogin<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub password: &'a Secret,
    /// Replicate over TLS (`SOURCE_SSL=1`). When false the replica keeps
    /// whatever TLS settings it had.
    pub tls: bool,
}

/// Stops both replication threads. A MariaDB semi-sync replica's IO
/// thread, as it stops, connects to its source to kill the dump thread
/// there, for up to `rpl_semi_sync_slave_kill_conn_timeout` (5 s by
/// default; 0 is no limit), and the server signals a stopping thread again
/// only every 2 s: against a dead or black-holed source `STOP SLAVE` took
/// 2.0 s (24 s with 0). Around the stop that timeout is lowered to
/// `KILL_CONN_TIMEOUT_S` — a live source answers a connect on a LAN in
/// milliseconds — and then put back.
pub async fn stop_replication(s: &mut Session, v: &ServerVersion) -> Result<(), DbError> {
    let (lowered, stopped) = match v.syntax() {
        Syntax::Mariadb => {
            let lowered = lower_kill_conn_timeout(s).await;
            (lowered, s.exec("STOP SLAVE").await)
        }
        Syntax::MysqlModern => (None, unfinished_group::stop(s, "STOP REPLICA").await),
        Syntax::MysqlLegacy => (None, unfinished_group::stop(s, "STOP SLAVE").await),
    };
    if let Some(before) = lowered {
        let restore = format!("SET GLOBAL rpl_semi_sync_slave_kill_conn_timeout = {before}");
        if let Err(e) = s.exec(&restore).await {
            tracing::warn!("could not put rpl_semi_sync_slave_kill_conn_timeout back to {before} after stopping replication (it stays {KILL_CONN_TIMEOUT_S}): {e}");
        }
    }
    stopped
}

/// How long (seconds) a stopping MariaDB semi-sync replica tries to reach
/// its source to kill its dump thread, while vipkeeper stops it.
pub const KILL_CONN_TIMEOUT_S: u32 = 1;

/// On a MariaDB semi-sync replica whose kill-connection timeout is longer
/// than `KILL_CONN_TIMEOUT_S` (or unlimited), lowers it; returns the value
/// to put back. None when nothing was changed (not semi-sync, already
/// short, a server without the variable, or no privilege: the stop then
/// simply takes as long as it takes).
async fn lower_kill_conn_timeout(s: &mut Session) -> Option<u32> {
    let row = s
        .first(
            "SELECT @@GLOBAL.rpl_semi_sync_slave_enabled AS enabled, \
             @@GLOBAL.rpl_semi_sync_slave_kill_conn_timeout AS timeout",
        )
        .await
        .ok()??;
    let value = |name: &str| row.get(name)?.as_deref()?.parse::<u32>().ok();
    let (enabled, before) = (value("enabled")?, value("timeout")?);
    if enabled == 0 || (1..=KILL_CONN_TIMEOUT_S).contains(&before) {
        return None;
    }
    let lower = format!("SET GLOBAL rpl_semi_sync_slave_kill_conn_timeout = {KILL_CONN_TIMEOUT_S}");
    s.exec(&lower).await.ok().map(|()| before)
}

/// Stops only the applier: the executed position stops moving (and is
/// exact: MySQL's parallel applier moves it at checkpoints only while it
/// runs), while the receiving thread is left as it is.
pub async fn stop_applier(s: &mut Session, v: &ServerVersion) -> Result<(), DbError> {
    match v.syntax() {
        Syntax::MysqlModern => unfinished_group::stop(s, "STOP REPLICA SQL_THREAD").await,
        Syntax::MysqlLegacy => unfinished_group::stop(s, "STOP SLAVE SQL_THREAD").await,
        Syntax::Mariadb => s.exec("STOP SLAVE SQL_THREAD").await,
    }
}

pub async fn start_replication(s: &mut Session, v: &ServerVersion) -> Result<(), DbError> {
    s.exec(match v.syntax() {
        Syntax::MysqlModern => "START REPLICA",
        Syntax::MysqlLegacy | Syntax::Mariadb => "START SLAVE",
    })
    .await
}

/// Restarts only the receiving thread: a fresh connection attempt to the
/// source, which tells whether the source still answers from there.
pub async fn restart_io_thread(s: &mut Session, v: &ServerVersion) -> Result<(), DbError> {
    let (stop, start) = match v.syntax() {
        Syntax::MysqlModern => ("STOP REPLICA IO_THREAD", "START REPLICA IO_THREAD"),
        Syntax::MysqlLegacy | Syntax::Mariadb => ("STOP SLAVE IO_THREAD", "START SLAVE IO_THREAD"),
    };
    s.exec(stop).await?;
    s.exec(start).await
}

/// Forgets the replication source entirely (the new master replicates from nobody).
pub async fn reset_replication(s: &mut Session, v: &ServerVersion) -> Result<(), DbError> {
    s.exec(match v.syntax() {
        Syntax::MysqlModern => "RESET REPLICA ALL",
        Syntax::MysqlLegacy | Syntax::Mariadb => "RESET SLAVE ALL",
    })
    .await
}

/// The heartbeat period (seconds) vipkeeper asks of a source when it
/// points a replica: a source idle for this long sends a heartbeat, so a
/// replica that heard nothing for two periods (1 s, the default probe
/// timeout) is cut off from it — evidence of a silent master that needs no
/// IO-thread restart (see `replica_status::Heard`; MariaDB's count of them,
/// `topology::hearing`). The servers' default is half
/// `replica_net_timeout` / `slave_net_timeout`, 30 s.
pub const HEARTBEAT_PERIOD: &str = "0.5";

/// `CHANGE REPLICATION SOURCE TO` / `CHANGE MASTER TO`. Replication must be stopped.
pub async fn change_source(
    s: &mut Session,
    v: &ServerVersion,
    to: &SourceLogin<'_>,
    from: &StartFrom,
) -> Result<(), DbError> {
    // A backslash in the password means one thing or another depending on
    // the session's sql_mode: quote for the mode the server will parse in.
    let mode = s
        .first("SELECT @@SESSION.sql_mode AS m")
        .await?
        .and_then(|mut r| r.remove("m").flatten())
        .unwrap_or_default();
    let quoting = Quoting::for_sql_mode(&mode);
    let sql = change_source_sql(v, to, from, quoting);
    s.exec_secret(
        &sql,
        &format!("change replication source to {}:{}", to.host, to.port),
    )
    .await
}

pub fn change_source_sql(
    v: &ServerVersion,
    to: &SourceLogin<'_>,
    from: &StartFrom,
    quoting: Quoting,
) -> String {
    let quote = |value: &str| quote_in(value, quoting);
    let (host, user, password) = (quote(to.host), quote(to.user), quote(to.password.expose()));
    let port = to.port;
    let ssl = |name: &str| {
        if to.tls {
            format!(", {name}=1")
        } else {
            String::new()
        }
    };
    match v.syntax() {
        Syntax::MysqlModern => {
            let position = match from {
                StartFrom::Gtid | StartFrom::GtidIncludingOwn => {
                    "SOURCE_AUTO_POSITION=1".to_string()
                }
                StartFrom::Position(c) => format!(
                    "SOURCE_AUTO_POSITION=0, SOURCE_LOG_FILE={}, SOURCE_LOG_POS={}",
                    quote(&c.file),
                    c.position
                ),
            };
            format!(
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST={host}, SOURCE_PORT={port}, SOURCE_USER={user}, \
                 SOURCE_PASSWORD={password}, SOURCE_CONNECT_RETRY=1, \
                 SOURCE_HEARTBEAT_PERIOD={HEARTBEAT_PERIOD}, GET_SOURCE_PUBLIC_KEY=1, {position}{}",
                ssl("SOURCE_SSL")
            )
        }
        Syntax::MysqlLegacy => {
            let position = match from {
                StartFrom::Gtid | StartFrom::GtidIncludingOwn => {
                    "MASTER_AUTO_POSITION=1".to_string()
                }
                StartFrom::Position(c) => format!(
                    "MASTER_AUTO_POSITION=0, MASTER_LOG_FILE={}, MASTER_LOG_POS={}",
                    quote(&c.file),
                    c.position
                ),
            };
            format!(
                "CHANGE MASTER TO MASTER_HOST={host}, MASTER_PORT={port}, MASTER_USER={user}, \
                 MASTER_PASSWORD={password}, MASTER_CONNECT_RETRY=1, \
                 MASTER_HEARTBEAT_PERIOD={HEARTBEAT_PERIOD}, GET_MASTER_PUBLIC_KEY=1, {position}{}",
                ssl("MASTER_SSL")
            )
        }
        Syntax::Mariadb => {
            let position = match from {
                StartFrom::Gtid => "MASTER_USE_GTID=slave_pos".to_string(),
                StartFrom::GtidIncludingOwn => "MASTER_USE_GTID=current_pos".to_string(),
                StartFrom::Position(c) => format!(
                    "MASTER_USE_GTID=no, MASTER_LOG_FILE={}, MASTER_LOG_POS={}",
                    quote(&c.file),
                    c.position
                ),
            };
            format!(
                "CHANGE MASTER TO MASTER_HOST={host}, MASTER_PORT={port}, MASTER_USER={user}, \
                 MASTER_PASSWORD={password}, MASTER_CONNECT_RETRY=1, \
                 MASTER_HEARTBEAT_PERIOD={HEARTBEAT_PERIOD}, {position}{}",
                ssl("MASTER_SSL")
            )
        }
    }
}

/// The semi-sync source (master) side on or off. MySQL names the variable
/// after its plugin (`rpl_semi_sync_source_enabled` from 8.0.26, else
/// `rpl_semi_sync_master_enabled`): the first one the server knows is set.
pub async fn set_semi_sync_source(
    s: &mut Session,
    v: &ServerVersion,
    on: bool,
) -> Result<(), DbError> {
    let names: &[&str] = match v.syntax() {
        Syntax::Mariadb => &["rpl_semi_sync_master_enabled"],
        _ => &[
            "rpl_semi_sync_source_enabled",
            "rpl_semi_sync_master_enabled",
        ],
    };
    let value = if on { "ON" } else { "OFF" };
    let mut last = None;
    for name in names {
        match s.exec(&format!("SET GLOBAL {name}={value}")).await {
            Ok(()) => return Ok(()),
            // ER_UNKNOWN_SYSTEM_VARIABLE: the other plugin is loaded.
            Err(e) if e.code == Some(1193) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("at least one name"))
}

/// Read-only for clients (super_read_only on MySQL, which implies read_only).
pub async fn set_read_only(s: &mut Session, v: &ServerVersion, on: bool) -> Result<(), DbError> {
    s.exec(read_only_sql(v, on)).await
}

pub fn read_only_sql(v: &ServerVersion, on: bool) -> &'static str {
    match (v.syntax(), on) {
        (Syntax::Mariadb, true) => "SET GLOBAL read_only=ON",
        (Syntax::Mariadb, false) => "SET GLOBAL read_only=OFF",
        (_, true) => "SET GLOBAL super_read_only=ON",
        (_, false) => "SET GLOBAL super_read_only=OFF, GLOBAL read_only=OFF",
    }
}

/// Kills every client connection but our own, the server's own threads
/// (replication, event scheduler) and those of `keep_users`: vipkeeper's
/// own accounts, whose sessions hold the cluster lock (another manager's
/// included: killing its lock session would let a third actor in).
/// Returns how many were killed.
pub async fn kill_client_connections(
    s: &mut Session,
    keep_users: &[&str],
) -> Result<usize, DbError> {
    let keep: String = keep_users
        .iter()
        .map(|u| format!(", {}", quote(u)))
        .collect();
    let rows = s
        .rows(&format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() \
             AND USER NOT IN ('system user', 'event_scheduler', 'system_user'{keep}) \
             AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Killed')"
        ))
        .await?;
    let mut killed = 0;
    for id in rows
        .into_iter()
        .filter_map(|mut r| r.remove("ID").flatten())
    {
        // The connection may have gone by itself meanwhile: not an error.
        if s.exec(&format!(
            "KILL CONNECTION {}",
            id.parse::<u64>().unwrap_or(0)
        ))
        .await
        .is_ok()
        {
            killed += 1;
        }
    }
    Ok(killed)
}

/// Transactions open on the server (other than this session's), oldest
/// first: (connection id, age in seconds, state, rows modified).
pub async fn open_transactions(s: &mut Session) -> Result<Vec<(u64, u64, String, u64)>, DbError> {
    let rows = s
        .rows(
            "SELECT trx_mysql_thread_id AS id, \
             GREATEST(TIMESTAMPDIFF(SECOND, trx_started, NOW()), 0) AS age, \
             trx_state AS state, trx_rows_modified AS modified \
             FROM information_schema.INNODB_TRX \
             WHERE trx_mysql_thread_id <> CONNECTION_ID() ORDER BY trx_started",
        )
        .await?;
    let num = |r: &std::collections::BTreeMap<String, Option<String>>, k: &str| {
        r.get(k)
            .cloned()
            .flatten()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(rows
        .iter()
        .map(|r| {
            (
                num(r, "id"),
                num(r, "age"),
                r.get("state").cloned().flatten().unwrap_or_default(),
                num(r, "modified"),
            )
        })
        .collect())
}

/// Current binlog file and position.
pub async fn binlog_position(
    s: &mut Session,
    v: &ServerVersion,
) -> Result<Option<BinlogCoord>, DbError> {
    let row = s.first(v.binlog_status_sql()).await?;
    Ok(row.and_then(|r| {
        let file = r.get("File")?.clone()?;
        let pos = r.get("Position")?.as_deref()?.parse().ok()?;
        Some(BinlogCoord::new(file, pos))
    }))
}

/// How the server reads a backslash in a string literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// The default: a backslash escapes the next character.
    Backslash,
    /// `NO_BACKSLASH_ESCAPES` in the session's sql_mode: a backslash is itself.
    NoBackslashEscapes,
}

impl Quoting {
    pub fn for_sql_mode(sql_mode: &str) -> Self {
        if sql_mode
            .split(',')
            .any(|m| m.trim().eq_ignore_ascii_case("NO_BACKSLASH_ESCAPES"))
        {
            Quoting::NoBackslashEscapes
        } else {
            Quoting::Backslash
        }
    }
}

/// A string literal for the default sql_mode. Used for values vipkeeper
/// made itself (lock names, validated user names), which hold no backslash
/// and so read the same in either mode.
pub fn quote(value: &str) -> String {
    quote_in(value, Quoting::Backslash)
}

/// A string literal, quoted and escaped for a session that reads backslashes
/// as `quoting` says.
pub fn quote_in(value: &str, quoting: Quoting) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match (c, quoting) {
            ('\'', _) => out.push_str("''"),
            ('\\', Quoting::Backslash) => out.push_str("\\\\"),
            ('\0', Quoting::Backslash) => out.push_str("\\0"),
            (c, _) => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> ServerVersion {
        ServerVersion::parse(text, "").unwrap()
    }

    #[test]
    fn change_source_in_each_flavors_words() {
        let pw = Secret::new("p'w\\x");
        let to = SourceLogin {
            host: "10.0.0.2",
            port: 3306,
            user: "repl",
            password: &pw,
            tls: false,
        };
        let mysql = change_source_sql(&v("9.7.4"), &to, &StartFrom::Gtid, Quoting::Backslash);
        assert_eq!(
            mysql,
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST='10.0.0.2', SOURCE_PORT=3306, SOURCE_USER='repl', \
             SOURCE_PASSWORD='p''w\\\\x', SOURCE_CONNECT_RETRY=1, SOURCE_HEARTBEAT_PERIOD=0.5, GET_SOURCE_PUBLIC_KEY=1, SOURCE_AUTO_POSITION=1"
        );
        let legacy = change_source_sql(
            &v("8.0.20"),
            &to,
            &StartFrom::Position(BinlogCoord::new("b.000002", 154)),
            Quoting::Backslash,
        );
        assert!(
            legacy.starts_with("CHANGE MASTER TO MASTER_HOST='10.0.0.2'"),
            "{legacy}"
        );
        assert!(
            legacy.ends_with(
                "MASTER_AUTO_POSITION=0, MASTER_LOG_FILE='b.000002', MASTER_LOG_POS=154"
            ),
            "{legacy}"
        );
        let maria = change_source_sql(
            &v("10.11.6-MariaDB"),
            &to,
            &StartFrom::Gtid,
            Quoting::NoBackslashEscapes,
        );
        assert!(maria.contains("MASTER_PASSWORD='p''w\\x'"), "{maria}");
        assert!(
            maria.ends_with(
                "MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=0.5, MASTER_USE_GTID=slave_pos"
            ),
            "{maria}"
        );

        // Over TLS: the flag in each flavor's words; without, not a word
        // (the replica keeps the TLS settings it had).
        let tls = SourceLogin { tls: true, ..to };
        assert!(
            change_source_sql(&v("9.7.4"), &tls, &StartFrom::Gtid, Quoting::Backslash)
                .ends_with("SOURCE_AUTO_POSITION=1, SOURCE_SSL=1")
        );
        assert!(change_source_sql(
            &v("10.11.6-MariaDB"),
            &tls,
            &StartFrom::Gtid,
            Quoting::Backslash
        )
        .ends_with("MASTER_USE_GTID=slave_pos, MASTER_SSL=1"));
        assert!(!mysql.contains("SSL"));
    }

    #[test]
    fn read_only_words() {
        assert_eq!(
            read_only_sql(&v("9.7.4"), true),
            "SET GLOBAL super_read_only=ON"
        );
        assert_eq!(
            read_only_sql(&v("9.7.4"), false),
            "SET GLOBAL super_read_only=OFF, GLOBAL read_only=OFF"
        );
        assert_eq!(
            read_only_sql(&v("10.11.6-MariaDB"), true),
            "SET GLOBAL read_only=ON"
        );
    }
}

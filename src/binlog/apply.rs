//! Replaying salvaged transactions on a server, as `mysqlbinlog | mysql`
//! would: each transaction under its own GTID (MySQL `GTID_NEXT`, MariaDB
//! `gtid_domain_id`/`server_id`/`gtid_seq_no`), rows events through the
//! `BINLOG` statement (the server decodes them itself), statements with the
//! session state they were logged with. A transaction the server already
//! has (by GTID) is skipped, so a replay is safe to repeat.

use std::io::Cursor;

use base64::Engine;
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::{Event, EventData, QueryEvent, StatusVarVal};
use mysql_common::binlog::EventStreamReader;

use super::event::{classify, context_statement, Kind};
use super::tail::{Tail, Transaction};
use crate::mysql::flavor::Flavor;
use crate::mysql::gtid::GtidSet;
use crate::mysql::Session;

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Each transaction applied: its GTID, else its place in the binlog.
    pub applied: Vec<String>,
    /// Transactions the server already had.
    pub skipped: usize,
}

/// A replay that stopped: what it did before, and why it stopped.
#[derive(Debug)]
pub struct ReplayError {
    pub done: Replayed,
    pub why: String,
}

/// Replays `tail` on `s` (a `flavor` server whose executed transactions
/// are `executed`), in order; stops at the first failure.
pub async fn replay(
    s: &mut Session,
    flavor: Flavor,
    tail: &Tail,
    executed: Option<&GtidSet>,
) -> Result<Replayed, ReplayError> {
    let mut done = Replayed::default();
    let mut format_of: Option<&str> = None;
    for t in &tail.transactions {
        if let (Some(g), Some(executed)) = (&t.gtid, executed) {
            if g.is_in(executed) {
                done.skipped += 1;
                continue;
            }
        }
        let label = t
            .gtid
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| format!("{}:{}", t.file, t.start));
        let result = async {
            let fde = tail
                .formats
                .iter()
                .find(|(f, _)| *f == t.file)
                .map(|(_, b)| b.as_slice())
                .ok_or_else(|| format!("no format description for {}", t.file))?;
            if format_of != Some(t.file.as_str()) {
                binlog_statement(s, fde, &label).await?;
                format_of = Some(t.file.as_str());
            }
            let outcome = transaction(s, flavor, fde, t, &label).await;
            if outcome.is_err() {
                // Whatever was half done goes; the session is left usable.
                let _ = s.exec("ROLLBACK").await;
            }
            let reset = reset_gtid(s, flavor).await;
            outcome.and(reset)
        }
        .await;
        match result {
            Ok(()) => done.applied.push(label),
            Err(why) => {
                return Err(ReplayError {
                    done,
                    why: format!("replaying {label}: {why}"),
                })
            }
        }
    }
    Ok(done)
}

async fn transaction(
    s: &mut Session,
    flavor: Flavor,
    fde: &[u8],
    t: &Transaction,
    label: &str,
) -> Result<(), String> {
    let mut reader = reader_for(fde)?;
    if let Some(g) = &t.gtid {
        let set = match (flavor, g) {
            (Flavor::Mysql, super::gtid::TxnGtid::Mysql { .. }) => format!("SET GTID_NEXT='{g}'"),
            (
                Flavor::Mariadb,
                super::gtid::TxnGtid::Mariadb {
                    domain,
                    server,
                    sequence,
                },
            ) => format!(
                "SET SESSION gtid_domain_id={domain}, SESSION server_id={server}, SESSION gtid_seq_no={sequence}"
            ),
            _ => return Err(format!("a {g} GTID cannot be replayed on {}", flavor)),
        };
        s.exec(&set).await.map_err(|e| e.to_string())?;
    }
    let mut kinds = Vec::with_capacity(t.events.len());
    for raw in &t.events {
        let event = reader
            .read(Cursor::new(raw))
            .map_err(|e| format!("unreadable event: {e}"))?
            .ok_or("an empty event")?;
        kinds.push((classify(&event).map_err(|e| e.to_string())?, event));
    }
    // MariaDB writes no BEGIN after its GTID event: the GTID implies it.
    if !t.standalone && !kinds.iter().any(|(k, _)| *k == Kind::Begin) {
        s.exec("BEGIN").await.map_err(|e| e.to_string())?;
    }
    let mut rows: Vec<u8> = Vec::new();
    for ((kind, event), raw) in kinds.iter().zip(&t.events) {
        match kind {
            Kind::Rows { statement_end } => {
                rows.extend_from_slice(raw);
                if *statement_end {
                    binlog_statement(s, &std::mem::take(&mut rows), label).await?;
                }
            }
            other => {
                if !rows.is_empty() {
                    binlog_statement(s, &std::mem::take(&mut rows), label).await?;
                }
                match other {
                    Kind::Begin => s.exec("BEGIN").await.map_err(|e| e.to_string())?,
                    Kind::Commit => s.exec("COMMIT").await.map_err(|e| e.to_string())?,
                    Kind::Rollback => s.exec("ROLLBACK").await.map_err(|e| e.to_string())?,
                    Kind::Statement => statement(s, event, label).await?,
                    Kind::Context => {
                        if let Some(sql) = context_statement(event).map_err(|e| e.to_string())? {
                            s.exec(&sql).await.map_err(|e| e.to_string())?;
                        }
                    }
                    Kind::Skip => {}
                    Kind::Start { .. } | Kind::Rotate { .. } | Kind::Stop => {
                        return Err("a transaction boundary inside a transaction".into())
                    }
                    Kind::Unsupported(what) => return Err(format!("{what} is not replayed")),
                    Kind::Rows { .. } => unreachable!("matched above"),
                }
            }
        }
    }
    if !rows.is_empty() {
        binlog_statement(s, &rows, label).await?;
    }
    Ok(())
}

/// A reader that knows the file's format (checksums, header lengths).
fn reader_for(fde: &[u8]) -> Result<EventStreamReader, String> {
    let mut reader = EventStreamReader::new(BinlogVersion::Version4);
    reader
        .read(Cursor::new(fde))
        .map_err(|e| format!("unreadable format description: {e}"))?;
    Ok(reader)
}

/// `BINLOG '<base64>'`: the server decodes and applies the events itself
/// (a format description, or table maps with their rows events). The
/// statement carries row data: an error names the transaction, never it.
async fn binlog_statement(s: &mut Session, raw: &[u8], label: &str) -> Result<(), String> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
    s.exec_secret(
        &format!("BINLOG '{b64}'"),
        &format!("BINLOG (the events of {label})"),
    )
    .await
    .map_err(|e| e.to_string())
}

/// A statement, under the schema, time and session settings it was
/// logged with.
async fn statement(s: &mut Session, event: &Event, label: &str) -> Result<(), String> {
    let Some(EventData::QueryEvent(q)) = event.read_data().map_err(|e| e.to_string())? else {
        return Err("a statement event that is not one".into());
    };
    for sql in session_for(&q, event.header().timestamp()) {
        s.exec(&sql).await.map_err(|e| e.to_string())?;
    }
    s.exec_secret(&q.query(), &format!("a statement of {label}"))
        .await
        .map_err(|e| e.to_string())
}

/// The `USE` and `SET` statements that recreate a logged statement's
/// session: schema, timestamp, sql_mode, checks, character sets, time zone,
/// auto-increment settings.
fn session_for(q: &QueryEvent<'_>, timestamp: u32) -> Vec<String> {
    let mut out = Vec::new();
    let schema = q.schema();
    if !schema.is_empty() {
        out.push(format!("USE `{}`", schema.replace('`', "``")));
    }
    out.push(format!("SET TIMESTAMP={timestamp}"));
    for var in q.status_vars().iter() {
        match var.get_value() {
            Ok(StatusVarVal::SqlMode(m)) => out.push(format!("SET SESSION sql_mode={}", m.0)),
            Ok(StatusVarVal::Flags2(f)) => {
                let on = |bit: u32| if f.0 & bit == 0 { 1 } else { 0 };
                out.push(format!(
                    "SET SESSION foreign_key_checks={}, SESSION unique_checks={}",
                    on(0x0400_0000),
                    on(0x0800_0000)
                ));
            }
            Ok(StatusVarVal::Charset {
                charset_client,
                collation_connection,
                collation_server,
            }) => out.push(format!(
                "SET SESSION character_set_client={charset_client}, SESSION collation_connection={collation_connection}, SESSION collation_server={collation_server}"
            )),
            Ok(StatusVarVal::TimeZone(tz)) if !tz.as_bytes().is_empty() => out.push(format!(
                "SET SESSION time_zone='{}'",
                tz.as_str().replace('\'', "''")
            )),
            Ok(StatusVarVal::AutoIncrement { increment, offset }) => out.push(format!(
                "SET SESSION auto_increment_increment={increment}, SESSION auto_increment_offset={offset}"
            )),
            _ => {}
        }
    }
    out
}

/// Back to the server's own GTIDs for what follows.
async fn reset_gtid(s: &mut Session, flavor: Flavor) -> Result<(), String> {
    let sql = match flavor {
        Flavor::Mysql => "SET GTID_NEXT='AUTOMATIC'",
        Flavor::Mariadb => {
            "SET SESSION server_id=@@GLOBAL.server_id, SESSION gtid_domain_id=@@GLOBAL.gtid_domain_id"
        }
    };
    s.exec(sql).await.map_err(|e| e.to_string())
}

//! What one binlog event means for a salvage: where a transaction starts
//! and ends, what is replayed and what is skipped. mysql_common reads the
//! events; MariaDB's own GTID event (type 162), which it does not know, is
//! read here (eight bytes of sequence, four of domain, one of flags).

use mysql_common::binlog::consts::{IntvarEventType, RowsEventFlags};
use mysql_common::binlog::events::{Event, EventData};

use super::gtid::TxnGtid;

/// MariaDB's event types past MySQL's (log_event.h).
pub mod mariadb {
    pub const ANNOTATE_ROWS: u8 = 160;
    pub const BINLOG_CHECKPOINT: u8 = 161;
    pub const GTID: u8 = 162;
    pub const GTID_LIST: u8 = 163;
    pub const START_ENCRYPTION: u8 = 164;
    pub const QUERY_COMPRESSED: u8 = 165;
    /// 166..=171: the compressed rows events.
    pub const ROWS_COMPRESSED: std::ops::RangeInclusive<u8> = 166..=171;
    /// The GTID event's flag for a transaction of one statement and no BEGIN (DDL).
    pub const FL_STANDALONE: u8 = 1;
}

/// One event's part in a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A transaction starts: its GTID (`None`: MySQL's anonymous one), and
    /// whether it is one statement without BEGIN (DDL).
    Start {
        gtid: Option<TxnGtid>,
        standalone: bool,
    },
    Begin,
    /// XID, or a COMMIT statement.
    Commit,
    Rollback,
    /// Any other statement: DDL, or DML logged as a statement.
    Statement,
    /// A table map or a rows event; `statement_end` closes the statement.
    Rows {
        statement_end: bool,
    },
    /// Session state for the next statement: INSERT_ID, LAST_INSERT_ID, RAND seeds.
    Context,
    /// Nothing to replay: format description, GTID lists, checkpoints,
    /// the text of a rows statement, heartbeats.
    Skip,
    Rotate {
        next: String,
    },
    Stop,
    /// Something a salvage does not replay (named): LOAD DATA, XA, a user
    /// variable, a compressed or encrypted binlog.
    Unsupported(String),
}

/// Classifies `event` (as read with its file's format description).
pub fn classify(event: &Event) -> std::io::Result<Kind> {
    let raw = event.header().event_type_raw();
    match raw {
        mariadb::GTID => return Ok(mariadb_gtid(event.header().server_id(), event.data())),
        mariadb::ANNOTATE_ROWS | mariadb::BINLOG_CHECKPOINT | mariadb::GTID_LIST => {
            return Ok(Kind::Skip)
        }
        mariadb::START_ENCRYPTION => return Ok(Kind::Unsupported("an encrypted binlog".into())),
        mariadb::QUERY_COMPRESSED => {
            return Ok(Kind::Unsupported(
                "a compressed statement (log_bin_compress)".into(),
            ))
        }
        r if mariadb::ROWS_COMPRESSED.contains(&r) => {
            return Ok(Kind::Unsupported(
                "compressed rows (log_bin_compress)".into(),
            ))
        }
        _ => {}
    }
    let Some(data) = event.read_data()? else {
        return Ok(Kind::Unsupported(format!("event type {raw}")));
    };
    Ok(match data {
        EventData::QueryEvent(q) => match q.query().trim().to_ascii_uppercase().as_str() {
            "BEGIN" | "START TRANSACTION" => Kind::Begin,
            "COMMIT" => Kind::Commit,
            "ROLLBACK" => Kind::Rollback,
            _ => Kind::Statement,
        },
        EventData::XidEvent(_) => Kind::Commit,
        EventData::GtidEvent(g) => Kind::Start {
            gtid: Some(TxnGtid::mysql(g.sid(), g.gno())),
            standalone: false,
        },
        EventData::AnonymousGtidEvent(_) => Kind::Start {
            gtid: None,
            standalone: false,
        },
        EventData::TableMapEvent(_) => Kind::Rows {
            statement_end: false,
        },
        EventData::RowsEvent(r) => Kind::Rows {
            statement_end: r.flags().contains(RowsEventFlags::STMT_END),
        },
        EventData::IntvarEvent(i) => match i.subtype() {
            IntvarEventType::INVALID_INT_EVENT => Kind::Unsupported("an invalid INTVAR".into()),
            _ => Kind::Context,
        },
        EventData::RandEvent(_) => Kind::Context,
        EventData::UserVarEvent(_) => Kind::Unsupported("a user variable (SET @x)".into()),
        EventData::RotateEvent(r) => Kind::Rotate {
            next: String::from_utf8_lossy(r.name_raw()).into_owned(),
        },
        EventData::StopEvent => Kind::Stop,
        EventData::FormatDescriptionEvent(_)
        | EventData::PreviousGtidsEvent(_)
        | EventData::RowsQueryEvent(_)
        | EventData::HeartbeatEvent
        | EventData::IgnorableEvent(_)
        | EventData::IncidentEvent(_)
        | EventData::StartEventV3(_) => Kind::Skip,
        EventData::TransactionPayloadEvent(_) => {
            Kind::Unsupported("a compressed transaction (binlog_transaction_compression)".into())
        }
        other => Kind::Unsupported(format!("{:?}", type_of(&other))),
    })
}

fn type_of(data: &EventData<'_>) -> &'static str {
    match data {
        EventData::XaPrepareLogEvent(_) => "an XA PREPARE",
        EventData::BeginLoadQueryEvent(_)
        | EventData::ExecuteLoadQueryEvent(_)
        | EventData::LoadEvent(_)
        | EventData::NewLoadEvent(_)
        | EventData::CreateFileEvent(_)
        | EventData::AppendBlockEvent(_)
        | EventData::ExecLoadEvent(_)
        | EventData::DeleteFileEvent(_) => "LOAD DATA",
        _ => "an event of an unknown kind",
    }
}

/// MariaDB's GTID event: sequence (u64), domain (u32), flags (u8), then
/// optional parts a salvage does not need.
fn mariadb_gtid(server: u32, data: &[u8]) -> Kind {
    if data.len() < 13 {
        return Kind::Unsupported("a truncated MariaDB GTID event".into());
    }
    let sequence = u64::from_le_bytes(data[0..8].try_into().expect("8 bytes"));
    let domain = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes"));
    let flags = data[12];
    Kind::Start {
        gtid: Some(TxnGtid::Mariadb {
            domain,
            server,
            sequence,
        }),
        standalone: flags & mariadb::FL_STANDALONE != 0,
    }
}

/// The statements that set what `event` (a `Kind::Context` event) carries.
pub fn context_statement(event: &Event) -> std::io::Result<Option<String>> {
    Ok(match event.read_data()? {
        Some(EventData::IntvarEvent(i)) => match i.subtype() {
            IntvarEventType::INSERT_ID_EVENT => Some(format!("SET INSERT_ID={}", i.value())),
            IntvarEventType::LAST_INSERT_ID_EVENT => {
                Some(format!("SET LAST_INSERT_ID={}", i.value()))
            }
            IntvarEventType::INVALID_INT_EVENT => None,
        },
        Some(EventData::RandEvent(r)) => Some(format!(
            "SET @@SESSION.RAND_SEED1={}, @@SESSION.RAND_SEED2={}",
            *r.seed1, *r.seed2
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mariadb_gtid_event_names_domain_server_and_sequence() {
        let mut data = 42u64.to_le_bytes().to_vec();
        data.extend(3u32.to_le_bytes());
        data.push(mariadb::FL_STANDALONE | 0x20);
        assert_eq!(
            mariadb_gtid(7, &data),
            Kind::Start {
                gtid: Some(TxnGtid::Mariadb {
                    domain: 3,
                    server: 7,
                    sequence: 42
                }),
                standalone: true
            }
        );
        data[12] = 0x0c;
        assert!(matches!(
            mariadb_gtid(7, &data),
            Kind::Start {
                standalone: false,
                ..
            }
        ));
        assert!(matches!(mariadb_gtid(7, &data[..5]), Kind::Unsupported(_)));
    }
}

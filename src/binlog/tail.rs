//! The tail of a binlog from a position: its complete transactions, each
//! with its GTID, its place and its raw events, read from the files on
//! disk (mysqld may be dead) with mysql_common's event reader. A torn
//! event at the end (the crash cut a write) and a transaction without its
//! commit are not part of it: the server would not have committed them.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::Event;
use mysql_common::binlog::EventStreamReader;
use serde::{Deserialize, Serialize};

use super::event::{classify, Kind};
use super::gtid::TxnGtid;
use crate::mysql::binlog::BinlogCoord;

/// A binlog file's first bytes.
pub(super) const MAGIC: &[u8; 4] = b"\xfebin";

/// One committed transaction of the binlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub gtid: Option<TxnGtid>,
    /// The file and where the transaction starts and ends in it.
    pub file: String,
    pub start: u64,
    pub end: u64,
    /// Its events as written, GTID event excluded, in order.
    #[serde(with = "super::base64::list")]
    pub events: Vec<Vec<u8>>,
    /// No BEGIN: one statement (MariaDB's standalone DDL).
    pub standalone: bool,
}

/// The transactions after a position, with what is needed to replay them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tail {
    /// Each file's format description event, raw, by file name.
    #[serde(with = "super::base64::map")]
    pub formats: Vec<(String, Vec<u8>)>,
    pub transactions: Vec<Transaction>,
    /// Where the complete transactions end.
    pub end: BinlogCoord,
    /// What was left out after `end`, if anything (a transaction without
    /// its commit, a torn event, an event a salvage cannot replay).
    pub left_out: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error("{0}")]
    Files(String),
    #[error("{file}: {why}")]
    Corrupt { file: String, why: String },
    #[error("the binlog after {from} holds more than {limit} bytes: too much to salvage in one failover")]
    TooMuch { from: BinlogCoord, limit: usize },
}

/// Reads the binlog series of `index` from `from` (a transaction boundary)
/// to its end, keeping at most `limit` bytes of events.
pub fn read_tail(index: &Path, from: &BinlogCoord, limit: usize) -> Result<Tail, TailError> {
    let files = list(index)?;
    let first = files
        .iter()
        .position(|f| name_of(f) == from.file)
        .ok_or_else(|| {
            TailError::Files(format!(
                "{} is not in the binlog index {}",
                from.file,
                index.display()
            ))
        })?;
    let mut group = Grouper::at(from);
    let mut formats = Vec::new();
    let mut kept = 0usize;
    for (i, path) in files[first..].iter().enumerate() {
        let name = name_of(path);
        // The first file from `from`; the next ones from their first event.
        let start = (i == 0).then_some(from.position);
        let file = read_file(path, &name, start, limit.saturating_sub(kept))?;
        kept += file.bytes.len();
        if kept > limit {
            return Err(TailError::TooMuch {
                from: from.clone(),
                limit,
            });
        }
        let events = events_of(&file, &name)?;
        formats.push((name.clone(), file.fde));
        for item in events {
            match item {
                Ok((at, raw, kind)) => {
                    let file_ends = matches!(kind, Kind::Rotate { .. } | Kind::Stop);
                    group.push(&name, at, raw, kind);
                    if group.unsupported.is_some() {
                        return Ok(group.finish(formats));
                    }
                    if file_ends {
                        break;
                    }
                }
                Err(why) => {
                    group.torn = Some(format!("{name}: {why}"));
                    return Ok(group.finish(formats));
                }
            }
        }
        // A file without a rotate at its end: the server crashed and
        // began the next one on restart, which follows in the index.
    }
    Ok(group.finish(formats))
}

/// The binlog files the index names, in order (relative names are
/// relative to the index's directory, as the server writes them).
pub(super) fn list(index: &Path) -> Result<Vec<PathBuf>, TailError> {
    let text = std::fs::read_to_string(index).map_err(|e| {
        TailError::Files(format!(
            "cannot read the index file {}: {e}",
            index.display()
        ))
    })?;
    let dir = index.parent().unwrap_or(Path::new("."));
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let p = Path::new(l);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                dir.join(p)
            }
        })
        .collect())
}

pub(super) fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A binlog file's format description event and its bytes from `start`.
struct FileTail {
    fde: Vec<u8>,
    start: u64,
    bytes: Vec<u8>,
}

/// Reads `path`'s format description and what follows `start` (default:
/// the first event after it), at most `budget` bytes and one more (to tell
/// that there is more): never the whole of a large file.
fn read_file(
    path: &Path,
    name: &str,
    start: Option<u64>,
    budget: usize,
) -> Result<FileTail, TailError> {
    use std::io::{Seek, SeekFrom};
    let io = |e: std::io::Error| {
        TailError::Files(format!(
            "cannot read binlog {name} ({}): {e}",
            path.display()
        ))
    };
    let corrupt = |why: String| TailError::Corrupt {
        file: name.into(),
        why,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut head = [0u8; 4 + 19];
    f.read_exact(&mut head)
        .map_err(|_| corrupt("not a binlog file (shorter than its header)".into()))?;
    if &head[..4] != MAGIC {
        return Err(corrupt("not a binlog file (no magic number)".into()));
    }
    let size = u32::from_le_bytes(head[13..17].try_into().expect("4 bytes")) as usize;
    if !(19..=1 << 20).contains(&size) {
        return Err(corrupt(format!(
            "its format description has an impossible size ({size})"
        )));
    }
    let mut fde = head[4..].to_vec();
    fde.resize(size, 0);
    f.read_exact(&mut fde[19..])
        .map_err(|_| corrupt("a torn format description".into()))?;
    let first = 4 + size as u64;
    let start = start.unwrap_or(first);
    let len = f.metadata().map_err(io)?.len();
    if start < first || start > len {
        return Err(corrupt(format!(
            "position {start} is not past the format description ({first}) nor inside the file ({len} bytes)"
        )));
    }
    f.seek(SeekFrom::Start(start)).map_err(io)?;
    let mut bytes = Vec::new();
    f.take(budget as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(FileTail { fde, start, bytes })
}

type Item = Result<(u64, Vec<u8>, Kind), String>;

/// The file's events from its tail's start, each with its offset and kind;
/// an error ends the list (a torn end).
fn events_of(file: &FileTail, name: &str) -> Result<Vec<Item>, TailError> {
    let mut reader = EventStreamReader::new(BinlogVersion::Version4);
    next_event(&mut reader, &file.fde, 0).map_err(|e| TailError::Corrupt {
        file: name.into(),
        why: format!("its format description: {e}"),
    })?;
    let mut items = Vec::new();
    let mut at = 0usize;
    loop {
        match next_event(&mut reader, &file.bytes, at) {
            Ok(Some((raw, event))) => {
                let kind = match classify(&event) {
                    Ok(k) => k,
                    Err(e) => {
                        items.push(Err(format!("unreadable event: {e}")));
                        break;
                    }
                };
                let len = raw.len();
                items.push(Ok((file.start + at as u64, raw, kind)));
                at += len;
            }
            Ok(None) => break,
            Err(why) => {
                items.push(Err(why));
                break;
            }
        }
    }
    Ok(items)
}

/// The event at `at`: its raw bytes and the event read from them; `None`
/// at the end of the bytes. A torn or malformed event is an error (read
/// here first: mysql_common expects whole events).
pub(super) fn next_event(
    reader: &mut EventStreamReader,
    bytes: &[u8],
    at: usize,
) -> Result<Option<(Vec<u8>, Event)>, String> {
    let rest = &bytes[at.min(bytes.len())..];
    if rest.is_empty() {
        return Ok(None);
    }
    if rest.len() < 19 {
        return Err(format!("a torn event header ({} bytes)", rest.len()));
    }
    let size = u32::from_le_bytes(rest[9..13].try_into().expect("4 bytes")) as usize;
    if size < 19 {
        return Err(format!("an event of impossible size {size}"));
    }
    if rest.len() < size {
        return Err(format!("a torn event ({} of {size} bytes)", rest.len()));
    }
    let raw = rest[..size].to_vec();
    let event = reader
        .read(Cursor::new(&raw))
        .map_err(|e| format!("unreadable event: {e}"))?
        .ok_or("an empty event")?;
    Ok(Some((raw, event)))
}

/// Groups events into transactions as they come.
#[derive(Default)]
pub(super) struct Grouper {
    done: Vec<Transaction>,
    open: Option<Transaction>,
    /// A BEGIN was seen in the open transaction.
    begun: bool,
    /// Where the last complete transaction ends.
    file: String,
    position: u64,
    pub(super) unsupported: Option<String>,
    pub(super) torn: Option<String>,
}

impl Grouper {
    /// Groups the events that follow `from`.
    pub(super) fn at(from: &BinlogCoord) -> Self {
        Grouper {
            file: from.file.clone(),
            position: from.position,
            ..Grouper::default()
        }
    }

    pub(super) fn push(&mut self, file: &str, at: u64, raw: Vec<u8>, kind: Kind) {
        let end = at + raw.len() as u64;
        let new = |gtid, standalone| Transaction {
            gtid,
            file: file.to_string(),
            start: at,
            end,
            events: Vec::new(),
            standalone,
        };
        match kind {
            Kind::Start { gtid, standalone } => {
                self.open = Some(new(gtid, standalone));
                self.begun = false;
            }
            Kind::Begin => {
                let t = self.open.get_or_insert_with(|| new(None, false));
                t.events.push(raw);
                self.begun = true;
            }
            Kind::Commit => {
                if let Some(mut t) = self.open.take() {
                    t.events.push(raw);
                    self.close(t, end);
                }
            }
            Kind::Rollback => {
                self.open = None;
                self.file = file.into();
                self.position = end;
            }
            Kind::Statement => {
                let mut t = self.open.take().unwrap_or_else(|| new(None, true));
                t.events.push(raw);
                if self.begun {
                    self.open = Some(t);
                } else {
                    // DDL (or a statement outside BEGIN): it commits itself.
                    t.standalone = true;
                    self.close(t, end);
                }
            }
            Kind::Rows { .. } | Kind::Context => {
                if let Some(t) = self.open.as_mut() {
                    t.events.push(raw);
                }
            }
            Kind::Skip | Kind::Rotate { .. } | Kind::Stop => {
                if self.open.is_none() {
                    self.file = file.into();
                    self.position = end;
                }
            }
            Kind::Unsupported(what) => {
                self.unsupported = Some(format!(
                    "{what} at {file}:{at}, which a salvage does not replay"
                ))
            }
        }
    }

    fn close(&mut self, mut t: Transaction, end: u64) {
        t.end = end;
        self.file = t.file.clone();
        self.position = end;
        self.begun = false;
        self.done.push(t);
    }

    pub(super) fn finish(self, formats: Vec<(String, Vec<u8>)>) -> Tail {
        let mut left_out = Vec::new();
        if let Some(t) = &self.open {
            left_out.push(format!(
                "a transaction{} at {}:{} without its commit (not committed by the server)",
                t.gtid
                    .as_ref()
                    .map(|g| format!(" ({g})"))
                    .unwrap_or_default(),
                t.file,
                t.start
            ));
        }
        left_out.extend(self.unsupported);
        left_out.extend(self.torn);
        Tail {
            formats,
            transactions: self.done,
            end: BinlogCoord::new(self.file, self.position),
            left_out: (!left_out.is_empty()).then(|| left_out.join("; ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gtid(n: u64) -> Kind {
        Kind::Start {
            gtid: Some(TxnGtid::Mariadb {
                domain: 0,
                server: 1,
                sequence: n,
            }),
            standalone: false,
        }
    }

    fn feed(kinds: Vec<Kind>) -> Tail {
        let mut g = Grouper::default();
        let mut at = 100;
        for k in kinds {
            g.push("b.000001", at, vec![0; 10], k);
            at += 10;
        }
        g.finish(Vec::new())
    }

    #[test]
    fn transactions_end_at_their_commit_and_an_open_one_is_left_out() {
        let rows = || Kind::Rows {
            statement_end: true,
        };
        let t = feed(vec![
            gtid(1),
            Kind::Begin,
            rows(),
            Kind::Commit,
            gtid(2),
            Kind::Statement, // DDL
            gtid(3),
            rows(),
            Kind::Commit, // MariaDB: no BEGIN event
            gtid(4),
            Kind::Begin,
            rows(),
        ]);
        let got: Vec<(String, u64, u64, usize)> = t
            .transactions
            .iter()
            .map(|t| {
                (
                    t.gtid.as_ref().unwrap().to_string(),
                    t.start,
                    t.end,
                    t.events.len(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("0-1-1".to_string(), 100, 140, 3),
                ("0-1-2".to_string(), 140, 160, 1),
                ("0-1-3".to_string(), 160, 190, 2),
            ]
        );
        assert!(t.transactions[1].standalone);
        assert_eq!(t.end, BinlogCoord::new("b.000001", 190));
        let left = t.left_out.unwrap();
        assert!(
            left.contains("(0-1-4) at b.000001:190 without its commit"),
            "{left}"
        );
    }

    #[test]
    fn a_rolled_back_transaction_is_dropped_and_an_unsupported_event_stops_the_tail() {
        let t = feed(vec![
            gtid(1),
            Kind::Begin,
            Kind::Rollback,
            gtid(2),
            Kind::Unsupported("LOAD DATA".into()),
        ]);
        assert!(t.transactions.is_empty());
        assert_eq!(t.end.position, 130);
        assert!(t.left_out.unwrap().contains("LOAD DATA at b.000001:140"));
    }
}

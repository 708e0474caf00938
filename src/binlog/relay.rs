//! The tail of a replica's relay log in its master's coordinates: what a
//! file/position replica that received less lacks, read from the relay
//! log of one that received more (MHA's relay-log catch-up), for when the
//! dead master's own binlog cannot be read.
//!
//! A relay log holds the master's events as they were sent, each header's
//! `log_pos` giving where the event ends in the master's binlog, among the
//! replica's own events (its format description, a rotate to the next
//! relay file) and the master's rotates, which name the master's file. The
//! files are walked header by header (never read whole) until the event
//! that starts at the asked position; what follows is read and grouped
//! into transactions as for a binlog.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::EventStreamReader;

use super::event::{classify, Kind};
use super::tail::{list, name_of, next_event, Grouper, Tail, TailError, MAGIC};
use crate::mysql::binlog::BinlogCoord;

const ROTATE: u8 = 4;
const FORMAT_DESCRIPTION: u8 = 15;
const HEADER: u64 = 19;

/// The fields of an event's (v4) header a walk needs.
struct Header {
    kind: u8,
    server_id: u32,
    size: u64,
    /// Where the event ends in the binlog it came from; 0 for an event
    /// made up for the relay log.
    log_pos: u64,
}

impl Header {
    fn read(b: &[u8; HEADER as usize]) -> Self {
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        Header {
            kind: b[4],
            server_id: u32_at(5),
            size: u32_at(9) as u64,
            log_pos: u32_at(13) as u64,
        }
    }

    /// Where the event starts in the master's binlog, if it came from there.
    fn master_start(&self, own: u32) -> Option<u64> {
        (self.server_id != own && self.log_pos >= self.size && self.log_pos > 0)
            .then(|| self.log_pos - self.size)
    }
}

/// The walk through the relay files.
struct Walk {
    reader: EventStreamReader,
    /// The master's binlog file the next master event belongs to.
    master_file: Option<String>,
    /// The master's latest format description (raw), for replaying.
    master_format: Option<Vec<u8>>,
    /// Set once the event starting at the asked position is found.
    group: Option<Grouper>,
    formats: Vec<(String, Vec<u8>)>,
    kept: usize,
}

/// Reads the relay log series of `index` from the event that starts at
/// `from` in the master's binlog to its end, keeping at most `limit` bytes.
pub fn read_relay_tail(index: &Path, from: &BinlogCoord, limit: usize) -> Result<Tail, TailError> {
    let files = list(index)?;
    let mut walk = Walk {
        reader: EventStreamReader::new(BinlogVersion::Version4),
        master_file: None,
        master_format: None,
        group: None,
        formats: Vec::new(),
        kept: 0,
    };
    for path in &files {
        let name = name_of(path);
        if !walk.file(path, &name, from, limit)? {
            break;
        }
    }
    match walk.group {
        Some(g) => Ok(g.finish(walk.formats)),
        None => Err(TailError::Files(format!(
            "no event of the relay log {} starts at {from} of the master's binlog: that part of the relay log is gone (purged: set relay_log_purge=OFF to keep it) or was never received",
            index.display()
        ))),
    }
}

impl Walk {
    /// Walks one relay file; false when the tail ends there (torn, or an
    /// event a salvage does not replay).
    fn file(
        &mut self,
        path: &Path,
        name: &str,
        from: &BinlogCoord,
        limit: usize,
    ) -> Result<bool, TailError> {
        let io = |e: std::io::Error| {
            TailError::Files(format!(
                "cannot read relay log {name} ({}): {e}",
                path.display()
            ))
        };
        let corrupt = |why: String| TailError::Corrupt {
            file: name.into(),
            why,
        };
        let mut f = File::open(path).map_err(io)?;
        let len = f.metadata().map_err(io)?.len();
        let mut magic = [0u8; 4];
        f.read_exact(&mut magic)
            .map_err(|_| corrupt("not a relay log file (shorter than its header)".into()))?;
        if &magic != MAGIC {
            return Err(corrupt("not a relay log file (no magic number)".into()));
        }
        // The replica's own format description: whose events are whose.
        let (own_header, own_format) = match read_event(&mut f, 4, len).map_err(io)? {
            Some(e) if e.0.kind == FORMAT_DESCRIPTION => e,
            _ => return Err(corrupt("no format description at its start".into())),
        };
        let own = own_header.server_id;
        next_event(&mut self.reader, &own_format, 0)
            .map_err(|e| corrupt(format!("its format description: {e}")))?;
        let mut at = 4 + own_header.size;
        while at < len {
            let Some(h) = read_header(&mut f, at, len).map_err(io)? else {
                return self.torn(name, at, "a torn event header");
            };
            if at + h.size > len || h.size < HEADER {
                return self.torn(name, at, "a torn event");
            }
            let master = h.server_id != own;
            if self.group.is_none() {
                let starts_here = h.master_start(own) == Some(from.position)
                    && self.master_file.as_deref() == Some(from.file.as_str());
                if starts_here {
                    self.group = Some(Grouper::at(from));
                } else if !(master && matches!(h.kind, ROTATE | FORMAT_DESCRIPTION)) {
                    // Not needed whole: skipped unread.
                    at += h.size;
                    continue;
                }
            }
            // Checked above; a file cut meanwhile (purged) ends the tail.
            let Some((_, raw)) = read_event(&mut f, at, len).map_err(io)? else {
                return self.torn(name, at, "a torn event");
            };
            at += h.size;
            if self.group.is_some() {
                self.kept += raw.len();
                if self.kept > limit {
                    return Err(TailError::TooMuch {
                        from: from.clone(),
                        limit,
                    });
                }
            }
            let kind = match next_event(&mut self.reader, &raw, 0) {
                Ok(Some((_, event))) => classify(&event).map_err(|e| e.to_string()),
                Ok(None) => Err("an empty event".to_string()),
                Err(e) => Err(e),
            };
            let kind = match kind {
                Ok(k) => k,
                Err(why) => return self.torn(name, at - h.size, &why),
            };
            if !master {
                if matches!(kind, Kind::Rotate { .. }) {
                    // The replica moved on to its next relay file.
                    return Ok(true);
                }
                continue;
            }
            if !self.master_event(&h, own, raw, kind, &own_format) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// One of the master's events; false when the tail ends at it.
    fn master_event(
        &mut self,
        h: &Header,
        own: u32,
        raw: Vec<u8>,
        kind: Kind,
        own_format: &[u8],
    ) -> bool {
        let start = h.master_start(own);
        if h.kind == FORMAT_DESCRIPTION {
            self.master_format = Some(raw.clone());
        }
        let next_file = match &kind {
            Kind::Rotate { next } => Some(next.clone()),
            _ => None,
        };
        // Made-up events (a rotate naming the file, a format description
        // sent at connect) are no part of the master's binlog.
        if let (Some(group), Some(start), Some(file)) =
            (self.group.as_mut(), start, self.master_file.as_deref())
        {
            if !self.formats.iter().any(|(f, _)| f == file) {
                let format = self.master_format.clone();
                self.formats.push((
                    file.to_string(),
                    format.unwrap_or_else(|| own_format.to_vec()),
                ));
            }
            group.push(file, start, raw, kind);
            if group.unsupported.is_some() {
                return false;
            }
        }
        if let Some(next) = next_file {
            self.master_file = Some(next);
        }
        true
    }

    fn torn(&mut self, name: &str, at: u64, why: &str) -> Result<bool, TailError> {
        match self.group.as_mut() {
            Some(g) => {
                g.torn = Some(format!("relay log {name} at {at}: {why}"));
                Ok(false)
            }
            None => Err(TailError::Corrupt {
                file: name.into(),
                why: format!("{why} at {at}"),
            }),
        }
    }
}

/// The header of the event at `at`; `None` when fewer than its bytes remain.
fn read_header(f: &mut File, at: u64, len: u64) -> std::io::Result<Option<Header>> {
    if at + HEADER > len {
        return Ok(None);
    }
    let mut b = [0u8; HEADER as usize];
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(&mut b)?;
    Ok(Some(Header::read(&b)))
}

/// The event at `at`, whole; `None` when it is cut short.
fn read_event(f: &mut File, at: u64, len: u64) -> std::io::Result<Option<(Header, Vec<u8>)>> {
    let Some(h) = read_header(f, at, len)? else {
        return Ok(None);
    };
    if h.size < HEADER || at + h.size > len {
        return Ok(None);
    }
    let mut raw = vec![0u8; h.size as usize];
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(&mut raw)?;
    Ok(Some((h, raw)))
}

#[cfg(test)]
mod tests {
    use super::Header;

    fn header(server_id: u32, size: u64, log_pos: u64) -> Header {
        Header {
            kind: 2,
            server_id,
            size,
            log_pos,
        }
    }

    #[test]
    fn only_the_masters_real_events_have_a_place_in_its_binlog() {
        // The master's event: it ends at log_pos in the master's binlog.
        assert_eq!(header(1, 100, 1000).master_start(2), Some(900));
        // The replica's own (its format description, its rotate).
        assert_eq!(header(2, 100, 1000).master_start(2), None);
        // Made up for the relay log (a rotate naming the master's file).
        assert_eq!(header(1, 40, 0).master_start(2), None);
        // Impossible: it would start before the file.
        assert_eq!(header(1, 100, 50).master_start(2), None);
    }
}

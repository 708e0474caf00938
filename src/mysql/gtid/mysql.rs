//! MySQL GTID sets: `uuid:1-5:7-9,uuid2:3` and, since MySQL 8.3, tagged
//! GTIDs `uuid:1-5:tag:1-3`. A set is a union of transaction-number intervals
//! per (source uuid, tag); it is normalised on every change so that equal
//! sets compare equal and print identically.

use std::collections::BTreeMap;
use std::fmt;

use super::GtidParseError;

/// MySQL's largest transaction number (2^63 - 1).
pub const MAX_GTID_NUMBER: u64 = i64::MAX as u64;

/// One closed interval of transaction numbers, `start..=end`, `start >= 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    start: u64,
    end: u64,
}

impl Interval {
    /// `start..=end`, or `None` unless `1 <= start <= end <= MAX_GTID_NUMBER`.
    pub fn new(start: u64, end: u64) -> Option<Self> {
        (start >= 1 && start <= end && end <= MAX_GTID_NUMBER).then_some(Self { start, end })
    }

    pub fn start(self) -> u64 {
        self.start
    }

    pub fn end(self) -> u64 {
        self.end
    }

    fn len(self) -> u64 {
        self.end - self.start + 1
    }
}

/// Where transactions come from: the originating server's uuid (lower case)
/// and an optional tag ("" when untagged).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GtidSource {
    pub uuid: String,
    pub tag: String,
}

/// A normalised MySQL GTID set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MysqlGtidSet {
    /// Sorted, disjoint, non-adjacent intervals per source; never empty vectors.
    sources: BTreeMap<GtidSource, Vec<Interval>>,
}

impl MysqlGtidSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the text MySQL prints in `gtid_executed`, `Retrieved_Gtid_Set`
    /// and friends. Whitespace and newlines (MySQL inserts them) are ignored.
    pub fn parse(text: &str) -> Result<Self, GtidParseError> {
        let mut set = Self::new();
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Ok(set);
        }
        for member in compact.split(',') {
            set.parse_member(member, text)?;
        }
        Ok(set)
    }

    fn parse_member(&mut self, member: &str, whole: &str) -> Result<(), GtidParseError> {
        let err = |why: &str| GtidParseError::new(whole, format!("`{member}`: {why}"));
        let mut parts = member.split(':');
        let uuid = parts.next().unwrap_or_default().to_ascii_lowercase();
        if !is_uuid(&uuid) {
            return Err(err(
                "expected a server uuid like 3e11fa47-71ca-11e1-9e33-c80aa9429562",
            ));
        }
        let mut tag = String::new();
        let mut saw_interval = false;
        for part in parts {
            if part.starts_with(|c: char| c.is_ascii_digit()) {
                let interval = parse_interval(part).ok_or_else(|| err("bad interval"))?;
                self.add_interval(
                    GtidSource {
                        uuid: uuid.clone(),
                        tag: tag.clone(),
                    },
                    interval,
                );
                saw_interval = true;
            } else if is_tag(part) {
                tag = part.to_ascii_lowercase();
            } else {
                return Err(err("expected an interval like 1-5 or a tag"));
            }
        }
        if !saw_interval {
            return Err(err("no transaction interval"));
        }
        Ok(())
    }

    /// Adds one interval, keeping the set normalised.
    pub fn add_interval(&mut self, source: GtidSource, interval: Interval) {
        let intervals = self.sources.entry(source).or_default();
        intervals.push(interval);
        normalise(intervals);
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Number of transactions in the set (saturating).
    pub fn count(&self) -> u64 {
        self.sources
            .values()
            .flatten()
            .fold(0u64, |n, i| n.saturating_add(i.len()))
    }

    pub fn contains_gtid(&self, source: &GtidSource, number: u64) -> bool {
        self.sources
            .get(source)
            .is_some_and(|iv| iv.iter().any(|i| i.start <= number && number <= i.end))
    }

    /// Every transaction of `self` and of `other`.
    pub fn union(&self, other: &Self) -> Self {
        let mut out = self.clone();
        for (source, intervals) in &other.sources {
            let mine = out.sources.entry(source.clone()).or_default();
            mine.extend_from_slice(intervals);
            normalise(mine);
        }
        out
    }

    /// The transactions of `self` that `other` lacks (MySQL's `GTID_SUBTRACT`).
    pub fn subtract(&self, other: &Self) -> Self {
        let mut out = Self::new();
        for (source, intervals) in &self.sources {
            let remaining = match other.sources.get(source) {
                None => intervals.clone(),
                Some(theirs) => subtract_intervals(intervals, theirs),
            };
            if !remaining.is_empty() {
                out.sources.insert(source.clone(), remaining);
            }
        }
        out
    }

    /// The set without the transactions that originate on server `uuid`.
    pub fn without_uuid(&self, uuid: &str) -> Self {
        let uuid = uuid.to_ascii_lowercase();
        Self {
            sources: self
                .sources
                .iter()
                .filter(|(s, _)| s.uuid != uuid)
                .map(|(s, i)| (s.clone(), i.clone()))
                .collect(),
        }
    }

    /// True when every transaction of `other` is in `self`.
    pub fn contains(&self, other: &Self) -> bool {
        other.subtract(self).is_empty()
    }

    pub fn is_subset(&self, other: &Self) -> bool {
        other.contains(self)
    }

    /// Sources with their intervals, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&GtidSource, &[Interval])> {
        self.sources.iter().map(|(s, i)| (s, i.as_slice()))
    }
}

impl fmt::Display for MysqlGtidSet {
    /// MySQL's own form: sources by uuid, untagged intervals first, then each tag.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first_uuid = true;
        let mut current_uuid: Option<&str> = None;
        for (source, intervals) in &self.sources {
            if current_uuid != Some(source.uuid.as_str()) {
                if !first_uuid {
                    f.write_str(",")?;
                }
                first_uuid = false;
                current_uuid = Some(&source.uuid);
                f.write_str(&source.uuid)?;
            }
            if !source.tag.is_empty() {
                write!(f, ":{}", source.tag)?;
            }
            for i in intervals {
                if i.start == i.end {
                    write!(f, ":{}", i.start)?;
                } else {
                    write!(f, ":{}-{}", i.start, i.end)?;
                }
            }
        }
        Ok(())
    }
}

fn parse_interval(text: &str) -> Option<Interval> {
    let (start, end) = match text.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let n = text.parse().ok()?;
            (n, n)
        }
    };
    Interval::new(start, end)
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// MySQL tags: a letter or underscore, then up to 31 letters, digits or underscores.
fn is_tag(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && text.len() <= 32
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn normalise(intervals: &mut Vec<Interval>) {
    intervals.sort();
    let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
    for i in intervals.drain(..) {
        match merged.last_mut() {
            Some(last) if i.start <= last.end + 1 => last.end = last.end.max(i.end),
            _ => merged.push(i),
        }
    }
    *intervals = merged;
}

fn subtract_intervals(mine: &[Interval], theirs: &[Interval]) -> Vec<Interval> {
    let mut out = Vec::new();
    for &m in mine {
        let mut start = m.start;
        for t in theirs
            .iter()
            .filter(|t| t.end >= m.start && t.start <= m.end)
        {
            if t.start > start {
                out.push(Interval {
                    start,
                    end: t.start - 1,
                });
            }
            // Cannot overflow: numbers are at most MAX_GTID_NUMBER.
            start = start.max(t.end + 1);
        }
        if start <= m.end {
            out.push(Interval { start, end: m.end });
        }
    }
    out
}

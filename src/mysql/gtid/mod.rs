//! GTID algebra for both flavors. MySQL has true sets (uuid + intervals);
//! MariaDB has positions (one tip per domain). [`GtidSet`] lets the rest of
//! vipkeeper ask flavor-neutral questions: "does A hold everything B holds?",
//! "what does A have that B lacks?".

mod mariadb;
mod mysql;

#[cfg(test)]
mod tests;

use std::fmt;

pub use mariadb::{DomainTip, MariadbGtidPos, MissingRange};
pub use mysql::{GtidSource, Interval, MysqlGtidSet, MAX_GTID_NUMBER};

/// A GTID text that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid GTID set {text:?}: {why}")]
pub struct GtidParseError {
    pub text: String,
    pub why: String,
}

impl GtidParseError {
    fn new(text: &str, why: String) -> Self {
        let mut text = text.to_string();
        if text.len() > 200 {
            text.truncate(200);
            text.push('…');
        }
        Self { text, why }
    }
}

/// The executed (or received) transactions of one server, in its flavor's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtidSet {
    Mysql(MysqlGtidSet),
    Mariadb(MariadbGtidPos),
}

impl GtidSet {
    pub fn is_empty(&self) -> bool {
        match self {
            GtidSet::Mysql(s) => s.is_empty(),
            GtidSet::Mariadb(p) => p.is_empty(),
        }
    }

    /// Every transaction of both. Sets of different flavors do not mix:
    /// `self` is returned unchanged.
    pub fn union(&self, other: &GtidSet) -> GtidSet {
        match (self, other) {
            (GtidSet::Mysql(a), GtidSet::Mysql(b)) => GtidSet::Mysql(a.union(b)),
            (GtidSet::Mariadb(a), GtidSet::Mariadb(b)) => GtidSet::Mariadb(a.union(b)),
            _ => self.clone(),
        }
    }

    /// True when every transaction of `other` is in `self`. Sets of different
    /// flavors never contain each other.
    pub fn contains(&self, other: &GtidSet) -> bool {
        match (self, other) {
            (GtidSet::Mysql(a), GtidSet::Mysql(b)) => a.contains(b),
            (GtidSet::Mariadb(a), GtidSet::Mariadb(b)) => a.contains(b),
            _ => other.is_empty(),
        }
    }

    /// What `self` holds that `other` lacks, printed in the flavor's form;
    /// `None` when nothing.
    pub fn describe_surplus(&self, other: &GtidSet) -> Option<String> {
        let text = match (self, other) {
            (GtidSet::Mysql(a), GtidSet::Mysql(b)) => a.subtract(b).to_string(),
            (GtidSet::Mariadb(a), GtidSet::Mariadb(b)) => a
                .subtract(b)
                .iter()
                .map(describe_missing)
                .collect::<Vec<_>>()
                .join(","),
            _ => self.to_string(),
        };
        (!text.is_empty()).then_some(text)
    }
}

impl GtidSet {
    /// Transactions of `self` (a replica) that did not come from `master`:
    /// the surplus over the master's set, less what originates on the master
    /// itself (those are only newer than the master's snapshot: probes of
    /// different servers are never taken at the same instant).
    pub fn errant(
        &self,
        master: &GtidSet,
        master_uuid: Option<&str>,
        master_server_id: u32,
    ) -> Option<String> {
        let text = match (self, master) {
            (GtidSet::Mysql(mine), GtidSet::Mysql(theirs)) => {
                let mut surplus = mine.subtract(theirs);
                if let Some(uuid) = master_uuid {
                    surplus = surplus.without_uuid(uuid);
                }
                surplus.to_string()
            }
            (GtidSet::Mariadb(mine), GtidSet::Mariadb(theirs)) => mine
                .subtract(theirs)
                .iter()
                .filter(|m| {
                    m.diverged
                        || mine
                            .tip(m.domain)
                            .is_some_and(|t| t.server_id != master_server_id)
                })
                .map(describe_missing)
                .collect::<Vec<_>>()
                .join(","),
            _ => return self.describe_surplus(master),
        };
        (!text.is_empty()).then_some(text)
    }
}

fn describe_missing(m: &MissingRange) -> String {
    if m.diverged {
        format!("domain {} seq {} (diverged)", m.domain, m.from_seq)
    } else if m.from_seq == m.to_seq {
        format!("domain {} seq {}", m.domain, m.from_seq)
    } else {
        format!("domain {} seq {}-{}", m.domain, m.from_seq, m.to_seq)
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidSet::Mysql(s) => s.fmt(f),
            GtidSet::Mariadb(p) => p.fmt(f),
        }
    }
}

/// GTID sets appear in reports and `status --json` in the server's own text form.
impl serde::Serialize for GtidSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

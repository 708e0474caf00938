//! MariaDB GTID positions: `domain-server-seq,...` (`gtid_current_pos`,
//! `gtid_slave_pos`, `gtid_binlog_pos`, `gtid_binlog_state`).
//!
//! A MariaDB position names the last transaction applied in each replication
//! domain. Under `gtid_strict_mode` sequence numbers grow monotonically within
//! a domain, so a position `0-1-100` stands for transactions 1..=100 of domain
//! 0; that is the set semantics used here. The server id of the last
//! transaction is kept: two positions with the same sequence number but a
//! different server id in one domain have *diverged* — neither contains the
//! other.

use std::collections::BTreeMap;
use std::fmt;

use super::GtidParseError;

/// The last transaction seen in one domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainTip {
    pub server_id: u32,
    pub seq: u64,
}

/// A normalised MariaDB GTID position: at most one tip per domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MariadbGtidPos {
    domains: BTreeMap<u32, DomainTip>,
}

/// Transactions `from_seq..=to_seq` of `domain` that one position holds and
/// another lacks (or, when `diverged`, holds differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingRange {
    pub domain: u32,
    pub from_seq: u64,
    pub to_seq: u64,
    /// Same sequence number reached through a different server: the two
    /// histories differ, whatever the numbers say.
    pub diverged: bool,
}

impl MariadbGtidPos {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a comma-separated list of `domain-server-seq`. A list may name a
    /// domain several times (`gtid_binlog_state` does, once per server id):
    /// the highest sequence number wins.
    pub fn parse(text: &str) -> Result<Self, GtidParseError> {
        let mut pos = Self::new();
        for member in text.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let numbers: Vec<&str> = member.split('-').collect();
            let bad = || {
                GtidParseError::new(
                    text,
                    format!("`{member}`: expected domain-server-sequence, e.g. 0-1-42"),
                )
            };
            let [domain, server_id, seq] = numbers.as_slice() else {
                return Err(bad());
            };
            let domain = domain.parse().map_err(|_| bad())?;
            let tip = DomainTip {
                server_id: server_id.parse().map_err(|_| bad())?,
                seq: seq.parse().map_err(|_| bad())?,
            };
            pos.advance(domain, tip);
        }
        Ok(pos)
    }

    /// Records `tip` in `domain` if it is ahead of what is there.
    pub fn advance(&mut self, domain: u32, tip: DomainTip) {
        let current = self.domains.entry(domain).or_insert(tip);
        if tip.seq > current.seq {
            *current = tip;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    pub fn tip(&self, domain: u32) -> Option<DomainTip> {
        self.domains.get(&domain).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, DomainTip)> + '_ {
        self.domains.iter().map(|(d, t)| (*d, *t))
    }

    /// Total transactions implied (sum of sequence numbers).
    pub fn count(&self) -> u64 {
        self.domains
            .values()
            .fold(0u64, |n, t| n.saturating_add(t.seq))
    }

    /// The furthest tip of each domain. When both name the same sequence in a
    /// domain with different servers, `self`'s tip is kept.
    pub fn union(&self, other: &Self) -> Self {
        let mut out = self.clone();
        for (domain, tip) in other.iter() {
            out.advance(domain, tip);
        }
        out
    }

    /// What `self` holds that `other` lacks, per domain.
    pub fn subtract(&self, other: &Self) -> Vec<MissingRange> {
        let mut missing = Vec::new();
        for (domain, mine) in self.iter() {
            match other.tip(domain) {
                None => missing.push(MissingRange {
                    domain,
                    from_seq: 1,
                    to_seq: mine.seq,
                    diverged: false,
                }),
                Some(theirs) if mine.seq > theirs.seq => missing.push(MissingRange {
                    domain,
                    from_seq: theirs.seq + 1,
                    to_seq: mine.seq,
                    diverged: false,
                }),
                Some(theirs) if mine.seq == theirs.seq && mine.server_id != theirs.server_id => {
                    missing.push(MissingRange {
                        domain,
                        from_seq: mine.seq,
                        to_seq: mine.seq,
                        diverged: true,
                    })
                }
                Some(_) => {}
            }
        }
        missing
    }

    /// True when `self` has every transaction of `other`.
    pub fn contains(&self, other: &Self) -> bool {
        other.subtract(self).is_empty()
    }

    pub fn is_subset(&self, other: &Self) -> bool {
        other.contains(self)
    }
}

impl fmt::Display for MariadbGtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (domain, tip)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{domain}-{}-{}", tip.server_id, tip.seq)?;
        }
        Ok(())
    }
}

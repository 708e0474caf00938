//! The GTID a binlog transaction carries, in its flavor's form: MySQL's
//! `source_uuid:number`, MariaDB's `domain-server-sequence`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::mysql::gtid::{GtidSet, MariadbGtidPos, MysqlGtidSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "flavor", rename_all = "kebab-case")]
pub enum TxnGtid {
    Mysql {
        uuid: String,
        number: u64,
    },
    Mariadb {
        domain: u32,
        server: u32,
        sequence: u64,
    },
}

impl TxnGtid {
    /// MySQL's 16-byte source id as the server prints it.
    pub fn mysql(sid: [u8; 16], number: u64) -> Self {
        let h: String = sid.iter().map(|b| format!("{b:02x}")).collect();
        let uuid = format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        );
        TxnGtid::Mysql { uuid, number }
    }

    /// The one-transaction set, to ask whether a server has it.
    pub fn as_set(&self) -> Option<GtidSet> {
        let text = self.to_string();
        match self {
            TxnGtid::Mysql { .. } => MysqlGtidSet::parse(&text).ok().map(GtidSet::Mysql),
            TxnGtid::Mariadb { .. } => MariadbGtidPos::parse(&text).ok().map(GtidSet::Mariadb),
        }
    }

    /// Whether `executed` (a server's executed transactions) holds it.
    pub fn is_in(&self, executed: &GtidSet) -> bool {
        self.as_set().is_some_and(|one| executed.contains(&one))
    }
}

impl fmt::Display for TxnGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxnGtid::Mysql { uuid, number } => write!(f, "{uuid}:{number}"),
            TxnGtid::Mariadb {
                domain,
                server,
                sequence,
            } => write!(f, "{domain}-{server}-{sequence}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_as_the_servers_print_them_and_found_in_executed_sets() {
        let sid = [
            0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
            0x95, 0x62,
        ];
        let g = TxnGtid::mysql(sid, 7);
        assert_eq!(g.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:7");
        let executed = GtidSet::Mysql(
            MysqlGtidSet::parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6").unwrap(),
        );
        assert!(!g.is_in(&executed));
        let executed = GtidSet::Mysql(
            MysqlGtidSet::parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7").unwrap(),
        );
        assert!(g.is_in(&executed));

        let m = TxnGtid::Mariadb {
            domain: 0,
            server: 1,
            sequence: 12,
        };
        assert_eq!(m.to_string(), "0-1-12");
        let at = |s: &str| GtidSet::Mariadb(MariadbGtidPos::parse(s).unwrap());
        assert!(m.is_in(&at("0-1-12")));
        assert!(m.is_in(&at("0-2-13")));
        assert!(!m.is_in(&at("0-1-11")));
        assert!(!m.is_in(&at("1-1-99")));
    }
}

//! Why a replica must not be promoted: one reason per fact, typed so that
//! decisions match on it and words are only for people.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::mysql::DbError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "exclusion", rename_all = "kebab-case")]
pub enum Exclusion {
    /// `failover.never_promote` names it.
    NeverPromote,
    /// Its SQL thread is not running; `errno` 0 when no error stopped it.
    SqlThreadStopped { errno: u32 },
    /// Binary logging is off: it could not serve replicas.
    NoBinlog,
    /// It received nothing from the dead master.
    ReceivedNothing { master: String },
    /// It was further behind than `failover.max_lag` when last seen.
    Lagging { seconds: u64, max_lag: u64 },
    /// It executed transactions nobody else has.
    Errant { gtids: String },
    /// Another replica runs a newer server.
    OlderVersion {
        version: String,
        newer: String,
        on: String,
    },
    /// Its probe failed.
    Unreachable { error: DbError },
    /// It answers, but replicates from nobody.
    NoLongerReplicates,
    /// A reason as a journal written before reasons were typed gives it:
    /// words only. Never made by the choice itself.
    Recorded { words: String },
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::NeverPromote => f.write_str("configured never to be promoted"),
            Exclusion::SqlThreadStopped { errno: 0 } => f.write_str("SQL thread not running"),
            Exclusion::SqlThreadStopped { errno } => {
                write!(f, "SQL thread stopped by error {errno}")
            }
            Exclusion::NoBinlog => f.write_str("binary logging is off"),
            Exclusion::ReceivedNothing { master } => {
                write!(f, "has received nothing from {master}")
            }
            Exclusion::Lagging { seconds, max_lag } => {
                write!(f, "was {seconds} s behind (max_lag {max_lag} s)")
            }
            Exclusion::Errant { gtids } => write!(f, "has errant transactions {gtids}"),
            Exclusion::OlderVersion { version, newer, on } => {
                write!(f, "runs {version}, older than {newer} on {on}")
            }
            Exclusion::Unreachable { error } => write!(f, "unreachable: {error}"),
            Exclusion::NoLongerReplicates => f.write_str("no longer replicates"),
            Exclusion::Recorded { words } => f.write_str(words),
        }
    }
}

impl Exclusion {
    /// Whether the node must be left where it is rather than repointed:
    /// it cannot be reached, or it holds transactions the new master lacks.
    pub fn keeps_it_out_of_the_new_cluster(&self) -> bool {
        matches!(
            self,
            Exclusion::Unreachable { .. } | Exclusion::Errant { .. }
        )
    }
}

/// The reasons in words, as one line.
pub fn joined(reasons: &[Exclusion]) -> String {
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

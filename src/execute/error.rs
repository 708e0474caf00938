//! Why a step failed, typed: the database error (with its kind and server
//! code), the VIP backend's failure (with its AWS code), a wait that ran
//! out, a guard that found the cluster changed. The remedy is chosen by
//! kind; the words are for the report.

use std::time::Duration;

use crate::mysql::DbError;
use crate::vip::MoveFailed;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// No session to the node.
    #[error("cannot connect to {node} as {user}: {error}")]
    Connect {
        node: String,
        user: String,
        error: DbError,
    },
    /// A statement failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A VIP backend failed.
    #[error(transparent)]
    Vip(#[from] MoveFailed),
    /// A wait reached its deadline; the words say how far it got.
    #[error("{0}")]
    TimedOut(String),
    /// A switchover step would have kept writes blocked for longer than
    /// `switchover.deadline`.
    #[error("writes have been blocked for {} (switchover.deadline)", humantime::format_duration(*.0))]
    WriteBlock(Duration),
    /// Compare-then-set: the cluster is not as the plan needs (another
    /// writer, a lost lock); nothing was made writable.
    #[error("{0}")]
    Unsafe(String),
    /// The node is not in the state the step needs (replication broken,
    /// still read-only after the statement that should have changed it).
    #[error("{0}")]
    Found(String),
}

impl From<String> for StepError {
    fn from(words: String) -> Self {
        StepError::Found(words)
    }
}

impl From<&str> for StepError {
    fn from(words: &str) -> Self {
        StepError::Found(words.into())
    }
}

impl From<crate::mysql::replica_status::MissingColumn> for StepError {
    fn from(e: crate::mysql::replica_status::MissingColumn) -> Self {
        StepError::Found(e.to_string())
    }
}

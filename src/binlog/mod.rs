//! Binary logs on disk, for salvage: the tail of a dead master's binlog
//! read from its files (`tail`), each event's part in a transaction
//! (`event`), and the replay of those transactions on the new master
//! (`apply`). The host agent reads; the manager replays (`fetch` asks the
//! host agent over HTTP).

pub mod apply;
mod base64;
pub mod event;
pub mod fetch;
pub mod gtid;
pub mod tail;

pub use gtid::TxnGtid;
pub use tail::{read_tail, Tail, TailError, Transaction};

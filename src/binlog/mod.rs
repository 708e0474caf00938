//! Binary logs on disk, for salvage: the tail of a dead master's binlog
//! read from its files (`tail`), each event's part in a transaction
//! (`event`), and the replay of those transactions on the new master
//! (`apply`); a replica's relay log read in its master's coordinates
//! (`relay`). The host agent reads; the manager replays (`fetch` asks the
//! host agent over HTTP).

pub mod apply;
mod base64;
pub mod event;
pub mod fetch;
pub mod gtid;
pub mod relay;
pub mod tail;

pub use gtid::TxnGtid;
pub use relay::read_relay_tail;
pub use tail::{read_tail, Tail, TailError, Transaction};

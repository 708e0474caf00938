//! Everything vipkeeper says to a MySQL or MariaDB server.

pub mod account;
pub mod admin;
pub mod binlog;
pub mod conn;
pub mod error;
pub mod flavor;
pub mod gtid;
pub mod node_state;
pub mod probe;
pub mod replica_status;
pub mod skip_gtids;
pub mod unfinished_group;

pub use conn::{install_crypto_provider, Session, Target};
pub use error::{DbError, ErrorKind, Phase};
pub use node_state::NodeState;
pub use probe::{probe, Probe};

//! Everything vipkeeper says to a MySQL or MariaDB server.

pub mod binlog;
pub mod flavor;
pub mod gtid;
pub mod replica_status;

//! Everything vipkeeper says to a MySQL or MariaDB server.

pub mod gtid;

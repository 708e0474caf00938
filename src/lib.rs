//! vipkeeper: a failover manager for self-managed MySQL and MariaDB.
//!
//! The flow is one-directional (see docs/ARCHITECTURE.md):
//! probe → ClusterView → analyze → plan → execute.

pub mod mysql;

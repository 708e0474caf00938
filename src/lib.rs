//! vipkeeper: a failover manager for self-managed MySQL and MariaDB.
//!
//! The flow is one-directional: probe → ClusterView → analyze → plan → execute.

pub mod binlog;
pub mod checks;
pub mod child;
pub mod cli;
pub mod commands;
pub mod config;
pub mod coord;
pub mod execute;
pub mod failover;
pub mod mha;
pub mod mysql;
pub mod netlink;
pub mod terminal;
pub mod timeline;
pub mod topology;
pub mod vip;

pub mod agent;
pub mod analysis;
pub mod api;
pub mod aurora;
pub mod aws;
pub mod candidate;
pub mod plan;
pub mod state;
pub mod switchover;
pub mod telemetry;

#[cfg(test)]
mod testkit;

//! Test harness: real MariaDB and MySQL servers on loopback.
//! Shared by the integration tests and by the sandbox (`make sandbox`).
#![allow(dead_code)]

pub mod cluster;
pub mod flavor;
pub mod server;
pub mod template;

pub use cluster::{ClusterSpec, TestCluster};
pub use flavor::Flavor;

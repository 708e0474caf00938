//! The configuration file: one TOML file describing one or more clusters.
//! `load` reads and validates it, reporting every problem with its
//! file:line:column; the rest of vipkeeper only sees the validated `model`.

pub mod aurora;
pub mod coordination;
mod fields;
mod load;
mod model;
mod problem;
mod raw;
pub mod redact;
pub mod salvage;
pub mod secret;
pub mod tls;
pub mod trust;
mod users;
mod validate;
pub mod vip;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_coordination;
#[cfg(test)]
mod tests_salvage;

pub use aurora::AuroraConfig;
pub use coordination::{CoordinationConfig, EtcdTls};
pub use load::{load, load_str, LoadError, Loaded};
pub use model::*;
pub use problem::{Location, Problem, Severity};
pub use salvage::SalvageConfig;
pub use secret::{Secret, SecretSource};
pub use tls::{TlsConfig, TlsMode};
pub use vip::{
    AwsNlbConfig, AwsRoute53Config, AwsRouteTableConfig, BackendConfig, LinuxRouteConfig,
    LocalAddressConfig, ReaderRouting, RecordType, ScriptConfig,
};

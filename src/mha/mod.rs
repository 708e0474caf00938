//! MHA users: vipkeeper in MHA's `master_ip_failover_script` and
//! `master_ip_online_change_script` slots. `args` reads what MHA passes;
//! `nodes` finds the vipkeeper node MHA means; `flags` makes the
//! cluster from flags when there is no vipkeeper config; `import` turns an MHA config
//! into a vipkeeper one.

pub mod args;
pub mod flags;
pub mod import;
pub mod nodes;

pub use args::{parse, ArgError, Call, Phase, Server};
pub use flags::{cluster_from, FlagBackend, VipFlags};
pub use nodes::find;

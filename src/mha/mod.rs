//! MHA users: vipkeeper in MHA's `master_ip_failover_script` and
//! `master_ip_online_change_script` slots. `args` reads what MHA passes;
//! `nodes` finds the vipkeeper node MHA means; `import` turns an MHA config
//! into a vipkeeper one.

pub mod args;
pub mod import;
pub mod nodes;

pub use args::{parse, ArgError, Call, Phase, Server};
pub use nodes::find;

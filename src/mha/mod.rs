//! MHA users: vipkeeper in MHA's `master_ip_failover_script` and
//! `master_ip_online_change_script` slots. `args` reads what MHA passes;
//! `nodes` finds the vipkeeper node MHA means.

pub mod args;
pub mod nodes;

pub use args::{parse, ArgError, Call, Phase, Server};
pub use nodes::find;

//! `linux-route`: a /32 route on a Linux router, via the master's address.

use std::net::Ipv4Addr;

use serde::Deserialize;

use super::{Backend, BackendConfig, Context, S};
use crate::config::problem::Problems;

pub(super) const BACKEND: Backend = Backend {
    name: LinuxRouteConfig::NAME,
    validate,
    table: |v| v.linux_route.as_ref().map(|t| t.span()),
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxRouteConfig {
    /// The routing table (`None`: main).
    pub table: Option<u32>,
}

impl LinuxRouteConfig {
    /// Its name in `vip.backends`.
    pub const NAME: &str = "linux-route";
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLinuxRoute {
    pub table: Option<S<i64>>,
}

fn validate(cx: &Context, p: &mut Problems) -> Option<BackendConfig> {
    let mut ok = true;
    for node in cx.nodes {
        let n = node.get_ref();
        if n.host.get_ref().parse::<Ipv4Addr>().is_err() {
            p.error(
                Some(n.host.span()),
                format!(
                    "node `{}`: linux-route needs an IPv4 address as host, not `{}`",
                    n.name.get_ref(),
                    n.host.get_ref()
                ),
                "use the node's address on the router's network".to_string(),
            );
            ok = false;
        }
    }
    let table = match cx
        .vip
        .linux_route
        .as_ref()
        .and_then(|t| t.get_ref().table.as_ref())
    {
        None => None,
        Some(t) => match u32::try_from(*t.get_ref()) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                p.error(
                    Some(t.span()),
                    format!("routing table {} is out of range", t.get_ref()),
                    "use 1-4294967295 (main is 254)".to_string(),
                );
                ok = false;
                None
            }
        },
    };
    ok.then_some(BackendConfig::LinuxRoute(LinuxRouteConfig { table }))
}

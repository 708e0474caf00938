//! `[cluster.vip]`: the address applications use and the backends that
//! move it, applied in the order listed. Each backend's settings and their
//! checks live in its own file; `BACKENDS` is the one list of them.

mod aws_nlb;
mod aws_route53;
mod aws_route_table;
mod linux_route;
mod local_address;
mod script;

use std::net::Ipv4Addr;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::problem::Problems;
use super::raw::RawNode;

pub use aws_nlb::{AwsNlbConfig, RawAwsNlb};
pub use aws_route53::{AwsRoute53Config, RawAwsRoute53, ReaderRouting, RecordType};
pub use aws_route_table::{AwsRouteTableConfig, RawAwsRouteTable};
pub use linux_route::{LinuxRouteConfig, RawLinuxRoute};
pub use local_address::{LocalAddressConfig, RawLocalAddress};
pub use script::{RawScript, ScriptConfig};

type S<T> = Spanned<T>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipConfig {
    pub address: Ipv4Addr,
    pub backends: Vec<BackendConfig>,
    /// How long a failover keeps trying to move the VIP when a backend
    /// fails (an API down or throttling, a route table that refuses), each
    /// attempt within the backend's own deadline. The candidate is made
    /// writable only once the VIP points at it.
    pub retry_for: std::time::Duration,
}

/// `retry_for` when the config does not say: AWS API brownouts last
/// minutes; past this an operator is better placed than a loop.
pub const RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// One backend's validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    AwsRouteTable(AwsRouteTableConfig),
    LocalAddress(LocalAddressConfig),
    LinuxRoute(LinuxRouteConfig),
    Script(ScriptConfig),
    AwsNlb(AwsNlbConfig),
    AwsRoute53(AwsRoute53Config),
}

/// A backend's name as written in `vip.backends`, and the check that turns
/// its raw table into its settings.
struct Backend {
    name: &'static str,
    validate: fn(&Context, &mut Problems) -> Option<BackendConfig>,
    /// Where its `[cluster.vip.<name>]` table is, if written.
    table: fn(&RawVip) -> Option<Range<usize>>,
}

/// Every backend vipkeeper knows.
const BACKENDS: [Backend; 6] = [
    aws_route_table::BACKEND,
    local_address::BACKEND,
    linux_route::BACKEND,
    script::BACKEND,
    aws_nlb::BACKEND,
    aws_route53::BACKEND,
];

/// The names `vip.backends` accepts.
pub fn backend_names() -> Vec<&'static str> {
    BACKENDS.iter().map(|b| b.name).collect()
}

impl BackendConfig {
    pub fn name(&self) -> &'static str {
        match self {
            BackendConfig::AwsRouteTable(_) => aws_route_table::BACKEND.name,
            BackendConfig::LocalAddress(_) => local_address::BACKEND.name,
            BackendConfig::LinuxRoute(_) => linux_route::BACKEND.name,
            BackendConfig::Script(_) => script::BACKEND.name,
            BackendConfig::AwsNlb(_) => aws_nlb::BACKEND.name,
            BackendConfig::AwsRoute53(_) => aws_route53::BACKEND.name,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVip {
    pub address: S<String>,
    pub backends: S<Vec<S<String>>>,
    pub retry_for: Option<S<String>>,
    #[serde(rename = "aws-route-table")]
    pub aws_route_table: Option<S<RawAwsRouteTable>>,
    #[serde(rename = "local-address")]
    pub local_address: Option<S<RawLocalAddress>>,
    #[serde(rename = "linux-route")]
    pub linux_route: Option<S<RawLinuxRoute>>,
    pub script: Option<S<RawScript>>,
    #[serde(rename = "aws-nlb")]
    pub aws_nlb: Option<S<RawAwsNlb>>,
    #[serde(rename = "aws-route53")]
    pub aws_route53: Option<S<RawAwsRoute53>>,
}

/// What a backend's check sees: where its name was written, the whole
/// `[cluster.vip]` table and the cluster's nodes.
struct Context<'a> {
    name: &'a str,
    span: Range<usize>,
    vip: &'a RawVip,
    nodes: &'a [S<RawNode>],
}

impl Context<'_> {
    /// Reports that the backend's own table is missing.
    fn missing(&self, p: &mut Problems, example: &str) {
        p.error(
            Some(self.span.clone()),
            format!(
                "vip backend `{0}` needs a [cluster.vip.{0}] table",
                self.name
            ),
            format!("add it, e.g. {example}"),
        );
    }

    /// Reports each node whose host is not an IPv4 address (`because`
    /// says why this backend needs one); true when all are.
    fn ipv4_hosts(&self, p: &mut Problems, because: &str, hint: &str) -> bool {
        let mut ok = true;
        for node in self.nodes {
            let n = node.get_ref();
            if n.host.get_ref().parse::<Ipv4Addr>().is_err() {
                p.error(
                    Some(n.host.span()),
                    format!(
                        "node `{}` has host {}, but {because}",
                        n.name.get_ref(),
                        n.host.get_ref()
                    ),
                    hint.to_string(),
                );
                ok = false;
            }
        }
        ok
    }
}

pub fn validate(raw: &S<RawVip>, nodes: &[S<RawNode>], p: &mut Problems) -> Option<VipConfig> {
    let v = raw.get_ref();
    let address = match v.address.get_ref().parse::<Ipv4Addr>() {
        Ok(a) => Some(a),
        Err(_) => {
            p.error(
                Some(v.address.span()),
                format!(
                    "vip.address `{}` is not an IPv4 address",
                    v.address.get_ref()
                ),
                "use the address applications connect to, e.g. 10.254.0.10".to_string(),
            );
            None
        }
    };
    if v.backends.get_ref().is_empty() {
        p.error(
            Some(v.backends.span()),
            "vip.backends is empty",
            format!("name one or more of: {}", backend_names().join(", ")),
        );
    }
    let mut backends = Vec::new();
    let mut listed = Vec::new();
    for name in v.backends.get_ref() {
        let n = name.get_ref().as_str();
        if listed.contains(&n) {
            p.error(
                Some(name.span()),
                format!("vip backend `{n}` is listed twice"),
                "list it once".to_string(),
            );
            continue;
        }
        listed.push(n);
        let Some(known) = BACKENDS.iter().find(|b| b.name == n) else {
            p.error(
                Some(name.span()),
                format!("unknown vip backend `{n}`"),
                format!("use one of: {}", backend_names().join(", ")),
            );
            continue;
        };
        let cx = Context {
            name: known.name,
            span: name.span(),
            vip: v,
            nodes,
        };
        if let Some(b) = (known.validate)(&cx, p) {
            backends.push(b);
        }
    }
    // Settings for a backend that is not used are probably a mistake.
    for b in &BACKENDS {
        if let Some(span) = (b.table)(v) {
            if !listed.contains(&b.name) {
                p.warning(
                    Some(span),
                    format!(
                        "[cluster.vip.{0}] is ignored: `{0}` is not in vip.backends",
                        b.name
                    ),
                    format!("add \"{}\" to vip.backends or remove the table", b.name),
                );
            }
        }
    }
    let retry_for = super::fields::duration(&v.retry_for, RETRY_FOR, "vip.retry_for", p);
    let ok = backends.len() == listed.len() && !listed.is_empty();
    ok.then_some(())
        .and(address)
        .zip(retry_for)
        .map(|(address, retry_for)| VipConfig {
            address,
            backends,
            retry_for,
        })
}

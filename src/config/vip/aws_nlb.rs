//! `aws-nlb`: the master as the one target of an NLB target group.

use std::time::Duration;

use serde::Deserialize;

use super::{Backend, BackendConfig, Context, S};
use crate::config::fields::{duration, prefixed};
use crate::config::problem::Problems;

pub(super) const BACKEND: Backend = Backend {
    name: AwsNlbConfig::NAME,
    validate,
    table: |v| v.aws_nlb.as_ref().map(|t| t.span()),
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsNlbConfig {
    pub target_group_arn: String,
    /// The targets' port (`None`: each node's MySQL port).
    pub port: Option<u16>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Every call of one move, retries included.
    pub deadline: Duration,
}

impl AwsNlbConfig {
    /// Its name in `vip.backends`.
    pub const NAME: &str = "aws-nlb";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAwsNlb {
    pub target_group_arn: S<String>,
    pub port: Option<S<i64>>,
    pub region: Option<S<String>>,
    pub endpoint_url: Option<S<String>>,
    pub deadline: Option<S<String>>,
}

fn validate(cx: &Context, p: &mut Problems) -> Option<BackendConfig> {
    let Some(t) = &cx.vip.aws_nlb else {
        cx.missing(p, "target_group_arn = \"arn:aws:elasticloadbalancing:...\"");
        return None;
    };
    let t = t.get_ref();
    let mut ok = prefixed(&t.target_group_arn, "arn:", "target_group_arn", p);
    let port = match &t.port {
        None => None,
        Some(port) => match u16::try_from(*port.get_ref()) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                p.error(
                    Some(port.span()),
                    format!("port {} is out of range", port.get_ref()),
                    "use a TCP port from 1 to 65535".to_string(),
                );
                ok = false;
                None
            }
        },
    };
    ok &= cx.ipv4_hosts(
        p,
        "aws-nlb registers IPv4 addresses in an IP target group",
        "give the node's private IPv4 address as its host",
    );
    let deadline = duration(
        &t.deadline,
        Duration::from_secs(5),
        "vip.aws-nlb.deadline",
        p,
    );
    let deadline = deadline?;
    ok.then(|| {
        BackendConfig::AwsNlb(AwsNlbConfig {
            target_group_arn: t.target_group_arn.get_ref().clone(),
            port,
            region: t.region.as_ref().map(|r| r.get_ref().clone()),
            endpoint_url: t.endpoint_url.as_ref().map(|e| e.get_ref().clone()),
            deadline,
        })
    })
}

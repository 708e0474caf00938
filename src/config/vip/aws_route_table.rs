//! `aws-route-table`: the VIP/32 route in the VPC's route tables.

use std::time::Duration;

use serde::Deserialize;

use super::{Backend, BackendConfig, Context, S};
use crate::config::fields::{duration, prefixed};
use crate::config::problem::Problems;

pub(super) const BACKEND: Backend = Backend {
    name: AwsRouteTableConfig::NAME,
    validate,
    table: |v| v.aws_route_table.as_ref().map(|t| t.span()),
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsRouteTableConfig {
    pub route_tables: Vec<String>,
    pub vpc_id: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub deadline: Duration,
    /// Tables switched at once (`None`: all of them).
    pub concurrency: Option<usize>,
}

impl AwsRouteTableConfig {
    /// Its name in `vip.backends`.
    pub const NAME: &str = "aws-route-table";
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAwsRouteTable {
    #[serde(default)]
    pub route_tables: Vec<S<String>>,
    pub vpc_id: Option<S<String>>,
    pub region: Option<S<String>>,
    pub endpoint_url: Option<S<String>>,
    pub deadline: Option<S<String>>,
    pub concurrency: Option<S<i64>>,
}

fn validate(cx: &Context, p: &mut Problems) -> Option<BackendConfig> {
    let default = RawAwsRouteTable::default();
    let t = cx
        .vip
        .aws_route_table
        .as_ref()
        .map(|t| t.get_ref())
        .unwrap_or(&default);
    let mut ok = true;
    for (i, id) in t.route_tables.iter().enumerate() {
        ok &= prefixed(id, "rtb-", "route table id", p);
        if t.route_tables[..i]
            .iter()
            .any(|o| o.get_ref() == id.get_ref())
        {
            p.error(
                Some(id.span()),
                format!("route table {} is listed twice", id.get_ref()),
                "list each route table once".to_string(),
            );
            ok = false;
        }
    }
    if let Some(vpc) = &t.vpc_id {
        ok &= prefixed(vpc, "vpc-", "vpc_id", p);
    }
    for node in cx.nodes {
        let n = node.get_ref();
        if n.instance_id.is_none() && n.eni_id.is_none() {
            p.error(
                Some(n.name.span()),
                format!(
                    "node `{}` has neither instance_id nor eni_id, which aws-route-table needs",
                    n.name.get_ref()
                ),
                "add eni_id (or instance_id) to the node".to_string(),
            );
            ok = false;
        }
    }
    let deadline = duration(
        &t.deadline,
        Duration::from_secs(5),
        "vip.aws-route-table.deadline",
        p,
    );
    let concurrency = match &t.concurrency {
        None => None,
        Some(n) => match usize::try_from(*n.get_ref()) {
            Ok(v) if (1..=256).contains(&v) => Some(v),
            _ => {
                p.error(
                    Some(n.span()),
                    format!(
                        "vip.aws-route-table.concurrency = {} is out of range",
                        n.get_ref()
                    ),
                    "use 1 (one table at a time) to 256; leave it out to switch all tables at once"
                        .to_string(),
                );
                ok = false;
                None
            }
        },
    };
    let deadline = deadline?;
    ok.then(|| {
        BackendConfig::AwsRouteTable(AwsRouteTableConfig {
            route_tables: t.route_tables.iter().map(|r| r.get_ref().clone()).collect(),
            vpc_id: t.vpc_id.as_ref().map(|v| v.get_ref().clone()),
            region: t.region.as_ref().map(|r| r.get_ref().clone()),
            endpoint_url: t.endpoint_url.as_ref().map(|e| e.get_ref().clone()),
            deadline,
            concurrency,
        })
    })
}

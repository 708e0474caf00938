//! `aws-route-table`: the VIP/32 route in every VPC route table targets the
//! master's network interface (the routing-based HA / overlay-IP pattern).
//!
//! Order of work: resolve the new master's ENI, make sure its source/dest
//! check is off (or fail before anything moved, naming the remedy), then
//! switch every table at once — replace the route, or create it where
//! missing — and read every table back. A table that fails is reported by
//! id; the others are switched all the same.

use aws_sdk_ec2::types::{Filter, RouteTable};
use aws_sdk_ec2::Client;

use futures::future::BoxFuture;

use super::{aws_failed, Moved, Placement, Site, VipBackend, VipError};
use crate::aws::AwsTarget;
use crate::config::{AwsRouteTableConfig, NodeConfig};

mod read;
mod switch;
mod withdraw;

pub use read::{placements, routes, source_dest_checks, TableRoute};
pub use switch::point;

type Settings = AwsRouteTableConfig;

impl VipBackend for AwsRouteTableConfig {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn describe(&self) -> String {
        match (&self.route_tables[..], &self.vpc_id) {
            ([], Some(vpc)) => format!("the route tables of {vpc} that route the VIP"),
            ([], None) => "the route tables of the master's VPC that route the VIP".into(),
            (tables, _) => format!("route tables {}", tables.join(", ")),
        }
    }

    fn status<'a>(&'a self, site: Site<'a>) -> BoxFuture<'a, Vec<Result<Placement, String>>> {
        Box::pin(async move {
            match placements(site.address, self, site.nodes).await {
                Ok(tables) => tables,
                Err(e) => vec![Err(e)],
            }
        })
    }

    fn move_to<'a>(
        &'a self,
        site: Site<'a>,
        _: Option<&'a NodeConfig>,
        to: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        Box::pin(point(site.address, self, to))
    }

    fn withdraw<'a>(
        &'a self,
        site: Site<'a>,
        from: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        Box::pin(withdraw::unroute(site.address, self, from))
    }
}

/// Where the AWS calls go, and their deadline.
fn target(s: &Settings) -> AwsTarget {
    AwsTarget {
        region: s.region.clone(),
        endpoint_url: s.endpoint_url.clone(),
        deadline: s.deadline,
    }
}

/// What the VIP route of `table` targets (ENI, else instance); `None` when
/// the table has no such route.
async fn read_route(client: &Client, table: &str, cidr: &str) -> Result<Option<String>, VipError> {
    let out = client
        .describe_route_tables()
        .route_table_ids(table)
        .send()
        .await
        .map_err(|e| aws_failed(&e, "DescribeRouteTables"))?;
    let t = out
        .route_tables()
        .first()
        .ok_or_else(|| format!("{table} not found"))?;
    Ok(vip_route_target(t, cidr))
}

fn vip_route_target(t: &RouteTable, cidr: &str) -> Option<String> {
    t.routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(cidr))
        .and_then(|r| {
            r.network_interface_id()
                .or(r.instance_id())
                .map(str::to_string)
        })
}

/// The configured tables, or every table of the VPC that routes the VIP.
async fn tables(
    client: &Client,
    s: &Settings,
    eni_vpc: Option<&str>,
    cidr: &str,
) -> Result<Vec<String>, VipError> {
    if !s.route_tables.is_empty() {
        return Ok(s.route_tables.to_vec());
    }
    let vpc = s
        .vpc_id
        .as_deref()
        .or(eni_vpc)
        .ok_or("cannot tell which VPC to search: set aws-route-table.vpc_id or route_tables")?;
    // Filtering on route fields is done here, not by the API (some
    // endpoints do not support those filters).
    let out = client
        .describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .map_err(|e| aws_failed(&e, format!("DescribeRouteTables in {vpc}")))?;
    Ok(out
        .route_tables()
        .iter()
        .filter(|t| vip_route_target(t, cidr).is_some())
        .filter_map(|t| t.route_table_id().map(str::to_string))
        .collect())
}

/// The node's ENI: configured, or the primary interface of its instance.
async fn resolve_eni(client: &Client, node: &NodeConfig) -> Result<String, VipError> {
    if let Some(eni) = &node.eni_id {
        return Ok(eni.clone());
    }
    let instance = node
        .instance_id
        .as_deref()
        .ok_or_else(|| format!("node {} has neither eni_id nor instance_id", node.name))?;
    let out = client
        .describe_instances()
        .instance_ids(instance)
        .send()
        .await
        .map_err(|e| {
            aws_failed(
                &e,
                format!("node {}: DescribeInstances {instance}", node.name),
            )
        })?;
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .flat_map(|i| i.network_interfaces())
        .find(|n| n.attachment().and_then(|a| a.device_index()) == Some(0))
        .and_then(|n| n.network_interface_id().map(str::to_string))
        .ok_or_else(|| {
            format!(
                "node {}: instance {instance} has no primary network interface",
                node.name
            )
            .into()
        })
}

//! Where the VIP routes point now, table by table, and every node's
//! source/dest check: what `vip status` and preflight read.

use std::net::Ipv4Addr;

use futures::future::join_all;
use serde::Serialize;

use super::{aws_failed, read_route, resolve_eni, tables, target, Settings};
use crate::aws::ec2;
use crate::config::NodeConfig;
use crate::vip::{Placement, VipError};

/// One table's route for the VIP, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRoute {
    pub route_table: String,
    /// The ENI (or instance) the VIP route targets, if there is such a
    /// route; Err when the table could not be read.
    pub target: Result<Option<String>, String>,
    pub node: Option<String>,
}

/// Every table's VIP route, and which node it is; all of it within the
/// backend's deadline.
pub async fn routes(
    vip: Ipv4Addr,
    s: &Settings,
    nodes: &[NodeConfig],
) -> Result<Vec<TableRoute>, String> {
    let deadline = s.deadline;
    tokio::time::timeout(deadline, routes_within(vip, s, nodes))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "the route tables could not be read within {} (aws-route-table.deadline)",
                humantime::format_duration(deadline)
            ))
        })
}

async fn routes_within(
    vip: Ipv4Addr,
    s: &Settings,
    nodes: &[NodeConfig],
) -> Result<Vec<TableRoute>, String> {
    let client = ec2(&target(s)).await;
    let cidr = format!("{vip}/32");
    let enis: Vec<(String, String)> = join_all(nodes.iter().map(|n| resolve_eni(&client, n)))
        .await
        .into_iter()
        .zip(nodes)
        .filter_map(|(eni, n)| Some((eni.ok()?, n.name.clone())))
        .collect();
    let vpc = match &s.vpc_id {
        Some(v) => Some(v.clone()),
        None => match enis.first() {
            Some((eni, _)) => client
                .describe_network_interfaces()
                .network_interface_ids(eni)
                .send()
                .await
                .ok()
                .and_then(|o| {
                    o.network_interfaces()
                        .first()
                        .and_then(|n| n.vpc_id().map(str::to_string))
                }),
            None => None,
        },
    };
    let ids = tables(&client, s, vpc.as_deref(), &cidr)
        .await
        .map_err(|e| e.message)?;
    let reads = join_all(
        ids.iter()
            .map(|t| async { read_route(&client, t, &cidr).await.map_err(|e| e.message) }),
    )
    .await;
    Ok(ids
        .into_iter()
        .zip(reads)
        .map(|(t, target)| {
            let node = target
                .as_ref()
                .ok()
                .cloned()
                .flatten()
                .and_then(|x| enis.iter().find(|(e, _)| *e == x).map(|(_, n)| n.clone()));
            TableRoute {
                route_table: t,
                target,
                node,
            }
        })
        .collect())
}

/// The placement the `vip status` table shows: one line per route table,
/// an error for each table that could not be read.
pub async fn placements(
    vip: Ipv4Addr,
    s: &Settings,
    nodes: &[NodeConfig],
) -> Result<Vec<Result<Placement, String>>, String> {
    Ok(routes(vip, s, nodes)
        .await?
        .into_iter()
        .map(|r| match r.target {
            Err(e) => Err(format!("route table {}: {e}", r.route_table)),
            Ok(target) => Ok(Placement {
                backend: "aws-route-table",
                target: format!(
                    "{}: {vip}/32 -> {}",
                    r.route_table,
                    target.unwrap_or_else(|| "no route".into())
                ),
                node: r.node,
                no_node_is_wrong: true,
            }),
        })
        .collect())
}

/// Each node's ENI and its source/dest check (`None` when it cannot be
/// read), all within the backend's deadline.
pub async fn source_dest_checks(
    s: &Settings,
    nodes: &[NodeConfig],
) -> Vec<(String, Result<(String, Option<bool>), String>)> {
    let deadline = s.deadline;
    let client = ec2(&target(s)).await;
    let one = |n: &NodeConfig| {
        let client = client.clone();
        let n = n.clone();
        async move {
            let r = async {
                let eni = resolve_eni(&client, &n).await?;
                let d = client
                    .describe_network_interfaces()
                    .network_interface_ids(&eni)
                    .send()
                    .await
                    .map_err(|e| aws_failed(&e, format!("DescribeNetworkInterfaces {eni}")))?;
                let check = d
                    .network_interfaces()
                    .first()
                    .and_then(|x| x.source_dest_check());
                Ok::<_, VipError>((eni, check))
            };
            let r = match tokio::time::timeout(deadline, r).await {
                Ok(r) => r.map_err(|e| e.message),
                Err(_) => Err(format!(
                    "no answer within {} (aws-route-table.deadline)",
                    humantime::format_duration(deadline)
                )),
            };
            (n.name.clone(), r)
        }
    };
    join_all(nodes.iter().map(one)).await
}

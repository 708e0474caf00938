//! `aws-route-table`: the VIP/32 route in every VPC route table targets the
//! master's network interface (the routing-based HA / overlay-IP pattern).
//!
//! Order of work: resolve the new master's ENI, make sure its source/dest
//! check is off (or fail before anything moved, naming the remedy), then
//! switch every table at once — replace the route, or create it where
//! missing — and read every table back. A table that fails is reported by
//! id; the others are switched all the same.

use std::net::Ipv4Addr;

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, RouteTable};
use aws_sdk_ec2::Client;
use futures::future::join_all;
use serde::Serialize;

use futures::future::BoxFuture;

use super::{Moved, Placement, Site, VipBackend, VipError};
use crate::aws::{ec2, error_code, error_text, AwsTarget};
use crate::config::{AwsRouteTableConfig, NodeConfig};

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
}

/// A failed AWS call: `words` (which name the call and carry
/// `error_text`) and the code AWS answered with.
fn aws_failed<E, R>(e: &aws_sdk_ec2::error::SdkError<E, R>, words: String) -> VipError
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    VipError {
        message: words,
        aws_code: error_code(e),
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

/// One table's route for the VIP, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRoute {
    pub route_table: String,
    /// The ENI (or instance) the VIP route targets, if there is such a
    /// route; Err when the table could not be read.
    pub target: Result<Option<String>, String>,
    pub node: Option<String>,
}

pub async fn point(vip: Ipv4Addr, s: &Settings, to: &NodeConfig) -> Result<Moved, VipError> {
    let deadline = s.deadline;
    match tokio::time::timeout(deadline, point_within(vip, s, to)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "the route tables did not all answer within {} (aws-route-table.deadline); check `vipkeeper vip status`",
            humantime::format_duration(deadline)
        )
        .into()),
    }
}

async fn point_within(vip: Ipv4Addr, s: &Settings, to: &NodeConfig) -> Result<Moved, VipError> {
    let client = ec2(&target(s)).await;
    let cidr = format!("{vip}/32");
    let eni = resolve_eni(&client, to).await?;
    let (vpc, turned_off) = ensure_source_dest_check_off(&client, &eni, to).await?;
    let tables = tables(&client, s, vpc.as_deref(), &cidr).await?;
    if tables.is_empty() {
        return Err(format!(
            "no route table to update: configure route_tables, or add a route for {cidr} to the VPC's tables once"
        )
        .into());
    }
    let at_once = s.concurrency.unwrap_or(tables.len()).max(1);
    let mut results = Vec::with_capacity(tables.len());
    for chunk in tables.chunks(at_once) {
        results.extend(join_all(chunk.iter().map(|t| switch_table(&client, t, &cidr, &eni))).await);
    }
    let mut changed = Vec::new();
    let mut unchanged = Vec::new();
    // (table, what went wrong)
    let mut failed: Vec<(&String, VipError)> = Vec::new();
    let mut ok_tables: Vec<&String> = Vec::new();
    for (t, r) in tables.iter().zip(results) {
        match r {
            Ok(Switch::Replaced) => changed.push(format!("{t} (replaced)")),
            Ok(Switch::Created) => changed.push(format!("{t} (created)")),
            Ok(Switch::Already) => unchanged.push(t.clone()),
            Err(e) => {
                failed.push((t, e));
                continue;
            }
        }
        // Read back what did not fail.
        ok_tables.push(t);
    }
    let mut readback = Vec::with_capacity(ok_tables.len());
    for chunk in ok_tables.chunks(at_once) {
        readback.extend(join_all(chunk.iter().map(|t| read_route(&client, t, &cidr))).await);
    }
    for (t, r) in ok_tables.iter().zip(readback) {
        match r {
            Ok(Some(target)) if target == eni => {}
            Ok(other) => failed.push((
                t,
                format!(
                    "reads back as targeting {}",
                    other.unwrap_or_else(|| "nothing".into())
                )
                .into(),
            )),
            Err(e) => failed.push((
                t,
                VipError {
                    message: format!("reading it back: {}", e.message),
                    ..e
                },
            )),
        }
    }
    let summary = format!(
        "{}{cidr} -> {eni} ({}): {} switched{}{}",
        if turned_off {
            format!(
                "turned the source/dest check of {eni} ({}) off, so that it accepts VIP traffic; ",
                to.name
            )
        } else {
            String::new()
        },
        to.name,
        changed.len(),
        if changed.is_empty() {
            String::new()
        } else {
            format!(" [{}]", changed.join(", "))
        },
        if unchanged.is_empty() {
            String::new()
        } else {
            format!(", {} already there", unchanged.len())
        }
    );
    if !failed.is_empty() {
        let words: Vec<String> = failed.iter().map(|(t, e)| format!("{t}: {e}")).collect();
        return Err(VipError {
            message: format!("{summary}; FAILED: {}", words.join("; ")),
            aws_code: failed.into_iter().find_map(|(_, e)| e.aws_code),
        });
    }
    if changed.is_empty() {
        return Ok(Moved::AlreadyThere(summary));
    }
    Ok(Moved::Done(summary))
}

enum Switch {
    Replaced,
    Created,
    Already,
}

async fn switch_table(
    client: &Client,
    table: &str,
    cidr: &str,
    eni: &str,
) -> Result<Switch, VipError> {
    match read_route(client, table, cidr).await? {
        Some(current) if current == eni => Ok(Switch::Already),
        Some(_) => client
            .replace_route()
            .route_table_id(table)
            .destination_cidr_block(cidr)
            .network_interface_id(eni)
            .send()
            .await
            .map(|_| Switch::Replaced)
            .map_err(|e| aws_failed(&e, format!("ReplaceRoute: {}", error_text(&e)))),
        None => client
            .create_route()
            .route_table_id(table)
            .destination_cidr_block(cidr)
            .network_interface_id(eni)
            .send()
            .await
            .map(|_| Switch::Created)
            .map_err(|e| aws_failed(&e, format!("CreateRoute: {}", error_text(&e)))),
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
        .map_err(|e| aws_failed(&e, format!("DescribeRouteTables: {}", error_text(&e))))?;
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
        .map_err(|e| {
            aws_failed(
                &e,
                format!("DescribeRouteTables in {vpc}: {}", error_text(&e)),
            )
        })?;
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
                format!(
                    "node {}: DescribeInstances {instance}: {}",
                    node.name,
                    error_text(&e)
                ),
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

/// Source/dest check must be off for the ENI to accept packets for the VIP.
/// Turns it off when allowed; otherwise fails before anything moved.
/// Returns the ENI's VPC, and whether the check was turned off here.
async fn ensure_source_dest_check_off(
    client: &Client,
    eni: &str,
    node: &NodeConfig,
) -> Result<(Option<String>, bool), VipError> {
    let out = client
        .describe_network_interfaces()
        .network_interface_ids(eni)
        .send()
        .await
        .map_err(|e| {
            aws_failed(
                &e,
                format!(
                    "node {}: DescribeNetworkInterfaces {eni}: {}",
                    node.name,
                    error_text(&e)
                ),
            )
        })?;
    let ni = out
        .network_interfaces()
        .first()
        .ok_or_else(|| format!("node {}: network interface {eni} not found", node.name))?;
    let on = ni.source_dest_check() == Some(true);
    if on {
        client
            .modify_network_interface_attribute()
            .network_interface_id(eni)
            .source_dest_check(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .map_err(|e| aws_failed(&e, format!(
                    "source/dest check is on for {eni} ({}) and could not be turned off ({}); nothing was moved. \
                     Run `aws ec2 modify-network-interface-attribute --network-interface-id {eni} --no-source-dest-check`, \
                     or allow ec2:ModifyNetworkInterfaceAttribute",
                    node.name,
                    error_text(&e)
                )))?;
    }
    Ok((ni.vpc_id().map(str::to_string), on))
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
                    .map_err(|e| {
                        aws_failed(
                            &e,
                            format!("DescribeNetworkInterfaces {eni}: {}", error_text(&e)),
                        )
                    })?;
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

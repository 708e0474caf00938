//! An Aurora cluster's instances as the RDS API lists them, for a cluster
//! whose config lists no nodes: `DescribeDBInstances` (filtered to the DB
//! cluster) gives each instance's endpoint; SQL reaches it by that name,
//! and its address (what a target group or an A record names) is resolved
//! here, from where the agent runs — inside the VPC an instance endpoint
//! resolves to the instance's private address. Nodes listed in the config
//! override discovery altogether (tests point them at local servers).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use aws_sdk_rds::types::Filter;

use super::api::{target, within};
use crate::aws::rds;
use crate::config::{AuroraConfig, ClusterConfig, NodeConfig};
use crate::vip::aws_failed;

/// How long resolving one endpoint may take.
const RESOLVE_DEADLINE: Duration = Duration::from_secs(2);

/// The cluster's instances, named by their identifiers, sorted.
pub async fn instances(a: &AuroraConfig) -> Result<Vec<NodeConfig>, String> {
    let what = format!("DescribeDBInstances {}", a.cluster_identifier);
    let call = async {
        rds(&target(a))
            .await
            .describe_db_instances()
            .filters(
                Filter::builder()
                    .name("db-cluster-id")
                    .values(&a.cluster_identifier)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_failed(&e, what.clone()))
    };
    let out = within(a, what.clone(), call).await?;
    let listed: Vec<(String, String, u16, Option<String>)> = out
        .db_instances()
        .iter()
        .filter(|i| i.db_cluster_identifier() == Some(a.cluster_identifier.as_str()))
        .filter_map(|i| {
            let ep = i.endpoint()?;
            Some((
                i.db_instance_identifier()?.to_string(),
                ep.address()?.to_string(),
                u16::try_from(ep.port().unwrap_or(3306)).ok()?,
                i.availability_zone().map(str::to_string),
            ))
        })
        .collect();
    if listed.is_empty() {
        return Err(format!(
            "the RDS API lists no instance with an endpoint in DB cluster {}",
            a.cluster_identifier
        ));
    }
    let mut nodes =
        futures::future::join_all(listed.into_iter().map(|(name, host, port, az)| async move {
            let ipv4 = resolve(&host, port).await;
            NodeConfig {
                name,
                host,
                port,
                instance_id: None,
                eni_id: None,
                az,
                ipv4,
                host_agent: None,
                binlog_index: None,
                relay_log_index: None,
            }
        }))
        .await;
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(nodes)
}

/// The endpoint's IPv4 address, if it resolves in time (an instance still
/// being created may not resolve yet: SQL by name is still tried).
async fn resolve(host: &str, port: u16) -> Option<Ipv4Addr> {
    let found = tokio::time::timeout(RESOLVE_DEADLINE, tokio::net::lookup_host((host, port)))
        .await
        .ok()?
        .ok()?;
    found.into_iter().find_map(|a| match a.ip() {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    })
}

/// The instances in one line, for the log.
pub fn describe(nodes: &[NodeConfig]) -> String {
    nodes
        .iter()
        .map(|n| match n.ipv4 {
            Some(ip) => format!("{} ({} = {ip}:{})", n.name, n.host, n.port),
            None => format!("{} ({}:{}, not resolved)", n.name, n.host, n.port),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The cluster with its instances: as its config lists them, or (none
/// listed) as the RDS API lists them now.
pub async fn with_instances(
    cluster: &ClusterConfig,
    a: &AuroraConfig,
) -> Result<ClusterConfig, String> {
    if !cluster.nodes.is_empty() {
        return Ok(cluster.clone());
    }
    Ok(ClusterConfig {
        nodes: instances(a).await?,
        ..cluster.clone()
    })
}

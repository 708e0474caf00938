//! `linux-route`: `VIP/32 via <master's address>` in this host's routing
//! table — a router on-prem, or the "VPC route table" of the namespace tests.

use std::net::Ipv4Addr;

use futures::future::BoxFuture;

use super::{node_at, Moved, Placement, Site, VipBackend, VipError};
use crate::config::{LinuxRouteConfig, NodeConfig};
use crate::netlink::{Netlink, MAIN_TABLE};

fn gateway_of(node: &NodeConfig) -> Result<Ipv4Addr, String> {
    node.host.parse().map_err(|_| {
        format!(
            "node {} has host {}, not an IPv4 address the route can point at",
            node.name, node.host
        )
    })
}

impl VipBackend for LinuxRouteConfig {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn describe(&self) -> String {
        format!("routing table {}", self.table.unwrap_or(MAIN_TABLE))
    }

    fn status<'a>(&'a self, site: Site<'a>) -> BoxFuture<'a, Vec<Result<Placement, String>>> {
        Box::pin(async move { vec![placement(site.address, self.table, site.nodes).await] })
    }

    fn move_to<'a>(
        &'a self,
        site: Site<'a>,
        _: Option<&'a NodeConfig>,
        to: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        Box::pin(async move {
            point(site.address, self.table, site.nodes, to)
                .await
                .map_err(VipError::from)
        })
    }

    /// The route goes if it sends the VIP to `from`: the router then
    /// answers clients "unreachable" until the new master is known.
    fn withdraw<'a>(
        &'a self,
        site: Site<'a>,
        from: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        Box::pin(async move {
            unroute(site.address, self.table, from)
                .await
                .map_err(VipError::from)
        })
    }
}

async fn unroute(vip: Ipv4Addr, table: Option<u32>, from: &NodeConfig) -> Result<Moved, String> {
    let table = table.unwrap_or(MAIN_TABLE);
    let gateway = gateway_of(from)?;
    let nl = Netlink::connect().map_err(|e| e.to_string())?;
    let now = nl
        .route_gateway(vip, table)
        .await
        .map_err(|e| e.to_string())?;
    if now != Some(gateway) {
        return Ok(Moved::NotHere(format!(
            "{vip}/32 does not go via {gateway} ({}) in table {table}: nothing to take away",
            from.name
        )));
    }
    nl.delete_route(vip, table)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Moved::Done(format!(
        "{vip}/32 via {gateway} ({}) deleted from table {table}",
        from.name
    )))
}

async fn point(
    vip: Ipv4Addr,
    table: Option<u32>,
    nodes: &[NodeConfig],
    to: &NodeConfig,
) -> Result<Moved, String> {
    let table = table.unwrap_or(MAIN_TABLE);
    let gateway = gateway_of(to)?;
    let nl = Netlink::connect().map_err(|e| e.to_string())?;
    let before = nl
        .route_gateway(vip, table)
        .await
        .map_err(|e| e.to_string())?;
    if before == Some(gateway) {
        return Ok(Moved::AlreadyThere(format!(
            "{vip}/32 already via {gateway} ({}) in table {table}",
            to.name
        )));
    }
    nl.replace_route(vip, gateway, table)
        .await
        .map_err(|e| e.to_string())?;
    let after = nl
        .route_gateway(vip, table)
        .await
        .map_err(|e| e.to_string())?;
    if after != Some(gateway) {
        return Err(format!(
            "the route {vip}/32 reads back as via {after:?}, not {gateway}"
        ));
    }
    let was = match before {
        Some(g) => node_at(nodes, &g.to_string())
            .map(|n| format!("{g} ({})", n.name))
            .unwrap_or_else(|| g.to_string()),
        None => "nowhere".into(),
    };
    Ok(Moved::Done(format!(
        "{vip}/32 now via {gateway} ({}) in table {table}, was {was}",
        to.name
    )))
}

async fn placement(
    vip: Ipv4Addr,
    table: Option<u32>,
    nodes: &[NodeConfig],
) -> Result<Placement, String> {
    let table = table.unwrap_or(MAIN_TABLE);
    let nl = Netlink::connect().map_err(|e| e.to_string())?;
    let gateway = nl
        .route_gateway(vip, table)
        .await
        .map_err(|e| e.to_string())?;
    Ok(match gateway {
        Some(g) => Placement {
            backend: "linux-route",
            target: format!("{vip}/32 via {g} in table {table}"),
            node: node_at(nodes, &g.to_string()).map(|n| n.name.clone()),
            no_node_is_wrong: false,
        },
        None => Placement {
            backend: "linux-route",
            target: format!("no route for {vip}/32 in table {table}"),
            node: None,
            no_node_is_wrong: false,
        },
    })
}

//! `local-address`: VIP/32 on an interface (`lo`) of the master's own host,
//! so that it accepts packets routed to the VIP. It acts on the host it runs
//! on, which it recognises by its addresses: it adds the VIP when this host
//! is the new master and removes it when this host is the old one.
//!
//! On-prem with ARP, also set `net.ipv4.conf.all.arp_ignore=1` and
//! `arp_announce=2` so that hosts do not answer ARP for an address on `lo`.

use std::net::Ipv4Addr;
use std::time::Duration;

use futures::future::BoxFuture;

use super::{Moved, Placement, Site, VipBackend, VipError};
use crate::config::{LocalAddressConfig, NodeConfig};
use crate::netlink::Netlink;

/// How often the host agent looks at its own node (and adds or removes the
/// VIP on its `lo`).
pub const LOCAL_POLL: Duration = Duration::from_millis(20);

impl VipBackend for LocalAddressConfig {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn describe(&self) -> String {
        format!("the address on {} of the master's host", self.interface)
    }

    /// The new master's host agent adds the VIP to its `lo` once the node
    /// is detached (it looks every LOCAL_POLL): traffic routed there sooner
    /// is dropped and waits out TCP's 1 s retransmission.
    fn settle_time(&self) -> Duration {
        LOCAL_POLL * 2
    }

    fn status<'a>(&'a self, site: Site<'a>) -> BoxFuture<'a, Vec<Result<Placement, String>>> {
        Box::pin(async move { vec![placement(site.address, &self.interface, site.nodes).await] })
    }

    fn move_to<'a>(
        &'a self,
        site: Site<'a>,
        from: Option<&'a NodeConfig>,
        to: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        Box::pin(async move {
            hold(site.address, &self.interface, from, to)
                .await
                .map_err(VipError::from)
        })
    }
}

/// Is `node` this host (one of its interfaces holds the node's address)?
async fn is_this_host(nl: &Netlink, node: &NodeConfig) -> Result<bool, String> {
    let Ok(ip) = node.host.parse::<Ipv4Addr>() else {
        return Ok(false);
    };
    Ok(local_ipv4(nl).await?.contains(&ip))
}

async fn local_ipv4(nl: &Netlink) -> Result<Vec<Ipv4Addr>, String> {
    let mut out = Vec::new();
    for name in interface_names().map_err(|e| e.to_string())? {
        if let Ok(addrs) = nl.addresses(&name).await {
            out.extend(addrs.into_iter().map(|(a, _)| a));
        }
    }
    Ok(out)
}

fn interface_names() -> std::io::Result<Vec<String>> {
    Ok(std::fs::read_dir("/sys/class/net")?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect())
}

async fn hold(
    vip: Ipv4Addr,
    interface: &str,
    from: Option<&NodeConfig>,
    to: &NodeConfig,
) -> Result<Moved, String> {
    let nl = Netlink::connect().map_err(|e| e.to_string())?;
    if is_this_host(&nl, to).await? {
        return Ok(
            match nl
                .add_address(interface, vip, 32)
                .await
                .map_err(|e| e.to_string())?
            {
                true => Moved::Done(format!(
                    "{vip}/32 added to {interface} of {} (this host)",
                    to.name
                )),
                false => {
                    Moved::AlreadyThere(format!("{vip}/32 already on {interface} of {}", to.name))
                }
            },
        );
    }
    if let Some(from) = from {
        if is_this_host(&nl, from).await? {
            return Ok(
                match nl
                    .remove_address(interface, vip, 32)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    true => Moved::Done(format!(
                        "{vip}/32 removed from {interface} of {} (this host)",
                        from.name
                    )),
                    false => Moved::AlreadyThere(format!(
                        "{vip}/32 was not on {interface} of {}",
                        from.name
                    )),
                },
            );
        }
    }
    Ok(Moved::NotHere(format!(
        "this host is neither {} nor the old master",
        to.name
    )))
}

async fn placement(
    vip: Ipv4Addr,
    interface: &str,
    nodes: &[NodeConfig],
) -> Result<Placement, String> {
    let nl = Netlink::connect().map_err(|e| e.to_string())?;
    let here = nl.addresses(interface).await.map_err(|e| e.to_string())?;
    let held = here.contains(&(vip, 32));
    let mut me = None;
    for n in nodes {
        if is_this_host(&nl, n).await? {
            me = Some(n.name.clone());
        }
    }
    Ok(Placement {
        backend: "local-address",
        target: format!(
            "{vip}/32 {} on {interface} of this host",
            if held { "is" } else { "is not" }
        ),
        node: if held { me } else { None },
        no_node_is_wrong: false,
    })
}

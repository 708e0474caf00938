//! A small typed wrapper around rtnetlink: the few things the VIP backends
//! do to this host's network — hold an address on an interface, and point a
//! /32 route at a gateway. Idempotent, and every call has a deadline.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use futures::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::{Handle, RouteMessageBuilder};

/// Netlink answers locally; anything slower than this is a hung kernel call.
const DEADLINE: Duration = Duration::from_secs(2);

/// The main routing table.
pub const MAIN_TABLE: u32 = 254;

const EEXIST: i32 = 17;
const ENOENT: i32 = 2;
const EADDRNOTAVAIL: i32 = 99;
const ESRCH: i32 = 3;
const ENODEV: i32 = 19;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NetError(pub String);

pub struct Netlink {
    handle: Handle,
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl Netlink {
    /// Opens a netlink socket in the current network namespace.
    pub fn connect() -> Result<Self, NetError> {
        let (connection, handle, _) = rtnetlink::new_connection()
            .map_err(|e| NetError(format!("cannot open a netlink socket: {e}")))?;
        Ok(Self {
            handle,
            connection: tokio::spawn(connection),
        })
    }

    pub async fn link_index(&self, name: &str) -> Result<u32, NetError> {
        let missing = || NetError(format!("no interface named {name} on this host"));
        let mut request = Box::pin(
            self.handle
                .link()
                .get()
                .match_name(name.to_string())
                .execute(),
        );
        match tokio::time::timeout(DEADLINE, request.try_next()).await {
            Ok(Ok(Some(link))) => Ok(link.header.index),
            Ok(Ok(None)) => Err(missing()),
            Ok(Err(rtnetlink::Error::NetlinkError(m)))
                if m.code.map(|c| -c.get()) == Some(ENODEV) =>
            {
                Err(missing())
            }
            Ok(Err(e)) => Err(NetError(format!("looking up interface {name}: {e}"))),
            Err(_) => Err(NetError(format!(
                "looking up interface {name}: netlink did not answer within {DEADLINE:?}"
            ))),
        }
    }

    /// IPv4 addresses (with prefix length) on interface `name`.
    pub async fn addresses(&self, name: &str) -> Result<Vec<(Ipv4Addr, u8)>, NetError> {
        let index = self.link_index(name).await?;
        let messages: Vec<_> = bounded(
            self.handle
                .address()
                .get()
                .set_link_index_filter(index)
                .execute()
                .try_collect::<Vec<_>>(),
            &format!("listing the addresses of {name}"),
        )
        .await?;
        Ok(messages
            .iter()
            .flat_map(|m| {
                let prefix = m.header.prefix_len;
                m.attributes.iter().filter_map(move |a| match a {
                    AddressAttribute::Local(IpAddr::V4(ip))
                    | AddressAttribute::Address(IpAddr::V4(ip)) => Some((*ip, prefix)),
                    _ => None,
                })
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect())
    }

    /// Adds `addr/prefix` to interface `name`; already there is fine.
    pub async fn add_address(
        &self,
        name: &str,
        addr: Ipv4Addr,
        prefix: u8,
    ) -> Result<bool, NetError> {
        let index = self.link_index(name).await?;
        let what = format!("adding {addr}/{prefix} to {name}");
        match bounded_op(
            self.handle
                .address()
                .add(index, IpAddr::V4(addr), prefix)
                .execute(),
            &what,
        )
        .await
        {
            Ok(()) => Ok(true),
            Err(Some(EEXIST)) => Ok(false),
            Err(code) => Err(NetError(format!("{what}: {}", errno_text(code)))),
        }
    }

    /// Removes `addr/prefix` from interface `name`; already gone is fine.
    pub async fn remove_address(
        &self,
        name: &str,
        addr: Ipv4Addr,
        prefix: u8,
    ) -> Result<bool, NetError> {
        let index = self.link_index(name).await?;
        let what = format!("removing {addr}/{prefix} from {name}");
        let messages: Vec<_> = bounded(
            self.handle
                .address()
                .get()
                .set_link_index_filter(index)
                .set_address_filter(IpAddr::V4(addr))
                .execute()
                .try_collect::<Vec<_>>(),
            &what,
        )
        .await?;
        let mut removed = false;
        for m in messages
            .into_iter()
            .filter(|m| m.header.prefix_len == prefix)
        {
            match bounded_op(self.handle.address().del(m).execute(), &what).await {
                Ok(()) => removed = true,
                Err(Some(EADDRNOTAVAIL | ENOENT)) => {}
                Err(code) => return Err(NetError(format!("{what}: {}", errno_text(code)))),
            }
        }
        Ok(removed)
    }

    /// The gateway of the route `dest/32` in `table`, if there is one.
    pub async fn route_gateway(
        &self,
        dest: Ipv4Addr,
        table: u32,
    ) -> Result<Option<Ipv4Addr>, NetError> {
        let query = RouteMessageBuilder::<Ipv4Addr>::new()
            .table_id(table)
            .build();
        let routes: Vec<_> = bounded(
            self.handle
                .route()
                .get(query)
                .execute()
                .try_collect::<Vec<_>>(),
            &format!("reading routing table {table}"),
        )
        .await?;
        for r in routes {
            if r.header.destination_prefix_length != 32 || route_table(&r) != table {
                continue;
            }
            let has_dest = r.attributes.iter().any(
                |a| matches!(a, RouteAttribute::Destination(RouteAddress::Inet(d)) if *d == dest),
            );
            if has_dest {
                return Ok(r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Gateway(RouteAddress::Inet(g)) => Some(*g),
                    _ => None,
                }));
            }
        }
        Ok(None)
    }

    /// `ip route replace dest/32 via gateway table T`.
    pub async fn replace_route(
        &self,
        dest: Ipv4Addr,
        gateway: Ipv4Addr,
        table: u32,
    ) -> Result<(), NetError> {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(dest, 32)
            .gateway(gateway)
            .table_id(table)
            .build();
        let what = format!("replacing the route {dest}/32 via {gateway} in table {table}");
        bounded_op(self.handle.route().add(route).replace().execute(), &what)
            .await
            .map_err(|code| NetError(format!("{what}: {}", errno_text(code))))
    }

    /// Deletes `dest/32` from `table`; already gone is fine.
    pub async fn delete_route(&self, dest: Ipv4Addr, table: u32) -> Result<bool, NetError> {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(dest, 32)
            .table_id(table)
            .build();
        let what = format!("deleting the route {dest}/32 from table {table}");
        match bounded_op(self.handle.route().del(route).execute(), &what).await {
            Ok(()) => Ok(true),
            Err(Some(ESRCH | ENOENT)) => Ok(false),
            Err(code) => Err(NetError(format!("{what}: {}", errno_text(code)))),
        }
    }
}

fn route_table(r: &rtnetlink::packet_route::route::RouteMessage) -> u32 {
    r.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(r.header.table))
}

async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, rtnetlink::Error>>,
    what: &str,
) -> Result<T, NetError> {
    match tokio::time::timeout(DEADLINE, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(NetError(format!("{what}: {e}"))),
        Err(_) => Err(NetError(format!(
            "{what}: netlink did not answer within {DEADLINE:?}"
        ))),
    }
}

/// Runs a change; `Err(Some(errno))` for a kernel refusal, `Err(None)` for
/// anything else (timeout, socket error).
async fn bounded_op(
    f: impl std::future::Future<Output = Result<(), rtnetlink::Error>>,
    _what: &str,
) -> Result<(), Option<i32>> {
    match tokio::time::timeout(DEADLINE, f).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(rtnetlink::Error::NetlinkError(msg))) => Err(msg.code.map(|c| -c.get())),
        Ok(Err(_)) | Err(_) => Err(None),
    }
}

fn errno_text(code: Option<i32>) -> String {
    match code {
        Some(1) => "operation not permitted (vipkeeper needs CAP_NET_ADMIN: run as root or grant the capability)".into(),
        Some(c) => std::io::Error::from_raw_os_error(c).to_string(),
        None => format!("no answer from netlink within {DEADLINE:?}"),
    }
}

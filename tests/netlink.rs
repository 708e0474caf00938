//! The netlink wrapper against the real kernel, as root, inside a fresh
//! network namespace (so the host's own network is never touched).

use vipkeeper_harness as support;

use std::net::Ipv4Addr;

use support::netns::Netns;
use vipkeeper::netlink::{Netlink, MAIN_TABLE};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 254, 0, 10);

fn namespace(tag: &str) -> Option<Netns> {
    support::available_or_skip("the netlink tests", Netns::available())
        .then(|| Netns::create(tag).expect("creating a network namespace"))
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn address_on_lo_is_added_and_removed_idempotently() {
    let Some(ns) = namespace("addr") else { return };
    let (first, second, listed) = ns
        .run_inside(|| {
            block_on(async {
                let nl = Netlink::connect().unwrap();
                let first = nl.add_address("lo", VIP, 32).await.unwrap();
                let second = nl.add_address("lo", VIP, 32).await.unwrap();
                (first, second, nl.addresses("lo").await.unwrap())
            })
        })
        .unwrap();
    assert!(first && !second, "the second add is a no-op");
    assert!(listed.contains(&(VIP, 32)), "{listed:?}");
    assert!(ns
        .ip(&["-4", "addr", "show", "dev", "lo"])
        .unwrap()
        .contains("inet 10.254.0.10/32"));

    let (removed, again) = ns
        .run_inside(|| {
            block_on(async {
                let nl = Netlink::connect().unwrap();
                (
                    nl.remove_address("lo", VIP, 32).await.unwrap(),
                    nl.remove_address("lo", VIP, 32).await.unwrap(),
                )
            })
        })
        .unwrap();
    assert!(removed && !again);
    assert!(!ns
        .ip(&["-4", "addr", "show", "dev", "lo"])
        .unwrap()
        .contains("10.254.0.10"));
}

#[test]
fn vip_route_is_replaced_read_back_and_deleted() {
    let Some(ns) = namespace("route") else { return };
    // A connected network for the gateways (no `dummy` driver on every kernel).
    ns.ip(&[
        "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
    ])
    .unwrap();
    ns.ip(&["addr", "add", "10.77.0.1/24", "dev", "veth0"])
        .unwrap();
    ns.ip(&["link", "set", "veth0", "up"]).unwrap();
    ns.ip(&["link", "set", "veth1", "up"]).unwrap();
    let gw1 = Ipv4Addr::new(10, 77, 0, 11);
    let gw2 = Ipv4Addr::new(10, 77, 0, 12);

    let seen = ns
        .run_inside(move || {
            block_on(async {
                let nl = Netlink::connect().unwrap();
                let before = nl.route_gateway(VIP, MAIN_TABLE).await.unwrap();
                nl.replace_route(VIP, gw1, MAIN_TABLE).await.unwrap();
                let first = nl.route_gateway(VIP, MAIN_TABLE).await.unwrap();
                nl.replace_route(VIP, gw2, MAIN_TABLE).await.unwrap();
                let second = nl.route_gateway(VIP, MAIN_TABLE).await.unwrap();
                (before, first, second)
            })
        })
        .unwrap();
    assert_eq!(seen, (None, Some(gw1), Some(gw2)));
    let shown = ns.ip(&["route", "show", "10.254.0.10/32"]).unwrap();
    assert!(shown.contains("via 10.77.0.12"), "{shown}");

    let (deleted, again, after) = ns
        .run_inside(|| {
            block_on(async {
                let nl = Netlink::connect().unwrap();
                let d = nl.delete_route(VIP, MAIN_TABLE).await.unwrap();
                let a = nl.delete_route(VIP, MAIN_TABLE).await.unwrap();
                (d, a, nl.route_gateway(VIP, MAIN_TABLE).await.unwrap())
            })
        })
        .unwrap();
    assert!(deleted && !again && after.is_none());
}

#[test]
fn errors_name_the_interface_and_what_to_do() {
    let Some(ns) = namespace("err") else { return };
    let err = ns
        .run_inside(|| {
            block_on(async {
                let nl = Netlink::connect().unwrap();
                nl.add_address("nosuch0", VIP, 32)
                    .await
                    .unwrap_err()
                    .to_string()
            })
        })
        .unwrap();
    assert_eq!(err, "no interface named nosuch0 on this host");
    // A gateway that is not on any connected network.
    let err = ns
        .run_inside(|| {
            block_on(async {
                let nl = Netlink::connect().unwrap();
                nl.replace_route(VIP, Ipv4Addr::new(192, 0, 2, 1), MAIN_TABLE)
                    .await
                    .unwrap_err()
                    .to_string()
            })
        })
        .unwrap();
    assert!(
        err.starts_with("replacing the route 10.254.0.10/32 via 192.0.2.1 in table 254:"),
        "{err}"
    );
}

//! A VPC in a box: a router namespace whose routing table plays the VPC
//! route table (the VIP /32 route points at the master), one namespace per
//! database host and one for the client, each linked to the router by its
//! own veth pair and subnet (10.77.<i>.0/24; host .1<i> behind router .1).
//! Everything is deleted when dropped.

use anyhow::Result;

use super::netns::Netns;

pub const VIP: &str = "10.254.0.10";

pub struct Vpc {
    pub router: Netns,
    pub client: Netns,
    /// (namespace, address) of each database host, db1 first.
    pub hosts: Vec<(Netns, String)>,
}

impl Vpc {
    pub fn build(db_hosts: usize) -> Result<Self> {
        let router = Netns::create("r")?;
        router.ip(&["link", "set", "lo", "up"])?;
        sysctl(&router, "net.ipv4.ip_forward=1")?;
        let mut hosts = Vec::new();
        for i in 1..=db_hosts {
            let ns = Netns::create(&format!("db{i}"))?;
            let ip = link(&router, &ns, i as u8, &format!("10.77.{i}.1{i}"))?;
            hosts.push((ns, ip));
        }
        let client = Netns::create("cl")?;
        link(&router, &client, 9, "10.77.9.2")?;
        Ok(Self {
            router,
            client,
            hosts,
        })
    }

    /// The router's route for the VIP, as `ip route` prints it.
    pub fn vip_route(&self) -> String {
        self.router
            .ip(&["route", "show", &format!("{VIP}/32")])
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// (namespace name, address) pairs for `ClusterSpec::hosts`.
    pub fn cluster_hosts(&self) -> Vec<(String, String)> {
        self.hosts
            .iter()
            .map(|(ns, ip)| (ns.name.clone(), ip.clone()))
            .collect()
    }
}

/// veth between the router and `host`: router 10.77.<net>.1/24, host `ip`/24
/// with a default route via the router. Returns the host's address.
fn link(router: &Netns, host: &Netns, net: u8, ip: &str) -> Result<String> {
    let (r_end, h_end) = (format!("r{net}"), format!("h{net}"));
    router.ip(&[
        "link", "add", &r_end, "type", "veth", "peer", "name", &h_end, "netns", &host.name,
    ])?;
    router.ip(&["addr", "add", &format!("10.77.{net}.1/24"), "dev", &r_end])?;
    router.ip(&["link", "set", &r_end, "up"])?;
    host.ip(&["addr", "add", &format!("{ip}/24"), "dev", &h_end])?;
    host.ip(&["link", "set", &h_end, "up"])?;
    host.ip(&["route", "add", "default", "via", &format!("10.77.{net}.1")])?;
    Ok(ip.to_string())
}

fn sysctl(ns: &Netns, setting: &str) -> Result<()> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.name, "sysctl", "-q", "-w", setting])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "sysctl {setting}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

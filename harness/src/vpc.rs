//! A VPC in a box: a router namespace whose routing table plays the VPC
//! route table (the VIP /32 route points at the master), one namespace per
//! database host and one for the client, each linked to the router by its
//! own veth pair and subnet (10.77.<i>.0/24; host .1<i> behind router .1).
//! Everything is deleted when dropped.

use anyhow::Result;

use super::netns::Netns;
use super::vpc_aws::AwsPlane;
use super::vpc_nlb::NlbPlane;

pub const VIP: &str = "10.254.0.10";

pub struct Vpc {
    /// The route tables in the emulator, when they are there (dropped
    /// first: its emulator runs in the router namespace).
    pub aws: Option<AwsPlane>,
    /// The NLB's target group and the DNS zone, when they are there.
    pub nlb: Option<NlbPlane>,
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
            aws: None,
            nlb: None,
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

    /// The node the router sends the VIP's packets to, if any.
    pub fn vip_node(&self) -> Option<String> {
        let route = self.vip_route();
        let words: Vec<&str> = route.split_whitespace().collect();
        let via = words.windows(2).find(|w| w[0] == "via").map(|w| w[1])?;
        let i = self.hosts.iter().position(|(_, ip)| ip == via)?;
        Some(format!("db{}", i + 1))
    }

    /// Starts the vipkeeper manager agent on the router with `config`,
    /// logging to `<dir>/<log_name>.log`.
    pub fn start_manager(
        &self,
        bin: &std::path::Path,
        config: &std::path::Path,
        dir: &std::path::Path,
        log_name: &str,
    ) -> super::agent::Agent {
        super::agent::Agent::start_in(bin, config, dir, Some(&self.router.name), log_name, &[])
    }

    /// Runs `bin` (vipkeeper) with `args` on the router, where the manager
    /// agent runs.
    pub fn run_on_router(
        &self,
        bin: &std::path::Path,
        args: &[&str],
    ) -> Result<std::process::Output> {
        Ok(std::process::Command::new("ip")
            .args(["netns", "exec", &self.router.name])
            .arg(bin)
            .args(args)
            .output()?)
    }

    /// Cuts database host `i` (0 for db1) off the network without a word:
    /// its link goes down and the router keeps sending to its last known
    /// MAC (a permanent neighbour entry), so every packet to it vanishes —
    /// no RST, no ICMP, as when a host or its network dies in a VPC. Its
    /// mysqld keeps running.
    pub fn black_hole(&self, i: usize) -> Result<()> {
        let (ns, ip) = &self.hosts[i];
        let (r_end, h_end) = (format!("r{}", i + 1), format!("h{}", i + 1));
        let link = ns.ip(&["-br", "link", "show", &h_end])?;
        let mac = link
            .split_whitespace()
            .nth(2)
            .ok_or_else(|| anyhow::anyhow!("no MAC address in {link:?}"))?
            .to_string();
        self.router.ip(&[
            "neigh",
            "replace",
            ip,
            "lladdr",
            &mac,
            "dev",
            &r_end,
            "nud",
            "permanent",
        ])?;
        ns.ip(&["link", "set", &h_end, "down"])?;
        Ok(())
    }

    /// Gives host `i` its network back (after `black_hole`).
    pub fn heal(&self, i: usize) -> Result<()> {
        let (ns, ip) = &self.hosts[i];
        let (r_end, h_end) = (format!("r{}", i + 1), format!("h{}", i + 1));
        ns.ip(&["link", "set", &h_end, "up"])?;
        // The route through the link went with it.
        let _ = ns.ip(&[
            "route",
            "replace",
            "default",
            "via",
            &format!("10.77.{}.1", i + 1),
        ]);
        self.router.ip(&["neigh", "del", ip, "dev", &r_end])?;
        Ok(())
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

/// A cluster in the VPC with the vipkeeper agents running: the manager on
/// the router (linux-route), a host agent on each DB host (local-address).
/// The VIP starts routed to db1. Dropping it stops everything.
pub struct VpcCluster {
    pub hosts: Vec<super::agent::Agent>,
    pub manager: super::agent::Agent,
    pub cluster: super::cluster::TestCluster,
    pub config: std::path::PathBuf,
    /// Last: the namespaces go after the servers and agents in them.
    pub vpc: Vpc,
}

/// The same without the manager: the host agents hold the VIP on `lo`, and
/// something else (MHA, a test) moves the route.
pub struct VpcHosts {
    pub hosts: Vec<super::agent::Agent>,
    pub cluster: super::cluster::TestCluster,
    pub config: std::path::PathBuf,
    pub vpc: Vpc,
}

/// Where the VPC's route tables live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTables {
    /// The router's own kernel table (the `linux-route` backend).
    Router,
    /// The moto EC2 emulator, followed by the router (`aws-route-table`).
    Emulator,
    /// An NLB's target group in the emulator, which the router follows
    /// (`aws-nlb`), and a Route 53 record naming the master (`aws-route53`).
    Nlb,
    /// The same, for an Aurora cluster in the emulator whose instances the
    /// servers stand in for: the manager follows the writer.
    Aurora,
}

impl RouteTables {
    /// A short name, for benchmark labels.
    pub fn slug(self) -> &'static str {
        match self {
            RouteTables::Router => "router",
            RouteTables::Emulator => "emulator",
            RouteTables::Nlb => "nlb",
            RouteTables::Aurora => "aurora",
        }
    }
}

impl VpcCluster {
    pub async fn start(
        flavor: super::flavor::Flavor,
        bin: &std::path::Path,
        name: &str,
    ) -> Result<Self> {
        Self::start_with(flavor, bin, name, RouteTables::Router).await
    }

    pub async fn start_with(
        flavor: super::flavor::Flavor,
        bin: &std::path::Path,
        name: &str,
        tables: RouteTables,
    ) -> Result<Self> {
        let VpcHosts {
            hosts,
            cluster,
            config,
            vpc,
        } = VpcHosts::start(flavor, bin, name, tables).await?;
        let manager = vpc.start_manager(bin, &config, &cluster.dir, "manager");
        manager.wait_for_log(
            "healthy: db1 is the master",
            std::time::Duration::from_secs(40),
        );
        Ok(Self {
            hosts,
            manager,
            cluster,
            config,
            vpc,
        })
    }
}

/// What a caller changes in a VPC cluster.
#[derive(Debug, Clone, Default)]
pub struct VpcOptions {
    /// Asynchronous replication instead of semi-synchronous.
    pub async_replication: bool,
    /// Salvage configured with this token: each host agent also serves its
    /// node's binlog and relay log at its address, `HOST_AGENT_PORT`.
    pub salvage_token: Option<String>,
}

/// The port of each host agent's API (every host has its own address).
pub const HOST_AGENT_PORT: u16 = 7707;

impl VpcHosts {
    /// The VPC, the cluster (semi-synchronous, db1 the master, the VIP
    /// routed to it) and a host agent on each database host.
    pub async fn start(
        flavor: super::flavor::Flavor,
        bin: &std::path::Path,
        name: &str,
        tables: RouteTables,
    ) -> Result<Self> {
        Self::start_with(flavor, bin, name, tables, &VpcOptions::default()).await
    }

    /// The same, changed as `opts` says.
    pub async fn start_with(
        flavor: super::flavor::Flavor,
        bin: &std::path::Path,
        name: &str,
        tables: RouteTables,
        opts: &VpcOptions,
    ) -> Result<Self> {
        let mut vpc = Vpc::build(3)?;
        let mut spec = super::cluster::ClusterSpec::new(flavor);
        spec.semi_sync = !opts.async_replication;
        spec.hosts = Some(vpc.cluster_hosts());
        let cluster = super::cluster::TestCluster::start(spec).await?;
        cluster
            .create_writer_table(std::time::Duration::from_secs(40))
            .await?;
        let mut extras = match tables {
            RouteTables::Router => {
                vpc.router
                    .ip(&["route", "add", &format!("{VIP}/32"), "via", &vpc.hosts[0].1])?;
                super::cluster::ConfigExtras {
                    cluster_toml: format!("[cluster.vip]\naddress = \"{VIP}\"\nbackends = [\"linux-route\", \"local-address\"]\n"),
                    ..Default::default()
                }
            }
            RouteTables::Emulator => {
                let ips: Vec<String> = vpc.hosts.iter().map(|(_, ip)| ip.clone()).collect();
                let plane = AwsPlane::start(&vpc.router, &ips)?;
                let extras = super::cluster::ConfigExtras {
                    cluster_toml: plane.vip_toml(),
                    node_toml: plane.node_toml(),
                    ..Default::default()
                };
                vpc.aws = Some(plane);
                extras
            }
            RouteTables::Nlb | RouteTables::Aurora => {
                let ips: Vec<String> = vpc.hosts.iter().map(|(_, ip)| ip.clone()).collect();
                let plane = NlbPlane::start(&vpc.router, &ips, true)?;
                let mut cluster_toml = plane.vip_toml();
                if tables == RouteTables::Aurora {
                    let readers = format!(
                        "record_name = \"{}\"\nreader_record_name = \"{}\"\n",
                        super::nlb_dns::RECORD,
                        super::nlb_dns::READERS
                    );
                    cluster_toml = format!(
                        "{}\n{}",
                        plane.seed_aurora(ips.len())?,
                        cluster_toml.replace(
                            &format!("record_name = \"{}\"\n", super::nlb_dns::RECORD),
                            &readers
                        )
                    );
                }
                let extras = super::cluster::ConfigExtras {
                    cluster_toml,
                    ..Default::default()
                };
                vpc.nlb = Some(plane);
                extras
            }
        };
        if let Some(token) = &opts.salvage_token {
            salvage(&cluster, &vpc, token, &mut extras)?;
        }
        let config = cluster.write_config_with(name, &extras)?;
        let hosts: Vec<_> = (1..=3)
            .map(|i| {
                let node = format!("db{i}");
                let listen = format!("{}:{HOST_AGENT_PORT}", vpc.hosts[i - 1].1);
                let mut args = vec!["--local-node", &node];
                if opts.salvage_token.is_some() {
                    args.extend(["--listen", &listen]);
                }
                super::agent::Agent::start_in(
                    bin,
                    &config,
                    &cluster.dir,
                    Some(&vpc.hosts[i - 1].0.name),
                    &format!("host{i}"),
                    &args,
                )
            })
            .collect();
        hosts[0].wait_for_log(
            "db1 is the master: VIP 10.254.0.10 held on lo",
            std::time::Duration::from_secs(40),
        );
        Ok(Self {
            hosts,
            cluster,
            config,
            vpc,
        })
    }
}

/// Salvage with `token`: each node's host agent at its address.
fn salvage(
    cluster: &super::cluster::TestCluster,
    vpc: &Vpc,
    token: &str,
    extras: &mut super::cluster::ConfigExtras,
) -> Result<()> {
    extras.cluster_toml.push_str(&cluster.salvage_toml(token)?);
    for (i, (_, ip)) in vpc.hosts.iter().enumerate() {
        let node = format!("db{}", i + 1);
        let toml = format!(
            "host_agent = \"{ip}:{HOST_AGENT_PORT}\"\n{}",
            cluster.index_paths_toml(&node)
        );
        extras.node_toml.entry(node).or_default().push_str(&toml);
    }
    Ok(())
}

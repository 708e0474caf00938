//! The hooks without a vipkeeper config: the VIP, its backend and each
//! host's network interface given as flags on MHA's script line, e.g.
//!
//! ```text
//! master_ip_failover_script=/usr/share/vipkeeper/hooks/master_ip_failover --vip 10.254.0.10
//!   --route-table rtb-0a1 --route-table rtb-0b2 --eni 10.0.1.10=eni-0aa --eni 10.0.2.10=eni-0bb
//! ```
//!
//! The cluster the hook works on is made from them and from the servers MHA
//! names in its call: one node per server (named by MHA's host name), with
//! MHA's own account for the SQL the online change runs.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::args::{Call, Server};
use crate::config::{
    AwsRouteTableConfig, BackendConfig, ClusterConfig, Credentials, LinuxRouteConfig, NodeConfig,
    Secret, SecretSource, Users, VipConfig,
};

/// The backends the flags can describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagBackend {
    AwsRouteTable,
    LinuxRoute,
}

/// What the flags say, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VipFlags {
    pub address: Option<Ipv4Addr>,
    /// `None`: aws-route-table when any `--eni` or `--route-table` is given.
    pub backend: Option<FlagBackend>,
    /// `HOST=eni-…`, HOST being MHA's host name or address of a server.
    pub enis: Vec<String>,
    pub route_tables: Vec<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// linux-route's routing table (`None`: main).
    pub table: Option<u32>,
}

/// The cluster MHA's call and the flags describe. `Err` names the flag to
/// mend.
pub fn cluster_from(flags: &VipFlags, call: &Call) -> Result<ClusterConfig, String> {
    let address = flags
        .address
        .ok_or("--vip ADDRESS is needed when no vipkeeper config is used")?;
    let enis = eni_map(&flags.enis)?;
    for t in &flags.route_tables {
        if !t.starts_with("rtb-") {
            return Err(format!(
                "--route-table {t}: a route table id starts with rtb-"
            ));
        }
    }
    let backend = match flags.backend {
        Some(b) => b,
        None if !enis.is_empty() || !flags.route_tables.is_empty() => FlagBackend::AwsRouteTable,
        None => {
            return Err(
                "--backend aws-route-table|linux-route is needed (or --eni HOST=eni-… for route tables)"
                    .into(),
            )
        }
    };
    let mut nodes = Vec::new();
    for (role, server) in [("original master", &call.orig), ("new master", &call.new)] {
        let Some(node) = node_of(server, &enis) else {
            continue;
        };
        if backend == FlagBackend::AwsRouteTable && node.eni_id.is_none() {
            return Err(format!(
                "no --eni for {} (MHA's {role}): give --eni {}=eni-…",
                node.name, node.host
            ));
        }
        if !nodes
            .iter()
            .any(|n: &NodeConfig| n.host == node.host && n.port == node.port)
        {
            nodes.push(node);
        }
    }
    if nodes.is_empty() {
        return Err("MHA named no server (--orig_master_host / --new_master_host)".into());
    }
    let backend = match backend {
        FlagBackend::AwsRouteTable => BackendConfig::AwsRouteTable(AwsRouteTableConfig {
            route_tables: flags.route_tables.clone(),
            vpc_id: None,
            region: flags.region.clone(),
            endpoint_url: flags.endpoint_url.clone(),
            deadline: Duration::from_secs(5),
            concurrency: None,
        }),
        FlagBackend::LinuxRoute => {
            BackendConfig::LinuxRoute(LinuxRouteConfig { table: flags.table })
        }
    };
    Ok(ClusterConfig {
        name: "mha".into(),
        observe_only: false,
        users: mha_account(call),
        timing: Default::default(),
        failover: Default::default(),
        switchover: Default::default(),
        vip: Some(VipConfig {
            address,
            backends: vec![backend],
            retry_for: crate::config::vip::RETRY_FOR,
        }),
        tls: Default::default(),
        aurora: None,
        salvage: None,
        nodes,
    })
}

/// `HOST=eni-…` pairs, checked.
fn eni_map(given: &[String]) -> Result<Vec<(String, String)>, String> {
    given
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((host, eni)) if !host.is_empty() && eni.starts_with("eni-") => {
                Ok((host.to_string(), eni.to_string()))
            }
            _ => Err(format!(
                "--eni {pair}: give HOST=eni-…, HOST being the server's host name or address in MHA's config"
            )),
        })
        .collect()
}

/// The node for one server MHA named (by its address when it gave one,
/// which the routes point at), with its interface.
fn node_of(server: &Server, enis: &[(String, String)]) -> Option<NodeConfig> {
    let host = server.ip.clone().or_else(|| server.host.clone())?;
    let name = server.host.clone().unwrap_or_else(|| host.clone());
    let eni_id = enis
        .iter()
        .find(|(h, _)| Some(h) == server.host.as_ref() || Some(h) == server.ip.as_ref())
        .map(|(_, e)| e.clone());
    Some(NodeConfig {
        name,
        host,
        port: server.port.unwrap_or(3306),
        instance_id: None,
        eni_id,
        az: None,
        ipv4: None,
        host_agent: None,
        binlog_index: None,
        relay_log_index: None,
    })
}

/// MHA's own account (the online change's `--orig_master_user` and
/// password) for the SQL the hook runs; empty for calls that run none.
fn mha_account(call: &Call) -> Users {
    let creds = Credentials {
        user: call.orig.user.clone().unwrap_or_default(),
        password: call
            .orig
            .password
            .clone()
            .unwrap_or_else(|| Secret::new("")),
        source: SecretSource::Inline,
    };
    Users {
        monitor: creds.clone(),
        admin: creds.clone(),
        replication: creds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mha::parse;

    fn call(line: &str) -> Call {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args).unwrap()
    }

    fn flags(enis: &[&str]) -> VipFlags {
        VipFlags {
            address: Some("10.254.0.10".parse().unwrap()),
            enis: enis.iter().map(|s| s.to_string()).collect(),
            route_tables: vec!["rtb-1".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_start_gives_both_masters_with_their_interfaces() {
        let c = call(
            "--command=start --orig_master_host=db1.example --orig_master_ip=10.0.1.10 --orig_master_port=3306 \
             --new_master_host=db2.example --new_master_ip=10.0.2.10 --new_master_port=3307",
        );
        let cluster = cluster_from(&flags(&["db1.example=eni-1", "10.0.2.10=eni-2"]), &c).unwrap();
        let got: Vec<_> = cluster
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.as_str(),
                    n.host.as_str(),
                    n.port,
                    n.eni_id.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("db1.example", "10.0.1.10", 3306, Some("eni-1")),
                ("db2.example", "10.0.2.10", 3307, Some("eni-2"))
            ]
        );
        let vip = cluster.vip.unwrap();
        assert!(
            matches!(&vip.backends[..], [BackendConfig::AwsRouteTable(t)] if t.route_tables == ["rtb-1"])
        );
        // MHA's found node is the one the hook works on.
        assert_eq!(
            crate::mha::find(
                &cluster_from(&flags(&["db1.example=eni-1", "10.0.2.10=eni-2"]), &c).unwrap(),
                &c.new,
                "new master"
            )
            .unwrap()
            .name,
            "db2.example"
        );
    }

    #[test]
    fn the_flags_that_are_wrong_are_named() {
        let c = call("--command=status --orig_master_host=db1 --orig_master_ip=10.0.1.10 --orig_master_port=3306");
        let e = cluster_from(&flags(&[]), &c).unwrap_err();
        assert!(
            e.contains("no --eni for db1") && e.contains("--eni 10.0.1.10=eni-"),
            "{e}"
        );
        let e = cluster_from(&flags(&["db1:eni-1"]), &c).unwrap_err();
        assert!(e.starts_with("--eni db1:eni-1: give HOST=eni-"), "{e}");
        let mut f = flags(&["db1=eni-1"]);
        f.route_tables = vec!["vpc-1".into()];
        assert!(cluster_from(&f, &c)
            .unwrap_err()
            .contains("--route-table vpc-1"));
        let none = VipFlags {
            address: f.address,
            ..Default::default()
        };
        assert!(cluster_from(&none, &c).unwrap_err().contains("--backend"));
        let router = VipFlags {
            backend: Some(FlagBackend::LinuxRoute),
            ..none
        };
        let cluster = cluster_from(&router, &c).unwrap();
        assert!(matches!(
            &cluster.vip.unwrap().backends[..],
            [BackendConfig::LinuxRoute(LinuxRouteConfig { table: None })]
        ));
    }

    #[test]
    fn the_online_change_runs_its_sql_as_mha() {
        let args: Vec<String> = [
            "--command=stop",
            "--orig_master_host=10.0.1.10",
            "--orig_master_port=3306",
            "--orig_master_user=mha",
            "--orig_master_password=Pw-1",
            "--new_master_host=10.0.2.10",
            "--new_master_port=3306",
        ]
        .map(String::from)
        .to_vec();
        let c = parse(&args).unwrap();
        let cluster = cluster_from(
            &VipFlags {
                backend: Some(FlagBackend::LinuxRoute),
                ..flags(&[])
            },
            &c,
        )
        .unwrap();
        assert_eq!(cluster.users.admin.user, "mha");
        assert_eq!(cluster.users.admin.password.expose(), "Pw-1");
    }
}

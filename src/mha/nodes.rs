//! The vipkeeper node MHA means: MHA names servers by host name, address
//! and port; vipkeeper's config by name and host.

use super::args::Server;
use crate::config::{ClusterConfig, NodeConfig};

/// The node whose host is MHA's host or address, on MHA's port (any port
/// when MHA gives none). `Err` says what was looked for and what exists.
pub fn find<'a>(
    cluster: &'a ClusterConfig,
    server: &Server,
    role: &str,
) -> Result<&'a NodeConfig, String> {
    let names: Vec<&str> = [server.host.as_deref(), server.ip.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if names.is_empty() {
        return Err(format!("MHA gave no host or address for the {role}"));
    }
    let matches: Vec<&NodeConfig> = cluster
        .nodes
        .iter()
        .filter(|n| names.contains(&n.host.as_str()) || names.contains(&n.name.as_str()))
        .filter(|n| server.port.is_none_or(|p| p == n.port))
        .collect();
    match matches[..] {
        [one] => Ok(one),
        [] => Err(format!(
            "no node of cluster {} is {} (port {}): the nodes are {}",
            cluster.name,
            names.join(" / "),
            server
                .port
                .map(|p| p.to_string())
                .unwrap_or_else(|| "any".into()),
            cluster
                .nodes
                .iter()
                .map(|n| format!("{} {}:{}", n.name, n.host, n.port))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => Err(format!(
            "{} matches several nodes of cluster {}: give MHA's port",
            names.join(" / "),
            cluster.name
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_host_by_address_by_name_and_port() {
        let mut c = crate::testkit::cluster_config(3, false);
        c.nodes[1].host = "10.0.2.10".into();
        let by_ip = Server {
            host: Some("db2.example".into()),
            ip: Some("10.0.2.10".into()),
            port: Some(c.nodes[1].port),
            ..Default::default()
        };
        assert_eq!(find(&c, &by_ip, "new master").unwrap().name, "db2");
        let by_name = Server {
            host: Some("db3".into()),
            ..Default::default()
        };
        assert_eq!(find(&c, &by_name, "new master").unwrap().name, "db3");
        let wrong_port = Server {
            ip: Some("10.0.2.10".into()),
            port: Some(1),
            ..Default::default()
        };
        let e = find(&c, &wrong_port, "new master").unwrap_err();
        assert!(
            e.starts_with("no node of cluster main is 10.0.2.10 (port 1)"),
            "{e}"
        );
        assert!(find(&c, &Server::default(), "old master").is_err());
    }
}

//! Semantic checks of the raw config and its conversion to the model. Every
//! check reports at the place of the offending value and goes on, so one run
//! shows every problem.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::fields::{command, duration};
use super::model::*;
use super::problem::Problems;
use super::raw::*;

type S<T> = Spanned<T>;

pub fn validate(path: &Path, doc: RawDocument, p: &mut Problems) -> Option<Config> {
    let agent = agent(&doc.agent, p);
    let coordination = doc
        .coordination
        .as_ref()
        .map(|c| super::coordination::validate(path, c, p));
    let mut clusters = Vec::new();
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    for entry in doc.clusters {
        if let Some(raw) = &entry.cluster {
            let name = raw.name.get_ref();
            if let Some(first) = seen.get(name) {
                let line = p.location(first.clone()).line;
                p.error(
                    Some(raw.name.span()),
                    format!("duplicate cluster name `{name}` (first defined at line {line})"),
                    "give every cluster its own name".to_string(),
                );
            } else {
                seen.insert(name.clone(), raw.name.span());
            }
        }
        if let Some(c) = cluster(path, entry, p) {
            clusters.push(c);
        }
    }
    Some(Config {
        path: path.to_path_buf(),
        agent: agent?,
        coordination: match coordination {
            Some(c) => Some(c?),
            None => None,
        },
        clusters,
    })
}

fn agent(raw: &RawAgent, p: &mut Problems) -> Option<AgentConfig> {
    let state_dir = match &raw.state_dir {
        None => PathBuf::from(DEFAULT_STATE_DIR),
        Some(dir) if !dir.get_ref().starts_with('/') => {
            p.error(
                Some(dir.span()),
                format!("state_dir `{}` is not an absolute path", dir.get_ref()),
                "use an absolute path such as /var/lib/vipkeeper".to_string(),
            );
            return None;
        }
        Some(dir) => PathBuf::from(dir.get_ref()),
    };
    let notify = match &raw.notify {
        Some(cmd) => Some(command(cmd, "agent.notify", p)?),
        None => None,
    };
    let notify_timeout = duration(
        &raw.notify_timeout,
        Duration::from_secs(10),
        "agent.notify_timeout",
        p,
    )?;
    let listen = match raw.listen.as_ref() {
        None => DEFAULT_LISTEN.parse().ok(),
        Some(l) if l.get_ref().is_empty() => None,
        Some(l) => match l.get_ref().parse::<std::net::SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                p.error(
                    Some(l.span()),
                    format!("agent.listen `{}` is not an address and port", l.get_ref()),
                    format!("write it like \"{DEFAULT_LISTEN}\", or \"\" to turn the HTTP API off"),
                );
                return None;
            }
        },
    };
    Some(AgentConfig {
        state_dir,
        notify,
        notify_timeout,
        listen,
    })
}

fn cluster(path: &Path, entry: RawClusterEntry, p: &mut Problems) -> Option<ClusterConfig> {
    let is_aurora = entry.cluster.as_ref().is_some_and(|c| c.aurora.is_some());
    let nodes = nodes(&entry, is_aurora, p);
    let users = super::users::users(path, &entry.users, is_aurora, p);
    let raw = entry.cluster?;
    let aurora = raw.aurora.as_ref().map(|a| super::aurora::validate(a, p));
    check_identifier(&raw.name, "cluster name", p);
    let timing = timing(&raw.timing, p);
    let failover = failover(&raw.failover, &entry.nodes, p);
    let switchover = switchover(&raw.switchover, p);
    let vip = raw
        .vip
        .as_ref()
        .and_then(|v| super::vip::validate(v, &entry.nodes, p));
    let tls = super::tls::validate(raw.tls.as_ref(), &entry.nodes, p);
    let salvage = raw.salvage.as_ref().map(|s| super::salvage::validate(s, p));
    let observe_only = raw.observe_only.as_ref().is_some_and(|o| {
        if *o.get_ref() {
            p.warning(
                Some(o.span()),
                format!(
                    "cluster {} is observe-only: the agent fails over, fences and moves nothing",
                    raw.name.get_ref()
                ),
                "remove observe_only once no other manager (MHA, ...) runs for this cluster"
                    .to_string(),
            );
        }
        *o.get_ref()
    });
    Some(ClusterConfig {
        name: raw.name.into_inner(),
        observe_only,
        users: users?,
        timing: timing?,
        failover: failover?,
        switchover: switchover?,
        vip,
        tls: tls?,
        aurora: match aurora {
            Some(a) => Some(a?),
            None => None,
        },
        salvage: match salvage {
            Some(s) => Some(s?),
            None => None,
        },
        nodes,
    })
}

/// An Aurora cluster may list none: the RDS API lists its instances.
fn nodes(entry: &RawClusterEntry, is_aurora: bool, p: &mut Problems) -> Vec<NodeConfig> {
    if entry.nodes.is_empty() && is_aurora {
        return Vec::new();
    }
    if entry.nodes.is_empty() {
        p.error(
            Some(entry.span.clone()),
            "this cluster has no nodes",
            "add a [[cluster.node]] table for each server".to_string(),
        );
    } else if entry.nodes.len() == 1 && entry.bad_nodes == 0 {
        p.warning(
            Some(entry.nodes[0].span()),
            "this cluster has a single node: there is no replica to fail over to",
            "add the replicas as [[cluster.node]] tables".to_string(),
        );
    }
    let mut names: HashMap<&str, Range<usize>> = HashMap::new();
    let mut addresses: HashMap<(String, u16), Range<usize>> = HashMap::new();
    let mut out = Vec::new();
    for raw in &entry.nodes {
        let raw = raw.get_ref();
        let name = raw.name.get_ref().as_str();
        let mut ok = check_identifier(&raw.name, "node name", p);
        if let Some(first) = names.get(name) {
            let line = p.location(first.clone()).line;
            p.error(
                Some(raw.name.span()),
                format!("duplicate node name `{name}` (first defined at line {line})"),
                "give every node of a cluster its own name".to_string(),
            );
            ok = false;
        } else {
            names.insert(name, raw.name.span());
        }
        let host = raw.host.get_ref().trim();
        if !valid_host(host) {
            p.error(
                Some(raw.host.span()),
                format!(
                    "node `{name}`: host `{}` is not a host name or IP address",
                    host.escape_debug().to_string().chars().take(80).collect::<String>()
                ),
                "use the address the manager and the replicas reach it at: an IPv4 or IPv6 address, or a DNS name of letters, digits, '-' and '.'".to_string(),
            );
            ok = false;
        }
        let port = match &raw.port {
            None => Some(DEFAULT_PORT),
            Some(port) => match u16::try_from(*port.get_ref()) {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    p.error(
                        Some(port.span()),
                        format!("node `{name}`: port {} is out of range", port.get_ref()),
                        "use a TCP port from 1 to 65535".to_string(),
                    );
                    None
                }
            },
        };
        if let Some(port) = port {
            let key = (host.to_string(), port);
            if let Some(first) = addresses.get(&key) {
                let line = p.location(first.clone()).line;
                p.error(
                    Some(raw.host.span()),
                    format!(
                        "node `{name}`: {host}:{port} is already used by the node at line {line}"
                    ),
                    "each node must be a different server".to_string(),
                );
                ok = false;
            } else {
                addresses.insert(key, raw.host.span());
            }
        }
        let instance_id = aws_id(&raw.instance_id, "i-", "instance_id", name, p);
        let eni_id = aws_id(&raw.eni_id, "eni-", "eni_id", name, p);
        let host_agent = raw.host_agent.as_ref().map(|h| h.get_ref().clone());
        let mut index = |field: &str, value: &Option<S<String>>, example: &str| {
            let v = value.as_ref()?;
            if !std::path::Path::new(v.get_ref()).is_absolute() {
                p.error(
                    Some(v.span()),
                    format!(
                        "node `{name}`: {field} `{}` is not an absolute path",
                        v.get_ref()
                    ),
                    format!(
                        "give the full path of the index file as this host sees it, e.g. {example}"
                    ),
                );
                ok = false;
            }
            Some(std::path::PathBuf::from(v.get_ref()))
        };
        let binlog_index = index(
            "binlog_index",
            &raw.binlog_index,
            "/var/lib/mysql/binlog.index",
        );
        let relay_log_index = index(
            "relay_log_index",
            &raw.relay_log_index,
            "/var/lib/mysql/relay-bin.index",
        );
        if let Some(h) = &raw.host_agent {
            let port_ok = h.get_ref().rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !port_ok {
                p.error(
                    Some(h.span()),
                    format!(
                        "node `{name}`: host_agent `{}` is not host:port",
                        h.get_ref()
                    ),
                    "give the address the node's host agent listens on, e.g. \"10.0.1.5:9107\""
                        .to_string(),
                );
                ok = false;
            }
        }
        if let (true, Some(port), Ok(instance_id), Ok(eni_id)) = (ok, port, instance_id, eni_id) {
            out.push(NodeConfig {
                name: name.to_string(),
                host: host.to_string(),
                port,
                instance_id,
                eni_id,
                az: raw.az.as_ref().map(|a| a.get_ref().clone()),
                ipv4: None,
                host_agent,
                binlog_index,
                relay_log_index,
            })
        }
    }
    out
}

/// An optional AWS id that must start with `prefix`. `Err` when malformed.
fn aws_id(
    raw: &Option<S<String>>,
    prefix: &str,
    key: &str,
    node: &str,
    p: &mut Problems,
) -> Result<Option<String>, ()> {
    let Some(id) = raw else { return Ok(None) };
    let value = id.get_ref();
    let rest = value.strip_prefix(prefix).unwrap_or("");
    if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_hexdigit()) {
        p.error(
            Some(id.span()),
            format!("node `{node}`: {key} `{value}` is not an AWS id"),
            format!("expected {prefix} followed by hex digits, e.g. {prefix}0abc1234def567890"),
        );
        return Err(());
    }
    Ok(Some(value.clone()))
}

/// Names become file names in the state directory and lock names on the
/// servers: no path tricks (`.`, `..`), nothing but plain characters.
fn check_identifier(name: &S<String>, what: &str, p: &mut Problems) -> bool {
    let n = name.get_ref();
    let ok = n.len() <= 64
        && n.starts_with(|c: char| c.is_ascii_alphanumeric())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        p.error(
            Some(name.span()),
            format!(
                "{what} `{}` is not allowed",
                n.escape_debug()
                    .to_string()
                    .chars()
                    .take(80)
                    .collect::<String>()
            ),
            "use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
                .to_string(),
        );
    }
    ok
}

/// An IP literal, or a DNS name (RFC 1123 labels): never an option
/// (`-x`), a shell fragment or a control character.
pub fn valid_host(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= 253
        && host.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn timing(raw: &RawTiming, p: &mut Problems) -> Option<Timing> {
    let d = Timing::default();
    let probe_interval = duration(
        &raw.probe_interval,
        d.probe_interval,
        "timing.probe_interval",
        p,
    );
    let connect_timeout = duration(
        &raw.connect_timeout,
        d.connect_timeout,
        "timing.connect_timeout",
        p,
    );
    let query_timeout = duration(
        &raw.query_timeout,
        d.query_timeout,
        "timing.query_timeout",
        p,
    );
    let unreachable_after = match &raw.unreachable_after {
        None => Some(d.unreachable_after),
        Some(n) => match u32::try_from(*n.get_ref()) {
            Ok(v) if (1..=100).contains(&v) => Some(v),
            _ => {
                p.error(
                    Some(n.span()),
                    format!("timing.unreachable_after = {} is out of range", n.get_ref()),
                    "use a count of consecutive misses from 1 to 100 (default 3)".to_string(),
                );
                None
            }
        },
    };
    Some(Timing {
        probe_interval: probe_interval?,
        connect_timeout: connect_timeout?,
        query_timeout: query_timeout?,
        unreachable_after: unreachable_after?,
    })
}

fn failover(raw: &RawFailover, nodes: &[S<RawNode>], p: &mut Problems) -> Option<FailoverPolicy> {
    let d = FailoverPolicy::default();
    let mut ok = true;
    for (list, key) in [
        (&raw.prefer, "prefer"),
        (&raw.never_promote, "never_promote"),
    ] {
        for name in list {
            if !nodes.is_empty()
                && !nodes
                    .iter()
                    .any(|n| n.get_ref().name.get_ref() == name.get_ref())
            {
                p.error(
                    Some(name.span()),
                    format!(
                        "failover.{key} names `{}`, which is not a node of this cluster",
                        name.get_ref()
                    ),
                    "use a name from this cluster's [[cluster.node]] tables".to_string(),
                );
                ok = false;
            }
        }
    }
    for name in &raw.prefer {
        if raw
            .never_promote
            .iter()
            .any(|n| n.get_ref() == name.get_ref())
        {
            p.error(
                Some(name.span()),
                format!(
                    "node `{}` is both preferred and never to be promoted",
                    name.get_ref()
                ),
                "remove it from one of failover.prefer and failover.never_promote".to_string(),
            );
            ok = false;
        }
    }
    let max_lag = duration(&raw.max_lag, d.max_lag, "failover.max_lag", p);
    let block_period = duration(
        &raw.block_period,
        d.block_period,
        "failover.block_period",
        p,
    );
    let apply_timeout = duration(
        &raw.apply_timeout,
        d.apply_timeout,
        "failover.apply_timeout",
        p,
    );
    let statement_timeout = duration(
        &raw.statement_timeout,
        d.statement_timeout,
        "failover.statement_timeout",
        p,
    );
    let names = |list: &Vec<S<String>>| list.iter().map(|n| n.get_ref().clone()).collect();
    if !ok {
        return None;
    }
    Some(FailoverPolicy {
        prefer: names(&raw.prefer),
        never_promote: names(&raw.never_promote),
        max_lag: max_lag?,
        block_period: block_period?,
        apply_timeout: apply_timeout?,
        statement_timeout: statement_timeout?,
    })
}

fn switchover(raw: &RawSwitchover, p: &mut Problems) -> Option<SwitchoverPolicy> {
    let d = SwitchoverPolicy::default();
    let max_lag = duration(&raw.max_lag, d.max_lag, "switchover.max_lag", p);
    let max_transaction_age = duration(
        &raw.max_transaction_age,
        d.max_transaction_age,
        "switchover.max_transaction_age",
        p,
    );
    let kill_grace = duration(&raw.kill_grace, d.kill_grace, "switchover.kill_grace", p);
    let deadline = duration(&raw.deadline, d.deadline, "switchover.deadline", p);
    Some(SwitchoverPolicy {
        max_lag: max_lag?,
        max_transaction_age: max_transaction_age?,
        kill_grace: kill_grace?,
        deadline: deadline?,
    })
}

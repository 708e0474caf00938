//! Semantic checks of the raw config and its conversion to the model. Every
//! check reports at the place of the offending value and goes on, so one run
//! shows every problem.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::load::{RawClusterEntry, RawDocument};
use super::model::*;
use super::problem::Problems;
use super::raw::*;
use super::secret::{self, Secret, SecretSource};

type S<T> = Spanned<T>;

pub fn validate(path: &Path, doc: RawDocument, p: &mut Problems) -> Option<Config> {
    let agent = agent(&doc.agent, p);
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
    Some(AgentConfig {
        state_dir,
        notify,
        notify_timeout,
    })
}

fn cluster(path: &Path, entry: RawClusterEntry, p: &mut Problems) -> Option<ClusterConfig> {
    let nodes = nodes(&entry, p);
    let users = users(path, &entry.users, p);
    let raw = entry.cluster?;
    check_identifier(&raw.name, "cluster name", p);
    let timing = timing(&raw.timing, p);
    let failover = failover(&raw.failover, &entry.nodes, p);
    let switchover = switchover(&raw.switchover, p);
    let vip = raw.vip.as_ref().and_then(|v| vip(v, &entry.nodes, p));
    Some(ClusterConfig {
        name: raw.name.into_inner(),
        users: users?,
        timing: timing?,
        failover: failover?,
        switchover: switchover?,
        vip,
        nodes,
    })
}

fn nodes(entry: &RawClusterEntry, p: &mut Problems) -> Vec<NodeConfig> {
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
        if let (true, Some(port), Ok(instance_id), Ok(eni_id)) = (ok, port, instance_id, eni_id) {
            out.push(NodeConfig {
                name: name.to_string(),
                host: host.to_string(),
                port,
                instance_id,
                eni_id,
                az: raw.az.as_ref().map(|a| a.get_ref().clone()),
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

/// A command: its words (a string is split by shell rules, never run by a
/// shell), with a program first.
fn command(raw: &S<super::raw::RawCommand>, key: &str, p: &mut Problems) -> Option<Command> {
    use super::raw::RawCommand;
    let argv = match raw.get_ref() {
        RawCommand::Argv(a) => a.clone(),
        RawCommand::Line(line) => match shell_words::split(line) {
            Ok(words) => words,
            Err(e) => {
                p.error(
                    Some(raw.span()),
                    format!("{key}: {e} (an unclosed quote?)"),
                    "close the quote, or write the command as an array: [\"/path/to/program\", \"an argument\"]".to_string(),
                );
                return None;
            }
        },
    };
    if argv.first().is_none_or(|a| a.trim().is_empty()) {
        p.error(
            Some(raw.span()),
            format!("{key} is empty"),
            "name the program to run, or remove the key".to_string(),
        );
        return None;
    }
    Some(Command { argv })
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

fn users(path: &Path, raw: &RawUsers, p: &mut Problems) -> Option<Users> {
    let mut one = |role, c: &Option<S<RawCredentials>>| {
        c.as_ref().and_then(|c| credentials(path, role, c, p))
    };
    let monitor = one("monitor", &raw.monitor);
    let admin = one("admin", &raw.admin);
    let replication = one("replication", &raw.replication);
    Some(Users {
        monitor: monitor?,
        admin: admin?,
        replication: replication?,
    })
}

fn credentials(
    path: &Path,
    role: &str,
    raw: &S<RawCredentials>,
    p: &mut Problems,
) -> Option<Credentials> {
    let c = raw.get_ref();
    let user = c.user.get_ref();
    if user.is_empty() {
        p.error(
            Some(c.user.span()),
            format!("users.{role}: user is empty"),
            "name the MySQL account vipkeeper logs in as".to_string(),
        );
    }
    let given: Vec<&str> = [
        c.password.as_ref().map(|_| "password"),
        c.password_file.as_ref().map(|_| "password_file"),
        c.password_env.as_ref().map(|_| "password_env"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() != 1 {
        p.error(
            Some(raw.span()),
            format!(
                "users.{role}: {}",
                if given.is_empty() {
                    "no password given".to_string()
                } else {
                    format!("several passwords given ({})", given.join(", "))
                }
            ),
            "give exactly one of password_file (recommended), password_env or password".to_string(),
        );
        return None;
    }
    let (password, source) = if let Some(inline) = &c.password {
        if let Some(mode) = secret::readable_by_others(path) {
            p.warning(
                Some(inline.span()),
                format!(
                    "users.{role}: inline password in a config file readable by group/others (mode {mode:04o})"
                ),
                format!("chmod 600 {} or use password_file", path.display()),
            );
        }
        (Secret::new(inline.get_ref().clone()), SecretSource::Inline)
    } else if let Some(file) = &c.password_file {
        let file_path = PathBuf::from(file.get_ref());
        if !file_path.is_absolute() {
            p.error(
                Some(file.span()),
                format!(
                    "users.{role}: password_file `{}` is not an absolute path",
                    file.get_ref()
                ),
                "use an absolute path".to_string(),
            );
            return None;
        }
        let secret = match secret::read_password_file(&file_path) {
            Ok(s) => s,
            Err(e) => {
                p.error(
                    Some(file.span()),
                    format!("users.{role}: {}", e.message),
                    e.hint,
                );
                return None;
            }
        };
        if let Some(mode) = secret::readable_by_others(&file_path) {
            p.warning(
                Some(file.span()),
                format!(
                    "users.{role}: password file {} is readable by group/others (mode {mode:04o})",
                    file_path.display()
                ),
                format!("chmod 600 {}", file_path.display()),
            );
        }
        (secret, SecretSource::File(file_path))
    } else {
        let var = c.password_env.as_ref()?;
        match secret::read_password_env(var.get_ref()) {
            Ok(s) => (s, SecretSource::Env(var.get_ref().clone())),
            Err(e) => {
                p.error(
                    Some(var.span()),
                    format!("users.{role}: {}", e.message),
                    e.hint,
                );
                return None;
            }
        }
    };
    super::redact::remember(
        &password,
        match &source {
            SecretSource::Env(v) => Some(v.as_str()),
            _ => None,
        },
    );
    (!user.is_empty()).then(|| Credentials {
        user: user.clone(),
        password,
        source,
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

/// A duration such as "1s", "500ms" or "1h"; `default` when absent.
fn duration(
    raw: &Option<S<String>>,
    default: Duration,
    key: &str,
    p: &mut Problems,
) -> Option<Duration> {
    let Some(text) = raw else {
        return Some(default);
    };
    match humantime::parse_duration(text.get_ref()) {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            p.error(
                Some(text.span()),
                format!("{key} must be longer than zero"),
                format!("e.g. \"{}\"", humantime::format_duration(default)),
            );
            None
        }
        Err(e) => {
            p.error(
                Some(text.span()),
                format!("{key} = \"{}\" is not a duration: {e}", text.get_ref()),
                format!(
                    "write it like \"{}\" or \"500ms\"",
                    humantime::format_duration(default)
                ),
            );
            None
        }
    }
}

fn vip(raw: &S<RawVip>, nodes: &[S<RawNode>], p: &mut Problems) -> Option<VipConfig> {
    let v = raw.get_ref();
    let address = match v.address.get_ref().parse::<Ipv4Addr>() {
        Ok(a) => Some(a),
        Err(_) => {
            p.error(
                Some(v.address.span()),
                format!(
                    "vip.address `{}` is not an IPv4 address",
                    v.address.get_ref()
                ),
                "use the address applications connect to, e.g. 10.254.0.10".to_string(),
            );
            None
        }
    };
    if v.backends.get_ref().is_empty() {
        p.error(
            Some(v.backends.span()),
            "vip.backends is empty",
            format!("name one or more of: {}", VIP_BACKENDS.join(", ")),
        );
    }
    let mut backends = Vec::new();
    let mut listed = Vec::new();
    for name in v.backends.get_ref() {
        let n = name.get_ref().as_str();
        if listed.contains(&n) {
            p.error(
                Some(name.span()),
                format!("vip backend `{n}` is listed twice"),
                "list it once".to_string(),
            );
            continue;
        }
        listed.push(n);
        if let Some(b) = backend(n, name.span(), v, nodes, p) {
            backends.push(b);
        }
    }
    // Settings for a backend that is not used are probably a mistake.
    let tables: [(&str, Option<Range<usize>>); 6] = [
        (
            "aws-route-table",
            v.aws_route_table.as_ref().map(|t| t.span()),
        ),
        ("local-address", v.local_address.as_ref().map(|t| t.span())),
        ("linux-route", v.linux_route.as_ref().map(|t| t.span())),
        ("script", v.script.as_ref().map(|t| t.span())),
        ("aws-nlb", v.aws_nlb.as_ref().map(|t| t.span())),
        ("aws-route53", v.aws_route53.as_ref().map(|t| t.span())),
    ];
    for (name, span) in tables {
        if let Some(span) = span {
            if !listed.contains(&name) {
                p.warning(
                    Some(span),
                    format!("[cluster.vip.{name}] is ignored: `{name}` is not in vip.backends"),
                    format!("add \"{name}\" to vip.backends or remove the table"),
                );
            }
        }
    }
    let ok = backends.len() == listed.len() && !listed.is_empty();
    ok.then_some(())
        .and(address)
        .map(|address| VipConfig { address, backends })
}

fn backend(
    name: &str,
    span: Range<usize>,
    v: &RawVip,
    nodes: &[S<RawNode>],
    p: &mut Problems,
) -> Option<VipBackend> {
    let missing = |p: &mut Problems, table: &str, example: &str| {
        p.error(
            Some(span.clone()),
            format!("vip backend `{name}` needs a [cluster.vip.{table}] table"),
            format!("add it, e.g. {example}"),
        );
    };
    match name {
        "aws-route-table" => {
            let default = RawAwsRouteTable::default();
            let t = v
                .aws_route_table
                .as_ref()
                .map(|t| t.get_ref())
                .unwrap_or(&default);
            let mut ok = true;
            for (i, id) in t.route_tables.iter().enumerate() {
                ok &= prefixed(id, "rtb-", "route table id", p);
                if t.route_tables[..i]
                    .iter()
                    .any(|o| o.get_ref() == id.get_ref())
                {
                    p.error(
                        Some(id.span()),
                        format!("route table {} is listed twice", id.get_ref()),
                        "list each route table once".to_string(),
                    );
                    ok = false;
                }
            }
            if let Some(vpc) = &t.vpc_id {
                ok &= prefixed(vpc, "vpc-", "vpc_id", p);
            }
            for node in nodes {
                let n = node.get_ref();
                if n.instance_id.is_none() && n.eni_id.is_none() {
                    p.error(
                        Some(n.name.span()),
                        format!("node `{}` has neither instance_id nor eni_id, which aws-route-table needs", n.name.get_ref()),
                        "add eni_id (or instance_id) to the node".to_string(),
                    );
                    ok = false;
                }
            }
            let deadline = duration(
                &t.deadline,
                Duration::from_secs(5),
                "vip.aws-route-table.deadline",
                p,
            );
            let concurrency = match &t.concurrency {
                None => None,
                Some(n) => match usize::try_from(*n.get_ref()) {
                    Ok(v) if (1..=256).contains(&v) => Some(v),
                    _ => {
                        p.error(
                            Some(n.span()),
                            format!("vip.aws-route-table.concurrency = {} is out of range", n.get_ref()),
                            "use 1 (one table at a time) to 256; leave it out to switch all tables at once".to_string(),
                        );
                        ok = false;
                        None
                    }
                },
            };
            ok.then(|| {
                Some(VipBackend::AwsRouteTable {
                    route_tables: t.route_tables.iter().map(|r| r.get_ref().clone()).collect(),
                    vpc_id: t.vpc_id.as_ref().map(|v| v.get_ref().clone()),
                    region: t.region.as_ref().map(|r| r.get_ref().clone()),
                    endpoint_url: t.endpoint_url.as_ref().map(|e| e.get_ref().clone()),
                    deadline: deadline?,
                    concurrency,
                })
            })
            .flatten()
        }
        "local-address" => Some(VipBackend::LocalAddress {
            interface: v
                .local_address
                .as_ref()
                .and_then(|t| t.get_ref().interface.as_ref())
                .map(|i| i.get_ref().clone())
                .unwrap_or_else(|| "lo".to_string()),
        }),
        "linux-route" => {
            let mut ok = true;
            for node in nodes {
                let n = node.get_ref();
                if n.host.get_ref().parse::<Ipv4Addr>().is_err() {
                    p.error(
                        Some(n.host.span()),
                        format!(
                            "node `{}`: linux-route needs an IPv4 address as host, not `{}`",
                            n.name.get_ref(),
                            n.host.get_ref()
                        ),
                        "use the node's address on the router's network".to_string(),
                    );
                    ok = false;
                }
            }
            let table = match v
                .linux_route
                .as_ref()
                .and_then(|t| t.get_ref().table.as_ref())
            {
                None => None,
                Some(t) => match u32::try_from(*t.get_ref()) {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        p.error(
                            Some(t.span()),
                            format!("routing table {} is out of range", t.get_ref()),
                            "use 1-4294967295 (main is 254)".to_string(),
                        );
                        ok = false;
                        None
                    }
                },
            };
            ok.then_some(VipBackend::LinuxRoute { table })
        }
        "script" => {
            let Some(t) = &v.script else {
                missing(p, "script", "command = \"/usr/local/bin/move-vip\"");
                return None;
            };
            let t = t.get_ref();
            let command = command(&t.command, "vip.script.command", p)?;
            let timeout = duration(&t.timeout, Duration::from_secs(10), "vip.script.timeout", p)?;
            Some(VipBackend::Script { command, timeout })
        }
        "aws-nlb" => {
            let Some(t) = &v.aws_nlb else {
                missing(
                    p,
                    "aws-nlb",
                    "target_group_arn = \"arn:aws:elasticloadbalancing:...\"",
                );
                return None;
            };
            let t = t.get_ref();
            let mut ok = prefixed(&t.target_group_arn, "arn:", "target_group_arn", p);
            let port = match &t.port {
                None => None,
                Some(port) => match u16::try_from(*port.get_ref()) {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        p.error(
                            Some(port.span()),
                            format!("port {} is out of range", port.get_ref()),
                            "use a TCP port from 1 to 65535".to_string(),
                        );
                        ok = false;
                        None
                    }
                },
            };
            ok.then(|| VipBackend::AwsNlb {
                target_group_arn: t.target_group_arn.get_ref().clone(),
                port,
                region: t.region.as_ref().map(|r| r.get_ref().clone()),
                endpoint_url: t.endpoint_url.as_ref().map(|e| e.get_ref().clone()),
            })
        }
        "aws-route53" => {
            let Some(t) = &v.aws_route53 else {
                missing(
                    p,
                    "aws-route53",
                    "hosted_zone_id = \"Z123...\", record_name = \"db.example.internal\"",
                );
                return None;
            };
            let t = t.get_ref();
            let ttl = match &t.ttl {
                None => Some(1),
                Some(ttl) => match u32::try_from(*ttl.get_ref()) {
                    Ok(n) if n <= 3600 => Some(n),
                    _ => {
                        p.error(
                            Some(ttl.span()),
                            format!("ttl {} is out of range", ttl.get_ref()),
                            "use 0-3600 seconds; low is what makes a move quick".to_string(),
                        );
                        None
                    }
                },
            };
            Some(VipBackend::AwsRoute53 {
                hosted_zone_id: t.hosted_zone_id.get_ref().clone(),
                record_name: t.record_name.get_ref().clone(),
                ttl: ttl?,
                region: t.region.as_ref().map(|r| r.get_ref().clone()),
                endpoint_url: t.endpoint_url.as_ref().map(|e| e.get_ref().clone()),
            })
        }
        other => {
            p.error(
                Some(span),
                format!("unknown vip backend `{other}`"),
                format!("use one of: {}", VIP_BACKENDS.join(", ")),
            );
            None
        }
    }
}

fn prefixed(value: &S<String>, prefix: &str, what: &str, p: &mut Problems) -> bool {
    let ok = value.get_ref().len() > prefix.len() && value.get_ref().starts_with(prefix);
    if !ok {
        p.error(
            Some(value.span()),
            format!("{what} `{}` does not start with {prefix}", value.get_ref()),
            "copy the id from the AWS console or CLI".to_string(),
        );
    }
    ok
}

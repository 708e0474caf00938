//! `vipkeeper check`: the config file first, then every node.

use std::process::ExitCode;

use crate::checks::privileges::{missing, not_recommended, Requirement, UserRole};
use crate::checks::{settings::settings, Finding};
use crate::cli::CheckArgs;
use crate::config::{self, ClusterConfig, Credentials, Severity};
use crate::mysql::account::current_privileges;
use crate::mysql::flavor::ServerVersion;
use crate::mysql::{ErrorKind, NodeState, Session};
use crate::topology::observe::target;
use crate::topology::{observe, NodeView, Topology};

pub async fn run(config_path: &std::path::Path, args: &CheckArgs) -> ExitCode {
    let config = match config::load(config_path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                println!("{}", crate::terminal::safe(&w.to_string()));
            }
            loaded.config
        }
        Err(e) => {
            for p in &e.problems {
                println!("{}", crate::terminal::safe(&p.to_string()));
            }
            let errors = e.problems.iter().filter(|p| p.is_error()).count();
            let warnings = e.problems.len() - errors;
            println!(
                "check: {errors} error(s), {warnings} warning(s) in {}",
                config_path.display()
            );
            return ExitCode::FAILURE;
        }
    };
    // What the agent refuses to start on is an error here too.
    let mut local = crate::config::trust::problems(&config);
    if let Err(e) = crate::state::usable_state_dir(&config.agent.state_dir) {
        local.push(e);
    }
    if !local.is_empty() {
        for p in &local {
            println!("error: {}", crate::terminal::safe(p));
        }
        println!(
            "check: {} error(s) in {} and the files it names",
            local.len(),
            config_path.display()
        );
        return ExitCode::FAILURE;
    }
    let nodes: usize = config.clusters.iter().map(|c| c.nodes.len()).sum();
    println!(
        "{}: configuration ok ({} cluster(s), {nodes} node(s))",
        config_path.display(),
        config.clusters.len()
    );
    if args.offline {
        return ExitCode::SUCCESS;
    }
    let clusters = match super::select_clusters(&config, args.cluster.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut findings = Vec::new();
    for cluster in clusters {
        findings.extend(match &cluster.aurora {
            Some(aurora) => check_aurora(cluster, aurora).await,
            None => check_cluster(cluster).await,
        });
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    println!("{MANAGERS}");
    println!(
        "check: {errors} error(s), {} warning(s)",
        findings.len() - errors
    );
    if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// What holds with more than one manager, said plainly (docs/FAILOVER.md).
const MANAGERS: &str = "managers: with several vipkeeper managers and no coordination store, each failover, switchover and fencing takes the cluster lock on every node it reaches: two managers that reach a common node never act at once, and each re-reads every node before making one writable. Managers cut off from each other with no node in common (a partition) are not kept apart: run one manager per cluster until coordination through etcd is configured.";

/// An Aurora cluster: every instance answers the writer query, exactly one
/// is the writer, the RDS API answers and agrees, and what clients use
/// goes there.
async fn check_aurora(
    cluster: &ClusterConfig,
    aurora: &crate::config::AuroraConfig,
) -> Vec<Finding> {
    let status = crate::aurora::status::status(cluster, aurora).await;
    print!("{}", crate::terminal::safe(&status.render()));
    let mut findings = Vec::new();
    for (name, answer) in &status.instances {
        if answer.starts_with("unreachable") {
            findings.push(Finding::error(
                Some(name),
                format!("{name} does not answer the writer query: {answer}"),
                "check the node's host and port, the monitor account, and aurora.writer_query",
            ));
        }
    }
    let writers = status
        .instances
        .iter()
        .filter(|(_, a)| a == "writer")
        .count();
    if writers != 1 {
        findings.push(Finding::error(
            None,
            format!("{writers} instances answer as the writer"),
            "exactly one should: check aurora.writer_query, or wait for a promotion under way",
        ));
    }
    match &status.api_writer {
        Err(e) => findings.push(Finding::error(
            None,
            format!("the RDS API cannot be asked: {e}"),
            "check aurora.cluster_identifier, the region and rds:DescribeDBClusters in the IAM policy",
        )),
        Ok(api) if status.writer.is_some() && *api != status.writer => {
            findings.push(Finding::warning(
                None,
                format!(
                    "SQL names {} the writer, the RDS API {}",
                    status.writer.as_deref().unwrap_or("none"),
                    api.as_deref().unwrap_or("none")
                ),
                "the nodes' names must be the instance identifiers",
            ))
        }
        Ok(_) => {}
    }
    if status.writer.is_some() && !status.healthy() && status.api_writer.is_ok() {
        findings.push(Finding::warning(
            None,
            "what clients use does not all go to the writer",
            "the agent moves it on its next look; `vipkeeper vip status` shows each backend",
        ));
    }
    findings.extend(vip_findings(cluster).await);
    for f in &findings {
        println!("  {}", crate::terminal::safe(&f.to_string()));
    }
    findings
}

/// What the VIP backends' own settings say about how fast clients follow
/// a move (an NLB target group's draining, cross-zone balancing).
async fn vip_findings(cluster: &ClusterConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    for backend in cluster.vip.iter().flat_map(|v| &v.backends) {
        let crate::config::BackendConfig::AwsNlb(s) = backend else {
            continue;
        };
        match crate::vip::aws_nlb::nlb_warnings(s).await {
            Ok(warnings) => out.extend(warnings.into_iter().map(|w| Finding::warning(None, w, ""))),
            Err(e) => out.push(Finding::error(
                None,
                format!("aws-nlb: cannot read the target group's settings: {e}"),
                "check the ARN, the region and elasticloadbalancing:DescribeTargetGroupAttributes in the IAM policy",
            )),
        }
    }
    out
}

async fn check_cluster(cluster: &ClusterConfig) -> Vec<Finding> {
    println!("cluster {}:", cluster.name);
    let view = observe(cluster).await;
    let topology = Topology::derive(&view, cluster.failover.max_lag.as_secs());
    let mut findings = Vec::new();
    for node in &view.nodes {
        println!("  {}", crate::terminal::safe(&node_line(node, &topology)));
        if node.state().is_some() {
            let tls = tls_state(cluster, node).await;
            println!("    TLS: {}", crate::terminal::safe(&tls));
        }
        match node.state() {
            None => findings.push(Finding::error(
                Some(&node.name),
                format!(
                    "cannot probe {} as {} (monitor user): {}",
                    node.address(),
                    cluster.users.monitor.user,
                    node.error().map(|e| e.to_string()).unwrap_or_default()
                ),
                match node.error().map(|e| e.kind) {
                    Some(ErrorKind::Tls) => format!(
                        "TLS failed with [cluster.tls] mode = \"{}\": if the server requires TLS (require_secure_transport), set mode to \"required\" or a verify mode; if its certificate was refused, check tls.ca_file and that the certificate names the host",
                        cluster.tls.mode.label()
                    ),
                    // MariaDB answers a clear-text login to a server that
                    // requires TLS with "access denied".
                    Some(ErrorKind::AccessDenied) if cluster.tls.mode == crate::config::TlsMode::Disabled => {
                        "check the monitor user's password; if the server requires TLS (require_secure_transport), set [cluster.tls] mode to \"required\" or a verify mode".to_string()
                    }
                    _ => "check that the server runs, the address is right and the monitor user can log in from here".to_string(),
                },
            )),
            Some(state) => findings.extend(check_users(cluster, node, state).await),
        }
    }
    findings.extend(settings(&view));
    findings.extend(
        topology
            .warnings
            .iter()
            .map(|w| Finding::warning(w.node.as_deref(), w.message.clone(), "")),
    );
    findings.extend(vip_findings(cluster).await);
    for f in &findings {
        println!("  {}", crate::terminal::safe(&f.to_string()));
    }
    findings
}

/// Whether the monitor user's connection to `node` is encrypted, and how.
async fn tls_state(cluster: &ClusterConfig, node: &NodeView) -> String {
    let t = target(cluster, &node.host, node.port, &cluster.users.monitor);
    let mode = cluster.tls.mode.label();
    let mut s = match Session::connect(&t).await {
        Ok(s) => s,
        Err(e) => return format!("cannot tell ({e}); tls.mode = {mode}"),
    };
    let v = s
        .variables("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')")
        .await;
    s.close().await;
    match v {
        Ok(v) => match (
            v.get("ssl_version").cloned().flatten(),
            v.get("ssl_cipher").cloned().flatten(),
        ) {
            (Some(version), Some(cipher)) if !cipher.is_empty() => {
                format!("encrypted, {version} {cipher} (tls.mode = {mode})")
            }
            _ => format!("clear text (tls.mode = {mode})"),
        },
        Err(e) => format!("cannot tell ({e}); tls.mode = {mode}"),
    }
}

fn node_line(node: &NodeView, topology: &Topology) -> String {
    match node.state() {
        Some(s) => format!(
            "{} {}: reachable ({} ms), {}, {}, server_id {}, binlog {}, gtid {}{}, semi-sync {}",
            node.name,
            node.address(),
            node.probe.elapsed.as_millis(),
            s.version.label(),
            topology.role(&node.name).label(),
            s.server_id,
            if s.log_bin { "on" } else { "OFF" },
            s.gtid.mode,
            s.replica
                .as_ref()
                .map(|r| format!(" (replicates by {})", r.position_mode.label()))
                .unwrap_or_default(),
            if s.semi_sync.source_enabled || s.semi_sync.replica_enabled {
                "on"
            } else {
                "off"
            },
        ),
        None => format!("{} {}: UNREACHABLE", node.name, node.address()),
    }
}

/// Logs in as each configured user and compares its privileges with what
/// vipkeeper needs on this server.
async fn check_users(cluster: &ClusterConfig, node: &NodeView, state: &NodeState) -> Vec<Finding> {
    let users: [(UserRole, &Credentials); 3] = [
        (UserRole::Monitor, &cluster.users.monitor),
        (UserRole::Admin, &cluster.users.admin),
        (UserRole::Replication, &cluster.users.replication),
    ];
    let mut out = Vec::new();
    if let Some(problem) = state
        .version
        .replication_password_problem(cluster.users.replication.password.expose())
    {
        out.push(Finding::error(
            Some(&node.name),
            problem,
            format!(
                "give {} a password of at most {} characters",
                cluster.users.replication.user,
                state.version.max_replication_password()
            ),
        ));
    }
    for (role, creds) in users {
        out.extend(check_user(cluster, node, &state.version, role, creds).await);
    }
    out
}

async fn check_user(
    cluster: &ClusterConfig,
    node: &NodeView,
    version: &ServerVersion,
    role: UserRole,
    creds: &Credentials,
) -> Vec<Finding> {
    let who = format!("user {} ({})", creds.user, role.name());
    let fail = |e: crate::mysql::DbError| {
        Finding::error(
            Some(&node.name),
            format!("{who}: {e}"),
            format!("check the account and its password ({})", creds.source),
        )
    };
    let mut session = match Session::connect(&target(cluster, &node.host, node.port, creds)).await {
        Ok(s) => s,
        Err(e) => return vec![fail(e)],
    };
    let result = current_privileges(&mut session).await;
    session.close().await;
    let (grantee, held) = match result {
        Ok(r) => r,
        Err(e) => return vec![fail(e)],
    };
    let mut out = Vec::new();
    let lacking = missing(role, version, &held, cluster.salvage.is_some());
    if !lacking.is_empty() {
        let (names, why) = listed(&lacking);
        out.push(Finding::error(
            Some(&node.name),
            format!("{who} lacks {names} (needed for: {why})"),
            format!("GRANT {names} ON *.* TO {grantee}"),
        ));
    }
    let short = not_recommended(role, version, &held);
    if !short.is_empty() {
        let (names, why) = listed(&short);
        out.push(Finding::warning(
            Some(&node.name),
            format!("{who} lacks {names} (recommended: {why})"),
            format!("GRANT {names} ON *.* TO {grantee} (docs/PRIVILEGES.md)"),
        ));
    }
    out
}

/// The privileges' names and what each is for, in words.
fn listed(reqs: &[Requirement]) -> (String, String) {
    let names: Vec<&str> = reqs.iter().map(|r| r.privilege).collect();
    let why: Vec<&str> = reqs.iter().map(|r| r.why).collect();
    (names.join(", "), why.join("; "))
}

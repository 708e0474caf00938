//! `make bench`: unplanned failovers of real 3-node clusters, timed from
//! the fault to each milestone, written to docs/BENCHMARKS.md.
//!
//!   cargo run --release --example bench -- [--runs N] [--flavor mariadb|mysql|all]
//!
//! Faults: `kill -9` of the master's mysqld, and a black-holed master (every
//! connection to it, from the manager, the replicas and the client, passes
//! through a proxy that stops forwarding). Milestones, measured from the
//! fault: detected (the agent first notices), confirmed (dead master
//! declared), caught up (the candidate applied all it received), writable,
//! replicas repointed, and the client's first acknowledged write on the new
//! master. Default agent settings (1 s probes and timeouts, 3 misses),
//! semi-sync AFTER_SYNC.

use vipkeeper_harness as support;
mod agent;
mod aurora;
mod ha;
mod mha;
mod switchover;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use support::agent::Agent;
use support::moto::{seed, Moto};
use support::proxy::Proxy;
use support::report::write_timeline;
use support::vpc::{RouteTables, VpcCluster, VIP};
use support::writer::{WriteTarget, Writer};
use support::{ClusterSpec, ConfigExtras, Flavor, TestCluster};
use vipkeeper::config::{AwsRouteTableConfig, BackendConfig, NodeConfig, VipConfig};

const MILESTONES: [&str; 6] = [
    "detected",
    "confirmed",
    "caught up",
    "writable",
    "repointed",
    "first client write",
];

#[derive(Clone, Copy, PartialEq)]
enum Fault {
    Kill,
    Blackhole,
}

impl Fault {
    fn slug(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::Blackhole => "blackhole",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Fault::Kill => "kill -9 of mysqld",
            Fault::Blackhole => "black-holed master",
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 10;
    let mut flavors = vec![Flavor::Mariadb, Flavor::Mysql];
    let mut only: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--runs" => runs = args.get(i + 1).context("--runs N")?.parse()?,
            "--flavor" => {
                flavors = match args.get(i + 1).map(String::as_str) {
                    Some("all") => vec![Flavor::Mariadb, Flavor::Mysql],
                    Some(f) => vec![Flavor::from_name(f)?],
                    None => bail!("--flavor mariadb|mysql|all"),
                }
            }
            "--only" => {
                only = Some(
                    args.get(i + 1)
                        .context(
                            "--only failover,route-tables,vpc,switchover,agent,mha,aurora,managers (any of them)",
                        )?
                        .clone(),
                )
            }
            other => bail!("unknown argument {other}"),
        }
        i += 2;
    }
    let bin = release_binary()?;
    let mut sections = Vec::new();
    let wants = |s: &str| only.as_deref().is_none_or(|o| o.split(',').any(|x| x == s));
    if wants("route-tables") {
        sections.push(route_tables(runs).await?);
    }
    if wants("mha") {
        sections.push(mha::hook_vs_script(&bin, runs).await?);
    }
    if wants("aurora") {
        sections.push(aurora::writer_changes(&bin, runs).await?);
    }
    if wants("managers") {
        sections.push(ha::managers(&bin, runs).await?);
    }
    if wants("agent") {
        sections.push(agent::footprint(&bin).await?);
    }
    if wants("switchover") {
        sections.push(switchover::switchovers(&bin, &flavors, runs).await?);
    }
    if wants("vpc") {
        sections.push(vpc_failovers(&bin, runs).await?);
    }
    for flavor in flavors.into_iter().filter(|_| wants("failover")) {
        for fault in [Fault::Kill, Fault::Blackhole] {
            let mut samples: Vec<[Option<f64>; 6]> = Vec::new();
            for run in 1..=runs {
                let picture =
                    pictures().join(format!("{}-{}-{run}.svg", flavor.name(), fault.slug()));
                match one_run(&bin, flavor, fault, &picture).await {
                    Ok(s) => {
                        eprintln!(
                            "{} / {} run {run}: {}",
                            flavor.name(),
                            fault.label(),
                            fmt_sample(&s)
                        );
                        samples.push(s);
                    }
                    Err(e) => eprintln!(
                        "{} / {} run {run} FAILED: {e:#}",
                        flavor.name(),
                        fault.label()
                    ),
                }
            }
            sections.push(table(flavor, fault, runs, &samples));
        }
    }
    write_results(&sections)?;
    Ok(())
}

/// Time to point the VIP at another node in 1, 10 and 50 route tables of
/// the emulator, all at once and one table at a time.
async fn route_tables(runs: usize) -> Result<String> {
    let mut out = String::from(
        "### aws-route-table: switching the VIP route (moto EC2 emulator on loopback)\n\n\
         | tables | all at once p50 | p95 | one at a time p50 | p95 |\n|---|---|---|---|---|\n",
    );
    for tables in [1usize, 10, 50] {
        let moto = Moto::start()?;
        let v = seed(&moto, tables, VIP).await?;
        let nodes: Vec<NodeConfig> = (0..3)
            .map(|i| NodeConfig {
                name: format!("db{}", i + 1),
                host: format!("10.0.{}.10", i + 1),
                port: 3306,
                instance_id: None,
                eni_id: Some(v.enis[i].clone()),
                az: None,
                ipv4: None,
                host_agent: None,
                binlog_index: None,
                relay_log_index: None,
            })
            .collect();
        let mut cells = Vec::new();
        for concurrency in [None, Some(1)] {
            let cfg = VipConfig {
                address: VIP.parse()?,
                backends: vec![BackendConfig::AwsRouteTable(AwsRouteTableConfig {
                    route_tables: v.route_tables.clone(),
                    vpc_id: None,
                    region: Some("us-east-1".into()),
                    endpoint_url: Some(moto.endpoint()),
                    deadline: Duration::from_secs(30),
                    concurrency,
                })],
                retry_for: vipkeeper::config::vip::RETRY_FOR,
            };
            let mut ms = Vec::new();
            for run in 0..runs {
                let to = &nodes[1 + run % 2];
                let t = Instant::now();
                vipkeeper::vip::move_vip(&cfg, &nodes, None, to)
                    .await
                    .map_err(anyhow::Error::msg)?;
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            eprintln!("route tables {tables} concurrency {concurrency:?}: {ms:.0?}");
            cells.push(fmt_ms(percentile(&mut ms.clone(), 50.0)));
            cells.push(fmt_ms(percentile(&mut ms, 95.0)));
        }
        out.push_str(&format!("| {tables} | {} |\n", cells.join(" | ")));
    }
    Ok(out)
}

/// kill -9 of the master in the namespace VPC → the client's first write
/// acknowledged through the VIP (default settings), with the VIP route in
/// the router's table and in the emulator's route tables; and the master's
/// host black-holed in the VPC (every packet to it dropped, on both
/// flavors).
async fn vpc_failovers(bin: &Path, runs: usize) -> Result<String> {
    let mut out = String::new();
    for (flavor, tables, fault, slug, backend) in [
        (
            Flavor::Mariadb,
            RouteTables::Router,
            Fault::Kill,
            "router",
            "linux-route",
        ),
        (
            Flavor::Mariadb,
            RouteTables::Emulator,
            Fault::Kill,
            "emulator",
            "aws-route-table, 3 tables in the emulator",
        ),
        (
            Flavor::Mariadb,
            RouteTables::Router,
            Fault::Blackhole,
            "router",
            "linux-route",
        ),
        (
            Flavor::Mysql,
            RouteTables::Router,
            Fault::Blackhole,
            "router",
            "linux-route",
        ),
    ] {
        let mut first_write = Vec::new();
        let mut route_moved = Vec::new();
        let what = match fault {
            Fault::Kill => "kill -9",
            Fault::Blackhole => "the master's host black-holed in the VPC (its link down, the router still sending to it)",
        };
        for run in 1..=runs {
            let picture = pictures().join(format!(
                "vpc-{}-{slug}-{}-{run}.svg",
                flavor.name(),
                fault.slug()
            ));
            match vpc_run(bin, flavor, tables, fault, &picture).await {
                Ok((w, r)) => {
                    eprintln!(
                        "vpc {} ({slug}) {} run {run}: first write through the VIP {w:.0} ms, route moved {r:.0} ms",
                        flavor.name(),
                        fault.slug()
                    );
                    first_write.push(w);
                    route_moved.push(r);
                }
                Err(e) => eprintln!(
                    "vpc {} ({slug}) {} run {run} FAILED: {e:#}",
                    flavor.name(),
                    fault.slug()
                ),
            }
        }
        out.push_str(&format!(
            "### {} in network namespaces, VIP by {backend} — {what}, client writing through the VIP ({} of {runs} runs)\n\n\
             | milestone (from the fault) | p50 | p95 |\n|---|---|---|\n\
             | VIP route moved | {} | {} |\n\
             | first client write acknowledged through the VIP | {} | {} |\n\n",
            flavor.name(),
            first_write.len(),
            fmt_ms(percentile(&mut route_moved.clone(), 50.0)),
            fmt_ms(percentile(&mut route_moved, 95.0)),
            fmt_ms(percentile(&mut first_write.clone(), 50.0)),
            fmt_ms(percentile(&mut first_write, 95.0)),
        ));
    }
    Ok(out.trim_end().to_string() + "\n")
}

async fn vpc_run(
    bin: &Path,
    flavor: Flavor,
    tables: RouteTables,
    fault: Fault,
    picture: &Path,
) -> Result<(f64, f64)> {
    // Bound in this order so that they drop in reverse: agents, servers, then the namespaces.
    let VpcCluster {
        vpc,
        mut cluster,
        manager,
        hosts,
        ..
    } = VpcCluster::start_with(flavor, bin, "bench", tables).await?;
    let writer = Writer::start_to(
        WriteTarget::Address(VIP.into(), 3306),
        Some(vpc.client.name.clone()),
    );
    writer.wait_for_more(200, Duration::from_secs(30)).await;
    let killed = Instant::now();
    let killed_at = SystemTime::now();
    let before = writer.snapshot().acknowledged.len();
    match fault {
        Fault::Kill => cluster.node_mut("db1").kill9(),
        Fault::Blackhole => vpc.black_hole(0)?,
    }
    manager.wait_for_log("replaced db1", Duration::from_secs(60));
    writer.wait_for_more(20, Duration::from_secs(30)).await;
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        eprintln!("{}", manager.log_text());
    }
    let started = writer.started;
    let writes = writer.stop().await;
    write_timeline(&cluster.dir.join("state/bench/journal"), picture, &writes)?;
    // The first write acknowledged after the first failure the kill caused.
    let _ = before;
    let first_failure = writes
        .error_times
        .iter()
        .find(|t| started + **t >= killed)
        .copied()
        .context("the client never noticed the kill")?;
    let first = writes
        .ack_times
        .iter()
        .find(|t| **t > first_failure)
        .map(|t| (started + *t - killed).as_secs_f64() * 1000.0)
        .context("no write after the kill")?;
    let moved = first_line_after(
        &manager.log_text(),
        killed_at,
        &["failover step move the VIP"],
    )
    .and_then(|t| t.duration_since(killed_at).ok())
    .map(|d| d.as_secs_f64() * 1000.0)
    .unwrap_or(f64::NAN);
    drop(hosts);
    Ok((first, moved))
}

/// Where each run's timeline picture goes (`vipkeeper report --svg`).
fn pictures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench")
}

fn fmt_ms(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.0} ms"))
        .unwrap_or_else(|| "-".into())
}

fn release_binary() -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let bin = target.join("release/vipkeeper");
    if !bin.exists() {
        bail!(
            "{} is missing: cargo build --release first (make bench does)",
            bin.display()
        );
    }
    Ok(bin)
}

async fn one_run(
    bin: &Path,
    flavor: Flavor,
    fault: Fault,
    picture: &Path,
) -> Result<[Option<f64>; 6]> {
    let mut spec = ClusterSpec::new(flavor);
    spec.semi_sync = true;
    let mut cluster = TestCluster::start(spec).await?;
    cluster.create_writer_table(Duration::from_secs(30)).await?;

    // For the black hole, everything reaches db1 through one proxy.
    let proxy = match fault {
        Fault::Blackhole => Some(Proxy::start(cluster.master().port).await),
        Fault::Kill => None,
    };
    let mut extras = ConfigExtras {
        cluster_toml: cluster.vip_script_toml()?,
        ..Default::default()
    };
    if let Some(p) = &proxy {
        cluster.master_through(p.port, &mut extras).await?;
    }
    let config = cluster.write_config_with("bench", &extras)?;
    let agent = Agent::start(bin, &config, &cluster.dir);
    agent.wait_for_log("healthy: db1 is the master", Duration::from_secs(30));
    let writer = Writer::start(cluster.vip_target());
    writer.wait_for_more(200, Duration::from_secs(30)).await;
    let replicas_synced = cluster.wait_replicated(Duration::from_secs(30)).await;
    replicas_synced?;

    let old_port = proxy
        .as_ref()
        .map(|p| p.port)
        .unwrap_or(cluster.master().port);
    let fault_at = SystemTime::now();
    let fault_instant = Instant::now();
    match &proxy {
        Some(p) => p.partition(),
        None => cluster.node_mut("db1").kill9(),
    }
    agent.wait_for_log("replaced db1", Duration::from_secs(60));
    writer.wait_for_more(20, Duration::from_secs(30)).await;
    let writer_started = writer.started;
    let writes = writer.stop().await;
    write_timeline(&cluster.dir.join("state/bench/journal"), picture, &writes)?;

    if std::env::var_os("BENCH_VERBOSE").is_some() {
        eprintln!("{}", agent.log_text());
    }
    let since = |t: SystemTime| {
        t.duration_since(fault_at)
            .ok()
            .map(|d| d.as_secs_f64() * 1000.0)
    };
    let log = agent.log_text();
    let detected = first_line_after(
        &log,
        fault_at,
        &[
            "connection to the master broke",
            "master db1 unreachable",
            "master db1 is dead",
        ],
    );
    let confirmed = first_line_after(&log, fault_at, &["master db1 is dead"]);
    let report = latest_report(&cluster.dir.join("state/bench/reports"))?;
    let started: SystemTime =
        humantime::parse_rfc3339(report["started_at"].as_str().unwrap_or(""))?;
    let step_end = |names: &[&str]| {
        report["steps"]
            .as_array()?
            .iter()
            .filter(|s| names.contains(&s["step"].as_str().unwrap_or("")))
            .map(|s| s["at_ms"].as_u64().unwrap_or(0) + s["elapsed_ms"].as_u64().unwrap_or(0))
            .max()
            .and_then(|ms| since(started + Duration::from_millis(ms)))
    };
    let first_write = writes.first_write_elsewhere(fault_instant - writer_started, old_port);
    Ok([
        detected.and_then(since),
        confirmed.and_then(since),
        step_end(&["wait-applied", "catch-up"]),
        step_end(&["make-writable"]),
        step_end(&["repoint"]),
        first_write,
    ])
}

fn first_line_after(log: &str, after: SystemTime, needles: &[&str]) -> Option<SystemTime> {
    log.lines()
        .filter(|l| needles.iter().any(|n| l.contains(n)))
        .filter_map(|l| humantime::parse_rfc3339(l.split_whitespace().next()?).ok())
        .find(|t| *t >= after)
}

fn latest_report(dir: &Path) -> Result<serde_json::Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    files.sort();
    let last = files.last().context("no failover report")?;
    Ok(serde_json::from_str(&std::fs::read_to_string(last)?)?)
}

fn fmt_sample(s: &[Option<f64>; 6]) -> String {
    MILESTONES
        .iter()
        .zip(s)
        .map(|(m, v)| {
            format!(
                "{m} {}",
                v.map(|v| format!("{v:.0} ms"))
                    .unwrap_or_else(|| "-".into())
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((p / 100.0) * (values.len() as f64 - 1.0)).round() as usize;
    Some(values[rank])
}

fn table(flavor: Flavor, fault: Fault, runs: usize, samples: &[[Option<f64>; 6]]) -> String {
    let mut out = format!(
        "### {} — {} ({} of {runs} runs completed)\n\n| milestone (from the fault) | p50 | p95 |\n|---|---|---|\n",
        flavor.name(),
        fault.label(),
        samples.len()
    );
    for (i, m) in MILESTONES.iter().enumerate() {
        let mut v: Vec<f64> = samples.iter().filter_map(|s| s[i]).collect();
        let cell = |x: Option<f64>| {
            x.map(|x| format!("{x:.0} ms"))
                .unwrap_or_else(|| "-".into())
        };
        out.push_str(&format!(
            "| {m} | {} | {} |\n",
            cell(percentile(&mut v.clone(), 50.0)),
            cell(percentile(&mut v, 95.0))
        ));
    }
    let mut decision: Vec<f64> = samples.iter().filter_map(|s| Some(s[3]? - s[1]?)).collect();
    let cell = |x: Option<f64>| {
        x.map(|x| format!("{x:.0} ms"))
            .unwrap_or_else(|| "-".into())
    };
    out.push_str(&format!(
        "| decision → writable | {} | {} |\n",
        cell(percentile(&mut decision.clone(), 50.0)),
        cell(percentile(&mut decision, 95.0))
    ));
    out
}

fn write_results(sections: &[String]) -> Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/BENCHMARKS.md");
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let date = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let body = format!(
        "## `make bench` ({date})\n\n\
         Machine: {cores} cores, {cpu}, Linux {}. Command: `make bench` \
         (`cargo run --release --example bench`). Three nodes on loopback, semi-sync \
         AFTER_SYNC, default agent settings (probe_interval 1 s, connect/query timeouts \
         1 s, unreachable_after 3), a client writing continuously through the VIP script. \
         The black hole is a TCP proxy in front of the master that every connection to it \
         passes through (manager, replicas, client) and that stops forwarding.\n\n{}\n",
        kernel.trim(),
        sections.join("\n")
    );
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let header = "# Benchmarks\n\nEach `make bench` run adds a section at the top; older ones stay for comparison.\n\n";
    let rest = existing.strip_prefix(header).unwrap_or(&existing);
    std::fs::write(&path, format!("{header}{body}\n{rest}"))?;
    eprintln!("results written to {}", path.display());
    Ok(())
}

//! `make demo`: a VPC in a box on this machine (network namespaces: a router
//! whose table routes the VIP, three MariaDB hosts, a client), the vipkeeper
//! agents, a client writing through the VIP — then kill -9 of the master,
//! narrated as it happens, a summary, a report and its timeline picture.
//! Everything is removed at the end, also on Ctrl-C.

use vipkeeper_harness as support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use support::agent::Agent;
use support::moto::Moto;
use support::narrate::say;
use support::netns::Netns;
use support::report::write_timeline;
use support::vpc::{RouteTables, Vpc, VpcCluster, VIP};
use support::writer::{WriteTarget, Writer};
use support::Flavor;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    tokio::select! {
        r = demo() => r,
        _ = tokio::signal::ctrl_c() => {
            println!("\ninterrupted: cleaning up");
            Ok(())
        }
    }
}

async fn demo() -> Result<()> {
    if let Err(why) = Netns::available().and(Flavor::Mariadb.available()) {
        bail!("the demo needs root, iproute2 and MariaDB: {why} (run `make demo` as root)");
    }
    let bin = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: demo PATH-TO-vipkeeper")?;

    let tables = if std::env::var("DEMO_AWS").is_ok_and(|v| v == "1") {
        if let Err(why) = Moto::available() {
            bail!("DEMO_AWS=1 needs the moto emulator: {why}");
        }
        say(None, "building a VPC in a box: three DB hosts and a client, each in its own network namespace, behind a router that forwards as the VPC route tables say");
        say(None, "the route tables live in the moto EC2 emulator (a VPC with subnets in us-east-1a/b/c, one instance and ENI per DB host, one route table per AZ); the router follows the client subnet's table");
        RouteTables::Emulator
    } else {
        say(None, "building a VPC in a box: a router (its table plays the VPC route table), three DB hosts and a client, each in its own network namespace");
        RouteTables::Router
    };
    say(None, "starting MariaDB 10.11 on db1 (10.77.1.11), db2 (10.77.2.12), db3 (10.77.3.13): db1 is the master, semi-sync AFTER_SYNC");
    let routed = match tables {
        RouteTables::Router => "routed by the router to db1",
        RouteTables::Emulator => "every route table sends it to db1's ENI",
        RouteTables::Nlb | RouteTables::Aurora => {
            "the NLB's target group holds db1 alone, the writer record names it"
        }
    };
    say(None, &format!("the VIP {VIP}: {routed}, held on db1's lo; the vipkeeper agent runs on the router, a host agent on each DB host"));
    // Bound in this order so that they drop in reverse: agents, servers, then the namespaces.
    let VpcCluster {
        vpc,
        mut cluster,
        manager,
        hosts,
        ..
    } = VpcCluster::start_with(Flavor::Mariadb, &bin, "demo", tables).await?;
    say(
        None,
        &format!("the client (10.77.9.2) writes through {VIP}:3306, one row per write"),
    );
    let writer = Writer::start_to(
        WriteTarget::Address(VIP.into(), 3306),
        Some(vpc.client.name.clone()),
    );
    writer.wait_for_more(300, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let pid = cluster.master().pid().unwrap_or(0);
    println!();
    let killed = Instant::now();
    let since = Since {
        log: manager.log_text().len(),
        host_logs: hosts.iter().map(|h| h.log_text().len()).collect(),
        acknowledged: writer.snapshot().acknowledged.len(),
        killed,
    };
    say(
        Some(killed),
        &format!("kill -9 of the master's mysqld (db1, pid {pid})"),
    );
    cluster.node_mut("db1").kill9();

    narrate(&manager, &hosts, &vpc, &writer, &since).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = writer.started;
    let writes = writer.stop().await;

    let new_master = vpc
        .vip_node()
        .context("the router has no VIP route after the failover")?;
    let new_master = new_master.as_str();
    let lost = writes.missing_on(cluster.node(new_master)).await?.len();
    let first_failure = writes
        .error_times
        .iter()
        .find(|t| started + **t >= killed)
        .copied();
    let last_before = writes
        .ack_times
        .iter()
        .rfind(|t| Some(**t) < first_failure)
        .copied();
    let first_after = writes
        .ack_times
        .iter()
        .find(|t| Some(**t) > first_failure)
        .copied();
    let downtime = match (last_before, first_after) {
        (Some(a), Some(b)) => format!("{} ms", (b - a).as_millis()),
        _ => "unknown".into(),
    };

    let svg = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/demo/failover.svg");
    write_timeline(&cluster.dir.join("state/demo/journal"), &svg, &writes)?;

    println!();
    say(None, "summary");
    println!(
        "    new master:                         {new_master} (the VIP {VIP} now routes there)"
    );
    println!(
        "    writes acknowledged to the client:  {}",
        writes.acknowledged.len()
    );
    println!("    acknowledged writes lost:           {lost}");
    println!("    client downtime (last write before the kill → first after): {downtime}");
    println!("    report: {}", svg.with_extension("txt").display());
    println!("    timeline picture: {}", svg.display());
    say(None, "cleaning up: agents, servers and namespaces");
    if lost > 0 {
        bail!("{lost} acknowledged writes were lost");
    }
    Ok(())
}

/// Where things stood at the kill: what was already logged and acknowledged.
struct Since {
    log: usize,
    host_logs: Vec<usize>,
    acknowledged: usize,
    killed: Instant,
}

/// Prints the milestones as the agents log them, with the time since the kill.
async fn narrate(
    manager: &Agent,
    hosts: &[Agent],
    vpc: &Vpc,
    writer: &Writer,
    since: &Since,
) -> Result<()> {
    let killed = since.killed;
    let milestones: [(&str, &str); 10] = [
        (
            "the connection to the master broke",
            "detected: the agent's idle connection to db1 broke",
        ),
        ("master db1 unreachable", "db1 does not answer the agent"),
        ("master db1 is dead", "confirmed dead"),
        ("candidate:", "candidate chosen"),
        ("failover step wait until", "caught up"),
        (
            "failover step catch",
            "caught up from the most advanced replica",
        ),
        (
            "failover step move the VIP",
            match vpc.aws {
                None => "VIP moved: the router now routes it to the new master",
                Some(_) => {
                    "VIP moved: every route table in the emulator targets the new master's ENI"
                }
            },
        ),
        ("writable: Ok", "new master writable"),
        ("failover step repoint", "replica repointed"),
        ("replaced db1", "failover done"),
    ];
    let mut printed = vec![false; milestones.len()];
    let mut host_printed = vec![false; hosts.len()];
    let mut resumed = false;
    let mut data_plane_said = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let log = manager.log_text();
        let new = log.get(since.log..).unwrap_or("");
        for (i, (needle, words)) in milestones.iter().enumerate() {
            if printed[i] {
                continue;
            }
            if let Some(line) = new.lines().find(|l| l.contains(needle)) {
                printed[i] = true;
                let detail = line
                    .split_once(": ")
                    .map(|(_, d)| d)
                    .unwrap_or("")
                    .trim_end_matches(" cluster=demo");
                let detail = detail.split(" cluster=").next().unwrap_or(detail);
                say(Some(killed), &format!("{words} — {}", clip(detail, 130)));
            }
        }
        for (i, h) in hosts.iter().enumerate() {
            let text = h.log_text();
            if !host_printed[i] {
                if let Some(line) = text
                    .get(since.host_logs[i]..)
                    .unwrap_or("")
                    .lines()
                    .find(|l| l.contains("is the master: VIP"))
                {
                    host_printed[i] = true;
                    let detail = line.split_once(": ").map(|(_, d)| d).unwrap_or("");
                    say(
                        Some(killed),
                        &format!(
                            "host agent: {}",
                            detail.split(" cluster=").next().unwrap_or(detail)
                        ),
                    );
                }
            }
        }
        if let Some((at, node)) = vpc.aws.as_ref().and_then(|a| a.last_switch()) {
            if !data_plane_said && at > killed {
                data_plane_said = true;
                say(
                    Some(killed),
                    &format!("VPC data plane: the client subnet's route table now sends the VIP to {node}"),
                );
            }
        }
        let w = writer.snapshot();
        // Resumed: a write acknowledged after the first failure the kill caused.
        let first_failure = w
            .error_times
            .iter()
            .find(|t| writer.started + **t >= killed);
        if !resumed && w.acknowledged.len() > since.acknowledged {
            if let Some(f) = first_failure {
                if w.ack_times.last().is_some_and(|t| t > f) {
                    resumed = true;
                    say(Some(killed), "client writes resumed through the VIP");
                }
            }
        }
        if printed[milestones.len() - 1] && resumed {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!(
        "the failover did not complete within 60 s; see {}",
        manager.log.display()
    )
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

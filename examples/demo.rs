//! `make demo`: a VPC in a box on this machine (network namespaces: a router
//! whose table routes the VIP, three MariaDB hosts, a client), the vipkeeper
//! agents, a client writing through the VIP — then kill -9 of the master,
//! narrated as it happens, a summary, a report and its timeline picture.
//! Everything is removed at the end, also on Ctrl-C.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use support::agent::Agent;
use support::netns::Netns;
use support::vpc::{VpcCluster, VIP};
use support::writer::{WriteTarget, Writer};
use support::Flavor;

fn say(at: Option<Instant>, text: &str) {
    let clock = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let time = &clock[11..23];
    match at {
        Some(t0) => println!("{time}  +{:>5} ms  {text}", t0.elapsed().as_millis()),
        None => println!("{time}             {text}"),
    }
}

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

    say(None, "building a VPC in a box: a router (its table plays the VPC route table), three DB hosts and a client, each in its own network namespace");
    say(None, "starting MariaDB 10.11 on db1 (10.77.1.11), db2 (10.77.2.12), db3 (10.77.3.13): db1 is the master, semi-sync AFTER_SYNC");
    say(None, &format!("the VIP {VIP}: routed by the router to db1, held on db1's lo; the vipkeeper agent runs on the router, a host agent on each DB host"));
    // Bound in this order so that they drop in reverse: agents, servers, then the namespaces.
    let VpcCluster {
        vpc,
        mut cluster,
        manager,
        hosts,
        ..
    } = VpcCluster::start(Flavor::Mariadb, &bin, "demo").await?;
    say(
        None,
        &format!("the client (10.77.9.2) writes through {VIP}:3306, one row per write"),
    );
    let writer = Writer::start_to(
        WriteTarget::Address(VIP.into(), 3306),
        Some(vpc.client.name.clone()),
    );
    let writer_epoch = SystemTime::now() - writer.started.elapsed();
    writer.wait_for_more(300, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let pid = cluster.master().pid().unwrap_or(0);
    let log_len = manager.log_text().len();
    let host_log_lens: Vec<usize> = hosts.iter().map(|h| h.log_text().len()).collect();
    println!();
    let killed = Instant::now();
    let before = writer.snapshot().acknowledged.len();
    say(
        Some(killed),
        &format!("kill -9 of the master's mysqld (db1, pid {pid})"),
    );
    cluster.node_mut("db1").kill9();

    narrate(
        &manager,
        &hosts,
        log_len,
        &host_log_lens,
        &writer,
        before,
        killed,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = writer.started;
    let writes = writer.stop().await;

    let new_master = if vpc.vip_route().contains(&vpc.hosts[1].1) {
        "db2"
    } else {
        "db3"
    };
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

    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/demo");
    std::fs::create_dir_all(&out_dir)?;
    let svg = write_report(&cluster.dir, &out_dir, &writes, writer_epoch)?;

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

/// Prints the milestones as the agents log them, with the time since the kill.
async fn narrate(
    manager: &Agent,
    hosts: &[Agent],
    from: usize,
    host_from: &[usize],
    writer: &Writer,
    before: usize,
    killed: Instant,
) -> Result<()> {
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
            "VIP moved: the router now routes it to the new master",
        ),
        ("writable: Ok", "new master writable"),
        ("failover step repoint", "replica repointed"),
        ("replaced db1", "failover done"),
    ];
    let mut printed = vec![false; milestones.len()];
    let mut host_printed = vec![false; hosts.len()];
    let mut resumed = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let log = manager.log_text();
        let new = log.get(from..).unwrap_or("");
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
                    .get(host_from[i]..)
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
        let w = writer.snapshot();
        // Resumed: a write acknowledged after the first failure the kill caused.
        let first_failure = w
            .error_times
            .iter()
            .find(|t| writer.started + **t >= killed);
        if !resumed && w.acknowledged.len() > before {
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

/// `vipkeeper report` of the failover's journal with the client's writes;
/// returns the SVG's path (the summary sits beside it as .txt).
fn write_report(
    cluster_dir: &Path,
    out: &Path,
    writes: &support::writer::Writes,
    epoch: SystemTime,
) -> Result<PathBuf> {
    let journals = cluster_dir.join("state/demo/journal");
    let journal = std::fs::read_dir(&journals)?
        .filter_map(|e| Some(e.ok()?.path()))
        .max()
        .context("no failover journal")?;
    let timeline = vipkeeper::timeline::read_journal(&std::fs::read_to_string(&journal)?)
        .map_err(anyhow::Error::msg)?;
    // The client as one mark per 5 ms: every failure, and a success where there was one.
    let mut events = Vec::new();
    let mut last_ok_bucket = None;
    for t in &writes.ack_times {
        let bucket = t.as_millis() / 5;
        if last_ok_bucket != Some(bucket) {
            events.push((*t, true));
            last_ok_bucket = Some(bucket);
        }
    }
    events.extend(writes.error_times.iter().map(|t| (*t, false)));
    let client: Vec<vipkeeper::timeline::ClientEvent> = events
        .into_iter()
        .map(|(t, ok)| {
            let at = epoch + t;
            let at_ms = match at.duration_since(timeline.started) {
                Ok(d) => d.as_secs_f64() * 1000.0,
                Err(e) => -e.duration().as_secs_f64() * 1000.0,
            };
            vipkeeper::timeline::ClientEvent { at_ms, ok }
        })
        .filter(|c| c.at_ms > -1500.0)
        .collect();
    let svg = out.join("failover.svg");
    std::fs::write(&svg, vipkeeper::timeline::render_svg(&timeline, &client))?;
    std::fs::write(
        svg.with_extension("txt"),
        vipkeeper::timeline::summary(&timeline),
    )?;
    std::fs::copy(&journal, out.join("failover.jsonl"))?;
    Ok(svg)
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

//! `make demo DEMO_AURORA=1`: an Aurora cluster in a box. The RDS API, an
//! NLB target group and a Route 53 zone live in the moto emulator; three
//! MariaDB hosts in network namespaces stand in for the instances db1..db3;
//! the router plays the NLB (it sends the NLB's address to the target
//! group's one target). The vipkeeper agent follows Aurora's writer; a
//! client writes through the NLB. Then Aurora promotes db2 — the API
//! first, the old writer gone, the new one writable — narrated as vipkeeper
//! follows. Everything is removed at the end, also on Ctrl-C.

use vipkeeper_harness as support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use support::moto::Moto;
use support::narrate::say;
use support::netns::Netns;
use support::vpc::{RouteTables, VpcHosts, VIP};
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
    if let Err(why) = Moto::available() {
        bail!("DEMO_AURORA=1 needs the moto emulator: {why}");
    }
    let bin = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: demo_aurora PATH-TO-vipkeeper")?;
    say(None, "building an Aurora cluster in a box: the RDS API, an NLB target group and a Route 53 zone in the moto emulator; three MariaDB hosts in network namespaces stand in for the instances db1, db2, db3 (db1 the writer)");
    say(None, &format!("the router plays the NLB: it sends {VIP}, the NLB's address, to the target group's one target; the vipkeeper agent runs on the router and follows the writer"));
    let VpcHosts {
        vpc,
        cluster,
        hosts: _agents,
        config,
    } = VpcHosts::start(Flavor::Mariadb, &bin, "demo", RouteTables::Aurora).await?;
    let nlb = vpc.nlb.as_ref().context("no NLB plane")?;
    let manager = vpc.start_manager(&bin, &config, &cluster.dir, "manager");
    manager.wait_for_log("healthy: db1 is Aurora's writer", Duration::from_secs(60));
    say(None, "the agent: db1 is Aurora's writer and clients go there (every instance asked over SQL each second, the RDS API beside)");
    say(
        None,
        &format!("the client (10.77.9.2) writes through the NLB, {VIP}:3306, one row per write"),
    );
    let writer = Writer::start_to(
        WriteTarget::Address(VIP.into(), 3306),
        Some(vpc.client.name.clone()),
    );
    writer.wait_for_more(300, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    println!();
    let t0 = Instant::now();
    let log_from = manager.log_text().len();
    say(
        Some(t0),
        "Aurora promotes db2: FailoverDBCluster (the RDS API names db2 at once)",
    );
    nlb.aurora_fail_over("db2")?;
    say(
        Some(t0),
        "the old writer db1 goes away (kill -9 of its mysqld)",
    );
    let mut cluster = cluster;
    cluster.node_mut("db1").kill9();
    let killed = Instant::now();
    cluster
        .node("db2")
        .exec(&["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only=OFF"])
        .await?;
    let writable = Instant::now();
    say(Some(t0), "db2 is writable");
    cluster.node("db3").exec(&["STOP SLAVE"]).await?;
    cluster
        .attach(cluster.node("db3"), cluster.node("db2"), None)
        .await?;

    let milestones = [
        (
            "no instance is the writer now",
            "agent: no writer for a moment",
        ),
        ("is the new writer", "agent: a new writer seen"),
        (
            "is Aurora's new writer",
            "agent: confirmed on a second look",
        ),
        (
            "clients now go to db2",
            "agent: the NLB target group and the writer record moved",
        ),
        ("reader record:", "agent: the reader record follows"),
    ];
    let mut printed = [false; 5];
    let (mut nlb_said, mut resumed) = (false, false);
    let acknowledged_before = writer.snapshot().acknowledged.len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(printed[3] && nlb_said && resumed) {
        if Instant::now() > deadline {
            bail!(
                "clients did not follow db2 within 60 s; see {}",
                manager.log.display()
            );
        }
        let log = manager.log_text();
        for (i, (needle, words)) in milestones.iter().enumerate() {
            if printed[i] {
                continue;
            }
            if let Some(line) = log
                .get(log_from..)
                .unwrap_or("")
                .lines()
                .find(|l| l.contains(needle))
            {
                printed[i] = true;
                let detail = line.split_once(": ").map(|(_, d)| d).unwrap_or("");
                say(
                    Some(t0),
                    &format!(
                        "{words} — {}",
                        detail.split(" cluster=").next().unwrap_or(detail)
                    ),
                );
            }
        }
        if let Some((at, node)) = nlb.last_switch() {
            if !nlb_said && at > writable && node == "db2" {
                nlb_said = true;
                say(
                    Some(t0),
                    &format!(
                        "NLB data plane: {VIP} now goes to db2 ({} ms after db2 became writable)",
                        (at - writable).as_millis()
                    ),
                );
            }
        }
        let w = writer.snapshot();
        if !resumed && w.acknowledged.len() > acknowledged_before {
            let since_kill = killed - writer.started;
            if w.ack_times.last().is_some_and(|t| *t > since_kill) && printed[3] {
                resumed = true;
                say(Some(t0), "client writes resumed through the NLB, on db2");
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = writer.started;
    let writes = writer.stop().await;
    let since_kill = killed - started;
    let gap = writes
        .ack_times
        .windows(2)
        .filter(|w| w[1] > since_kill)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    let late_lost = writes
        .missing_on(cluster.node("db2"))
        .await?
        .iter()
        .filter(|id| {
            writes
                .acknowledged
                .iter()
                .position(|a| a == *id)
                .is_some_and(|i| writes.ack_times[i] > since_kill + Duration::from_millis(500))
        })
        .count();
    println!();
    say(None, "summary");
    println!("    the writer:                           db2 (the NLB sends {VIP} there; the writer record names it)");
    println!(
        "    targets in the target group:          {:?}",
        nlb.targets()?
    );
    println!(
        "    the writer record:                    {:?}",
        nlb.record()?
    );
    println!(
        "    the reader record:                    {:?}",
        nlb.readers()?
    );
    println!("    the client's longest pause in writes: {} ms (Aurora's own promotion, here the stand-in's, included)", gap.as_millis());
    println!(
        "    acknowledged writes:                  {}",
        writes.acknowledged.len()
    );
    println!("    writes acknowledged after the promotion and missing on db2: {late_lost}");
    if late_lost > 0 {
        bail!("{late_lost} acknowledged write(s) missing on the new writer");
    }
    Ok(())
}

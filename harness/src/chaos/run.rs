//! One chaos scenario from start to verdict: build the stage, start the
//! client and the checker, prepare and inject the fault, follow the
//! manager to the end the fault should come to, then count.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::checker::Checker;
use super::flows;
use super::setup::{until, Aws, Stage, LONG, VIP};
use super::tally::Outcome;
use super::{Fault, Scenario};
use crate::moto::vip_targets;
use crate::writer::{WriteTarget, Writer, Writes};
use crate::TestCluster;

/// Runs `sc` with the vipkeeper binary `bin`; never panics: a scenario the
/// harness could not run says why in `error`.
pub async fn run(bin: PathBuf, sc: Scenario) -> Outcome {
    let started = Instant::now();
    let joined = tokio::spawn(async move {
        let mut out = Outcome::new(sc);
        let r = scenario(&bin, &mut out).await;
        (out, r)
    })
    .await;
    let mut out = match joined {
        Ok((out, Ok(()))) => out,
        Ok((mut out, Err(e))) => {
            out.error = Some(format!("{e:#}"));
            out
        }
        Err(e) => {
            let mut out = Outcome::new(sc);
            out.error = Some(format!("the scenario panicked: {e}"));
            out
        }
    };
    out.seconds = started.elapsed().as_secs_f64();
    out
}

async fn scenario(bin: &std::path::Path, out: &mut Outcome) -> Result<()> {
    let sc = out.scenario;
    let mut stage = Stage::build(bin, &sc).await?;
    let played = play(&mut stage, out).await;
    if played.is_err() || !out.passed() || std::env::var_os("CHAOS_KEEP").is_some() {
        keep_evidence(&stage, &sc);
    }
    played
}

/// A failed scenario's manager log and failover reports (every
/// scenario's with CHAOS_KEEP=1), kept in target/chaos/ for a look after
/// the run (the cluster is removed).
fn keep_evidence(stage: &Stage, sc: &Scenario) {
    let to = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/chaos")
        .join(format!(
            "{}-{}-{}",
            sc.index,
            sc.fault.slug(),
            sc.flavor.name()
        ));
    let _ = std::fs::create_dir_all(&to);
    let _ = std::fs::copy(&stage.manager.log, to.join("agent.log"));
    let reports = stage.cluster.dir.join("state/main/reports");
    for f in std::fs::read_dir(reports).into_iter().flatten().flatten() {
        let _ = std::fs::copy(f.path(), to.join(f.file_name()));
    }
    eprintln!("  evidence kept in {}", to.display());
}

async fn play(stage: &mut Stage, out: &mut Outcome) -> Result<()> {
    let sc = out.scenario;
    let writer = match &stage.vpc {
        Some(vpc) => Writer::start_to(
            WriteTarget::Address(VIP.into(), 3306),
            Some(vpc.client.name.clone()),
        ),
        None => Writer::start(stage.cluster.vip_target()),
    };
    if !wait_writes(&writer, 100, LONG).await {
        anyhow::bail!("the client could not write before the fault");
    }
    stage.cluster.wait_replicated(LONG).await?;
    let old_port = match (&stage.proxy, sc.fault) {
        (Some(p), Fault::BlackHole) => p.port,
        _ => stage.cluster.master().port,
    };
    // After the preparation: an errant transaction is written by making a
    // replica writable for a moment, which is the harness, not a finding.
    flows::prepare(stage, &sc, &writer).await?;
    // From where the client is, the way it reaches each node.
    let checker = match &stage.vpc {
        Some(vpc) => Checker::start_in(
            stage
                .cluster
                .servers
                .iter()
                .map(|s| (s.name.clone(), s.host.clone(), s.port))
                .collect(),
            Some(vpc.client.name.clone()),
        ),
        None => Checker::start(&stage.cluster, &[("db1", old_port)]),
    };
    let fault_at = writer.started.elapsed();
    flows::inject(stage, &sc);
    if let Err(why) = flows::follow(stage, &sc, out).await {
        out.hung = Some(why);
    }
    if out.no_master.is_none()
        && !wait_writes(&writer, 20, Duration::from_secs(20)).await
        && out.hung.is_none()
    {
        out.hung = Some("the client could not write through the VIP within 20 s".into());
    }
    // A second more: what happens just after the end counts too.
    tokio::time::sleep(Duration::from_secs(1)).await;
    out.checked = checker.stop().await;
    if out.checked.samples < 100 {
        anyhow::bail!(
            "the read_only checker took only {} samples: its verdict would mean nothing",
            out.checked.samples
        );
    }
    let writes = writer.stop().await;
    out.acknowledged = writes.acknowledged.len();
    out.writable_ms = writes.first_write_off(fault_at, stage.cluster.node("db1").server_id);
    count(stage, &sc, &writes, out).await?;
    // The old master comes back (SIGCONT, the network healed): the manager
    // must fence it, as it is writable and no longer the master.
    match (sc.fault, &stage.proxy) {
        (Fault::Stop, _) => {
            stage.cluster.node("db1").resume();
            out.notes
                .push(fenced_after_return(&stage.cluster, "SIGCONT").await);
        }
        (Fault::BlackHole, Some(p)) => {
            p.heal();
            out.notes
                .push(fenced_after_return(&stage.cluster, "the network returned").await);
        }
        (Fault::NetBlackHole, _) => {
            if let Some(vpc) = &stage.vpc {
                vpc.heal(0)?;
            }
            out.notes
                .push(fenced_after_return(&stage.cluster, "the network returned").await);
        }
        _ => {}
    }
    Ok(())
}

/// Lost writes on the new master; what its replicas lack; what the report
/// says may be lost.
async fn count(stage: &Stage, sc: &Scenario, writes: &Writes, out: &mut Outcome) -> Result<()> {
    let c = &stage.cluster;
    let master = match &stage.vpc {
        Some(vpc) => {
            let node = vpc.vip_node().with_context(|| {
                format!("the router routes the VIP to no node: {}", vpc.vip_route())
            })?;
            c.node(&node)
        }
        None => {
            let target: u16 = std::fs::read_to_string(c.vip_target())?.trim().parse()?;
            c.servers
                .iter()
                .find(|s| s.port == target)
                .with_context(|| format!("the VIP names port {target}, no node"))?
        }
    };
    out.new_master = Some(master.name.clone());
    if let Some(aws) = &stage.aws {
        vip_routes(aws, c, &master.name, out).await?;
    }
    if !master.is_alive() {
        out.notes.push(format!(
            "the VIP still names {}, which is down: no master to count on",
            master.name
        ));
        return Ok(());
    }
    out.lost = writes.missing_on(master).await?;
    let reports = reports(c)?;
    for id in &out.lost {
        let server = writes
            .acknowledged
            .iter()
            .position(|a| a == id)
            .map(|i| writes.ack_servers[i]);
        let by = c
            .servers
            .iter()
            .find(|s| Some(s.server_id) == server)
            .map_or("?".to_string(), |s| s.name.clone());
        // Unsavable: async, acknowledged by db1 alone, db1's host gone.
        let named = reports
            .iter()
            .any(|r| r["old_master"] == by.as_str() && r.to_string().contains("may be lost"));
        if named {
            out.loss_named += 1;
        }
        if by == "db1" && !sc.host_alive && !sc.semi_sync && named {
            out.unsavable += 1;
        }
        out.lost_by.insert(by);
    }
    // What the failovers salvaged or levelled, in short.
    for r in &reports {
        let salvaged = r["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["step"] == "salvage" || s["step"] == "level")
            .filter_map(|s| s["detail"].as_str())
            .filter(|d| !d.starts_with("nothing"))
            .map(|d| d.chars().take(60).collect::<String>() + "…");
        out.notes.extend(salvaged);
    }
    for s in &c.servers {
        if s.name == master.name || s.name == "db1" || !s.is_alive() {
            continue;
        }
        // The errant replica: its own write may have broken its replication
        // before the fault (MariaDB's strict GTID mode stops it); it must be
        // excluded and named, and is not counted short.
        if sc.fault == Fault::ErrantGtid && s.name == sc.replica {
            let verdicts: Vec<String> = reports
                .iter()
                .flat_map(|r| r["considered"].as_array().cloned().unwrap_or_default())
                .filter(|c| c["name"] == s.name.as_str())
                .map(|c| format!("{} ({})", c["verdict"], c["reason"]))
                .collect();
            if verdicts.iter().any(|v| !v.starts_with("\"excluded\"")) || verdicts.is_empty() {
                out.wrong_action = Some(format!(
                    "the errant replica {} was not excluded: {verdicts:?}",
                    s.name
                ));
            }
            out.notes.push(format!(
                "{} (errant) in the report: {}",
                s.name,
                verdicts.join(", ")
            ));
            continue;
        }
        match c.source_address(&s.name).await.ok().flatten() {
            Some((h, p)) if h == master.host && p == master.port => {
                let short = caught_up(s, writes, &out.lost).await?;
                if short > 0 {
                    out.replicas_short.push((s.name.clone(), short));
                }
            }
            other => out
                .not_repointed
                .push(format!("{} left replicating from port {other:?}", s.name)),
        }
    }
    Ok(())
}

/// Every route table must send the VIP to the ENI of the node the script
/// named: anything else is two VIP targets (or none).
async fn vip_routes(aws: &Aws, c: &TestCluster, master: &str, out: &mut Outcome) -> Result<()> {
    let i = c.servers.iter().position(|s| s.name == master).unwrap_or(0);
    let want = &aws.vpc.enis[i];
    let targets = vip_targets(&aws.moto, &aws.vpc.route_tables, VIP).await?;
    if targets.iter().any(|t| t.as_ref() != Some(want)) {
        out.vip_split = Some(format!(
            "the route tables send the VIP to {targets:?}, the script to {master} ({want})"
        ));
    }
    let throttled = aws
        .proxy
        .throttled
        .load(std::sync::atomic::Ordering::SeqCst);
    if throttled > 0 {
        out.notes
            .push(format!("the EC2 API throttled {throttled} route change(s)"));
    }
    Ok(())
}

/// Every failover report of the scenario's cluster, oldest first.
fn reports(c: &TestCluster) -> Result<Vec<serde_json::Value>> {
    let dir = c.dir.join("state/main/reports");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|f| Ok(serde_json::from_str(&std::fs::read_to_string(f)?)?))
        .collect()
}

/// How many of the acknowledged writes the master holds (all but `lost`)
/// the replica still lacks after up to 20 s of replicating.
async fn caught_up(
    replica: &crate::server::Server,
    writes: &Writes,
    lost: &[u64],
) -> Result<usize> {
    let mut short = 0;
    for _ in 0..100 {
        short = writes
            .missing_on(replica)
            .await?
            .into_iter()
            .filter(|id| !lost.contains(id))
            .count();
        if short == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(short)
}

/// The old master back after the failover: how long until it is read-only
/// (the manager fences a node writable beside the master).
async fn fenced_after_return(c: &TestCluster, what: &str) -> String {
    let t = Instant::now();
    let mut ro = false;
    for _ in 0..500 {
        if c.node("db1")
            .query_value("SELECT @@read_only AS ro", "ro")
            .await
            .ok()
            .flatten()
            .as_deref()
            == Some("1")
        {
            ro = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if ro {
        format!(
            "the old master was fenced {:.0} ms after {what}",
            t.elapsed().as_secs_f64() * 1000.0
        )
    } else {
        format!("the old master was NOT fenced within 10 s after {what}")
    }
}

/// Waits until `n` more writes are acknowledged; false after `timeout`.
pub async fn wait_writes(writer: &Writer, n: usize, timeout: Duration) -> bool {
    let base = writer.snapshot().acknowledged.len();
    until(timeout, || writer.snapshot().acknowledged.len() >= base + n).await
}

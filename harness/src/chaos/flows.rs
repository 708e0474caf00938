//! Each fault's three parts: what is arranged before it (a replica left
//! behind, an errant transaction, a hook that kills the candidate), the
//! fault itself, and the end the manager must bring it to — or must not.

use std::time::Duration;

use anyhow::Result;

use super::run::wait_writes;
use super::setup::{until, wait_log, Stage, KILLED_AFTER, LONG};
use super::tally::Outcome;
use super::{Fault, Scenario};
use crate::agent::Agent;
use crate::fault_proxy::Fault as FaultKind;
use crate::writer::Writer;

/// How long after the fault (or after the API is back) the manager has to
/// replace the master.
const DEADLINE: Duration = Duration::from_secs(30);

pub async fn prepare(stage: &mut Stage, sc: &Scenario, writer: &Writer) -> Result<()> {
    let c = &stage.cluster;
    match sc.fault {
        Fault::LaggingReplica | Fault::PreferredBehind => {
            let behind = if sc.fault == Fault::PreferredBehind {
                "db2"
            } else {
                sc.replica
            };
            c.node(behind)
                .exec(&[sc.flavor.stop_io_thread_sql()])
                .await?;
            if !wait_writes(writer, 50, LONG).await {
                anyhow::bail!("no writes while {behind} was left behind");
            }
        }
        Fault::ErrantGtid => {
            c.node(sc.replica)
                .exec(&[
                    sc.flavor.writable_sql(),
                    "CREATE DATABASE errant_db",
                    sc.flavor.read_only_sql(),
                ])
                .await?;
        }
        Fault::HeldBack => {
            for node in ["db2", "db3"] {
                c.node(node).exec(&[sc.flavor.stop_io_thread_sql()]).await?;
            }
            if !wait_writes(writer, 20, LONG).await {
                anyhow::bail!("no writes while the replicas were held back");
            }
            // The manager probes db1 once more: it knows what they lack.
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        Fault::CandidateKilled => candidate_killer(stage)?,
        _ => {}
    }
    Ok(())
}

/// A VIP hook that kills -9 whichever node the failover is about to make
/// the master (the VIP step runs after it was detached, before it is made
/// writable), once, and notes its name.
fn candidate_killer(stage: &Stage) -> Result<()> {
    let c = &stage.cluster;
    let pids: String = c
        .servers
        .iter()
        .filter_map(|s| Some(format!("{} {} {}\n", s.port, s.pid()?, s.name)))
        .collect();
    let d = c.dir.display().to_string();
    std::fs::write(format!("{d}/pids"), pids)?;
    let hook = format!(
        "#!/bin/sh\n[ -e {d}/hook-done ] && exit 0\n\
         for a in \"$@\"; do case \"$a\" in --new_master_port=*) port=\"${{a#*=}}\";; esac; done\n\
         awk -v p=\"$port\" '$1 == p {{print $3}}' {d}/pids > {d}/hook-done\n\
         kill -9 $(awk -v p=\"$port\" '$1 == p {{print $2}}' {d}/pids)\n"
    );
    let path = format!("{d}/vip-hook");
    std::fs::write(&path, hook)?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    Ok(())
}

pub fn inject(stage: &mut Stage, sc: &Scenario) {
    match (sc.fault, &stage.aws) {
        (Fault::AwsDown, Some(aws)) => aws.proxy.set(FaultKind::Unavailable),
        (Fault::AwsUnreachable, Some(aws)) => aws.proxy.set(FaultKind::Drop),
        (Fault::RouteTableFails, Some(aws)) => aws
            .proxy
            .refuse_containing(Some(aws.vpc.route_tables[REFUSING].clone())),
        _ => {}
    }
    match sc.fault {
        Fault::Stop => stage.cluster.master().pause(),
        Fault::BlackHole | Fault::ManagerCutOff => {
            if let Some(p) = &stage.proxy {
                p.partition()
            }
        }
        Fault::NetBlackHole => {
            if let Some(vpc) = &stage.vpc {
                if let Err(e) = vpc.black_hole(0) {
                    eprintln!("  could not black-hole db1's host: {e:#}");
                }
            }
        }
        _ => stage.cluster.node_mut("db1").kill9(),
    }
}

/// Which of the three route tables refuses (`Fault::RouteTableFails`).
const REFUSING: usize = 1;

/// How long the EC2 API stays down, or the table refuses, from the kill
/// (at least until the move has failed once): past the backend's deadline
/// (15 s).
const OUTAGE: Duration = Duration::from_secs(18);

/// The EC2 API (or one route table) fails from the kill on: the failover
/// must keep trying the VIP and make nothing writable meanwhile; once the
/// API is back it must end by itself.
async fn aws_outage(stage: &mut Stage, out: &mut Outcome) -> Result<(), String> {
    let started = std::time::Instant::now();
    let m = &stage.manager;
    wait_log(m, "trying again in", DEADLINE)
        .await
        .map_err(|e| format!("{e:#}"))?;
    tokio::time::sleep(OUTAGE.saturating_sub(started.elapsed())).await;
    for node in ["db2", "db3"] {
        if !stage.cluster.read_only(node).await {
            out.wrong_action = Some(format!(
                "{node} was made writable while the VIP's routes could not be moved to it"
            ));
        }
    }
    let tries = m.count_in_log("trying again in");
    if let Some(aws) = &stage.aws {
        aws.proxy.set(FaultKind::None);
        aws.proxy.refuse_containing(None);
    }
    out.notes.push(format!(
        "the VIP move failed {tries} time(s) while the API failed; nothing writable until the routes moved"
    ));
    wait_log(&stage.manager, "replaced db1", DEADLINE)
        .await
        .map_err(|e| format!("{e:#}"))
}

/// The manager, paused by the test hook after detaching the candidate, is
/// killed and started again: it must finish that failover from its record.
async fn manager_killed(stage: &mut Stage, out: &mut Outcome) -> Result<(), String> {
    let hung = |e: anyhow::Error| format!("{e:#}");
    let paused = format!("test hook: pausing after step {KILLED_AFTER}");
    wait_log(&stage.manager, &paused, DEADLINE)
        .await
        .map_err(hung)?;
    stage.manager.signal(nix::sys::signal::Signal::SIGKILL);
    let _ = stage.manager.wait_exit(Duration::from_secs(10));
    stage.manager = Agent::start_in(
        &stage.bin,
        &stage.config,
        &stage.cluster.dir,
        None,
        "agent-restarted",
        &[],
    );
    wait_log(&stage.manager, "finishing failover", DEADLINE)
        .await
        .map_err(hung)?;
    out.notes.push(format!(
        "killed after step {KILLED_AFTER}; restarted, it finished the failover"
    ));
    wait_log(&stage.manager, "replaced db1", DEADLINE)
        .await
        .map_err(hung)
}

/// Follows the manager to the end `sc` must come to; Err(what never came).
/// A wrong action goes to `out.wrong_action`.
pub async fn follow(stage: &mut Stage, sc: &Scenario, out: &mut Outcome) -> Result<(), String> {
    let m = &stage.manager;
    let hung = |e: anyhow::Error| format!("{e:#}");
    match sc.fault {
        Fault::AwsDown | Fault::AwsUnreachable | Fault::RouteTableFails => {
            aws_outage(stage, out).await
        }
        Fault::ManagerKilled => manager_killed(stage, out).await,
        Fault::ErrantGtid => errant(stage, sc, out).await,
        Fault::ManagerCutOff => {
            // Long enough for several rounds of detection.
            tokio::time::sleep(Duration::from_secs(8)).await;
            let log = m.log_text();
            if log.contains("replaced db1") || log.contains("FAILED at step") {
                out.wrong_action = Some("failed over although only the manager was cut off".into());
            }
            if let Some(p) = &stage.proxy {
                p.heal();
            }
            Ok(())
        }
        Fault::CandidateKilled => {
            let failed = until(DEADLINE, || {
                let l = m.log_text();
                l.contains("FAILED at step") || l.contains("replaced db1")
            })
            .await;
            if !failed {
                return Err(format!("no failover ended within {DEADLINE:?} of the kill"));
            }
            if !m.log_text().contains("FAILED at step") {
                out.notes
                    .push("the failover got past the hook: the candidate survived".into());
                return Ok(());
            }
            let killed = std::fs::read_to_string(stage.cluster.dir.join("hook-done"))
                .unwrap_or_default()
                .trim()
                .to_string();
            if stage.cluster.servers.iter().any(|s| s.name == killed) {
                stage.cluster.node_mut(&killed).kill9(); // reap it
            }
            out.notes.push(format!(
                "the failover to {killed} failed when it was killed; acked, then done"
            ));
            ack(stage)?;
            wait_log(&stage.manager, "replaced db1", DEADLINE)
                .await
                .map_err(hung)
        }
        Fault::SecondFailure => {
            wait_log(m, "replaced db1", DEADLINE).await.map_err(hung)?;
            let first = stage.cluster.vip_node();
            wait_log(m, &format!("healthy: {first} is the master"), LONG)
                .await
                .map_err(hung)?;
            stage.cluster.node_mut(&first).kill9();
            let m = &stage.manager;
            wait_log(m, "within the block period", DEADLINE)
                .await
                .map_err(hung)?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            if m.log_text().contains(&format!("replaced {first}")) {
                out.wrong_action = Some(format!(
                    "failed over from {first} again within the block period"
                ));
                return Ok(());
            }
            out.notes.push(format!(
                "{first} killed too: blocked until acked, then replaced"
            ));
            ack(stage)?;
            wait_log(&stage.manager, &format!("replaced {first}"), DEADLINE)
                .await
                .map_err(hung)
        }
        _ => wait_log(m, "replaced db1", DEADLINE).await.map_err(hung),
    }
}

/// The errant replica is excluded; the other is promoted — caught up from
/// the errant one first if it received less (MySQL marks the errant
/// transactions done first). Where that cannot be done (MariaDB), the
/// failover must be refused rather than lose what only the errant replica
/// received.
async fn errant(stage: &mut Stage, sc: &Scenario, out: &mut Outcome) -> Result<(), String> {
    let m = &stage.manager;
    let refusal = format!(
        "{} received the most but cannot be promoted nor serve as catch-up source",
        sc.replica
    );
    let ended = until(DEADLINE, || {
        let l = m.log_text();
        l.contains("replaced db1") || l.contains(&refusal)
    })
    .await;
    if !ended {
        return Err(format!(
            "no failover nor refusal within {DEADLINE:?} of the kill"
        ));
    }
    if !m.log_text().contains("replaced db1") {
        out.no_master = Some(format!(
            "refused, rightly: the errant {} received the most, and promoting the other would lose what only it holds",
            sc.replica
        ));
        out.notes.push(out.no_master.clone().unwrap_or_default());
    }
    Ok(())
}

/// `vipkeeper ack main`, as the operator would.
fn ack(stage: &Stage) -> Result<(), String> {
    let (code, said) = crate::vipkeeper_on(&stage.config, &["ack", "main"], &[]);
    if code != 0 {
        return Err(format!("vipkeeper ack failed ({code}): {said}"));
    }
    Ok(())
}

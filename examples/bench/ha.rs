//! `make bench`, several managers: the cost of consensus. The same crash
//! (kill -9 of the master's mysqld, semi-sync MariaDB, default agent
//! settings) handled by one manager alone and by three managers through a
//! real three-member etcd, where the leader fails over only once a
//! majority of managers cannot reach the master and records each step in
//! etcd before the next. Timed from the kill to the new master writable
//! (the leader's report) and to the client's first acknowledged write on
//! it.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};

use super::support::agent::Agent;
use super::support::etcd::{manager_config, Etcd};
use super::support::writer::Writer;
use super::support::{ClusterSpec, ConfigExtras, Flavor, TestCluster};
use super::{fmt_ms, latest_report, percentile};

pub async fn managers(bin: &Path, runs: usize) -> Result<String> {
    if let Err(why) = Etcd::available() {
        return Ok(format!("### Several managers\n\nnot measured: {why}\n"));
    }
    let mut rows = Vec::new();
    for managers in [1, 3] {
        let (mut writable, mut first_write) = (Vec::new(), Vec::new());
        for run in 1..=runs {
            match one_run(bin, managers).await {
                Ok((w, f)) => {
                    eprintln!(
                        "{managers} manager(s) run {run}: writable {}, first write {}",
                        fmt_ms(Some(w)),
                        fmt_ms(f)
                    );
                    writable.push(w);
                    first_write.extend(f);
                }
                Err(e) => eprintln!("{managers} manager(s) run {run} FAILED: {e:#}"),
            }
        }
        let n = writable.len();
        rows.push(format!(
            "| {managers} | {} | {} | {} | {} | {n} of {runs} |",
            fmt_ms(percentile(&mut writable.clone(), 50.0)),
            fmt_ms(percentile(&mut writable, 95.0)),
            fmt_ms(percentile(&mut first_write.clone(), 50.0)),
            fmt_ms(percentile(&mut first_write, 95.0)),
        ));
    }
    Ok(format!(
        "### Several managers: the cost of consensus\n\n\
         kill -9 of the master (MariaDB, semi-sync), default agent settings; three managers \
         coordinate through a three-member etcd on loopback (lease_ttl 10 s): the leader \
         waits for a majority of managers to see the master dead and records each step in \
         etcd before the next.\n\n\
         | managers | kill → writable p50 | p95 | kill → first client write p50 | p95 | runs |\n\
         |---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    ))
}

/// One crash: (ms to the new master writable, ms to the client's first
/// acknowledged write on it).
async fn one_run(bin: &Path, managers: usize) -> Result<(f64, Option<f64>)> {
    let mut spec = ClusterSpec::new(Flavor::Mariadb);
    spec.semi_sync = true;
    let mut cluster = TestCluster::start(spec).await?;
    cluster.create_writer_table(Duration::from_secs(30)).await?;
    let extras = ConfigExtras {
        cluster_toml: cluster.vip_script_toml()?,
        ..Default::default()
    };
    let config = cluster.write_config_with("bench", &extras)?;
    let etcd = match managers {
        1 => None,
        _ => Some(Etcd::start(&cluster.dir.join("etcd"), 3)?),
    };
    let mut agents = Vec::new();
    for i in 1..=managers {
        let name = format!("m{i}");
        let own = match &etcd {
            None => config.clone(),
            Some(etcd) => {
                let port = super::support::cluster::free_port()?;
                manager_config(&cluster, &config, &name, port, &etcd.endpoints(), "")?
            }
        };
        agents.push((
            name.clone(),
            Agent::start_in(bin, &own, &cluster.dir, None, &name, &[]),
        ));
    }
    let leads = "leads cluster bench: it acts";
    let deadline = Instant::now() + Duration::from_secs(60);
    while etcd.is_some() && !agents.iter().any(|(_, a)| a.log_text().contains(leads)) {
        anyhow::ensure!(Instant::now() < deadline, "no manager leads");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (_, a) in &agents {
        a.wait_for_log("healthy: db1 is the master", Duration::from_secs(30));
    }
    let writer = Writer::start(cluster.vip_target());
    writer.wait_for_more(200, Duration::from_secs(30)).await;
    cluster.wait_replicated(Duration::from_secs(30)).await?;
    // Every manager's view published: the followers have seen db1 alive.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let old_port = cluster.master().port;
    let fault_at = SystemTime::now();
    let fault_instant = Instant::now();
    cluster.node_mut("db1").kill9();
    let deadline = Instant::now() + Duration::from_secs(60);
    let leader = loop {
        if let Some((name, _)) = agents
            .iter()
            .find(|(_, a)| a.log_text().contains("replaced db1"))
        {
            break name.clone();
        }
        anyhow::ensure!(Instant::now() < deadline, "nobody replaced db1");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    writer.wait_for_more(20, Duration::from_secs(30)).await;
    let writer_started = writer.started;
    let writes = writer.stop().await;
    let state = match &etcd {
        None => "state".to_string(),
        Some(_) => format!("state-{leader}"),
    };
    let report = latest_report(&cluster.dir.join(state).join("bench/reports"))?;
    let started: SystemTime = humantime::parse_rfc3339(
        report["started_at"]
            .as_str()
            .context("a report without started_at")?,
    )?;
    let writable_at = report["steps"]
        .as_array()
        .context("a report without steps")?
        .iter()
        .find(|s| s["step"] == "make-writable")
        .map(|s| s["at_ms"].as_u64().unwrap_or(0) + s["elapsed_ms"].as_u64().unwrap_or(0))
        .context("no make-writable step")?;
    let writable = (started + Duration::from_millis(writable_at))
        .duration_since(fault_at)?
        .as_secs_f64()
        * 1000.0;
    let first_write = writes.first_write_elsewhere(fault_instant - writer_started, old_port);
    Ok((writable, first_write))
}

//! `make bench`, Aurora: the new writer writable → the NLB target group
//! switched (the router, playing the NLB's data plane, sends the first
//! packet to it) and the Route 53 writer record naming it. The agent
//! follows an Aurora cluster in the emulator whose instances real servers
//! stand in for; each promotion is made the way Aurora makes it (the API
//! first, the old writer read-only, then the new one writable), back and
//! forth between db1 and db2.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::support::vpc::{RouteTables, VpcHosts};
use super::support::Flavor;
use super::{fmt_ms, percentile};

pub async fn writer_changes(bin: &Path, runs: usize) -> Result<String> {
    let flavor = Flavor::Mariadb;
    let VpcHosts {
        vpc,
        cluster,
        hosts: _agents,
        config,
    } = VpcHosts::start(flavor, bin, "bench", RouteTables::Aurora).await?;
    let Some(nlb) = vpc.nlb.as_ref() else {
        bail!("no NLB plane");
    };
    let manager = vpc.start_manager(bin, &config, &cluster.dir, "manager");
    manager.wait_for_log("healthy: db1 is Aurora's writer", Duration::from_secs(60));
    let (mut to_nlb, mut to_dns) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let (from, to, i) = if run % 2 == 1 {
            ("db1", "db2", 1)
        } else {
            ("db2", "db1", 0)
        };
        // A steady cluster between runs (and the agent back to its slow pace).
        tokio::time::sleep(Duration::from_secs(2)).await;
        nlb.aurora_fail_over(to)?;
        cluster.node(from).exec(&[flavor.read_only_sql()]).await?;
        cluster.node(to).exec(&["SET GLOBAL read_only=OFF"]).await?;
        let writable = Instant::now();
        let ip = vpc.hosts[i].1.clone();
        let (mut nlb_ms, mut dns_ms) = (None, None);
        while nlb_ms.is_none() || dns_ms.is_none() {
            if writable.elapsed() > Duration::from_secs(30) {
                bail!("run {run}: clients did not follow {to} within 30 s");
            }
            if nlb_ms.is_none() {
                if let Some((at, node)) = nlb.last_switch() {
                    if node == to && at > writable {
                        nlb_ms = Some((at - writable).as_secs_f64() * 1000.0);
                    }
                }
            }
            if dns_ms.is_none() && nlb.record()? == [ip.clone()] {
                dns_ms = Some(writable.elapsed().as_secs_f64() * 1000.0);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let (n, d) = (nlb_ms.unwrap_or_default(), dns_ms.unwrap_or_default());
        eprintln!("aurora run {run} {from} -> {to}: NLB {n:.0} ms, Route 53 {d:.0} ms");
        to_nlb.push(n);
        to_dns.push(d);
    }
    Ok(format!(
        "### Aurora: the new writer writable → what clients use switched\n\n\
         The agent follows an Aurora cluster in the moto emulator (RDS API, an NLB IP target \
         group, a Route 53 private zone) whose instances MariaDB servers in network namespaces \
         stand in for; the router plays the NLB's data plane. Each promotion is made as Aurora \
         makes it (FailoverDBCluster, the old writer read-only, then the new one writable), \
         db1 → db2 and back, {runs} runs, default timings (1 s interval, 100 ms for 30 s after a \
         change; two looks confirm a writer). Measured from the new writer being writable to \
         the router sending the VIP to it (the NLB) and to the API returning the new record \
         (Route 53; resolvers then wait out the TTL, 1 s).\n\n\
         | what clients use | p50 | p95 | max |\n|---|---|---|---|\n\
         | NLB target group | {} | {} | {} |\n| Route 53 writer record | {} | {} | {} |\n\n\
         Published figures for the same job: the Aurora cluster endpoint leaves clients on the \
         old writer for 11-28 s (DNS, then `--read-only` errors); an RDS event → SNS → Lambda \
         retarget of an NLB took 4-5 minutes; RDS Proxy ~7 s; tracking the writer by \
         `innodb_read_only` and rewriting DNS by hand, 4-7 s.\n",
        fmt_ms(percentile(&mut to_nlb.clone(), 50.0)),
        fmt_ms(percentile(&mut to_nlb.clone(), 95.0)),
        fmt_ms(percentile(&mut to_nlb, 100.0)),
        fmt_ms(percentile(&mut to_dns.clone(), 50.0)),
        fmt_ms(percentile(&mut to_dns.clone(), 95.0)),
        fmt_ms(percentile(&mut to_dns, 100.0)),
    ))
}

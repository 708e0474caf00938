//! `make bench`, switchovers: the write-blocked window a client writing
//! through the VIP sees when `vipkeeper switchover` hands the master over,
//! in the namespace VPC with the agents running, with the VIP route in the
//! router's table and in the emulator's route tables.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::support::report::write_timeline;
use super::support::vpc::{RouteTables, VpcCluster, VIP};
use super::support::writer::{WriteTarget, Writer};
use super::support::Flavor;
use super::{fmt_ms, percentile, pictures};

/// One section per flavor and route-table place: p50/p95 of the window and
/// of the command's own duration.
pub async fn switchovers(bin: &Path, flavors: &[Flavor], runs: usize) -> Result<String> {
    let mut out = String::from(
        "### switchover — write-blocked window seen by a client writing through the VIP\n\n\
         The longest gap between two acknowledged writes of a client writing one row at a time \
         through the VIP while `vipkeeper switchover --yes` runs (its last write on the old \
         master to its first on the new one), in the namespace VPC with the agents running; \
         switching db1 → db2 and back in turn, each time once every replica has caught up and \
         a second has passed. Defaults: kill_grace 100 ms.\n\n\
         | flavor | VIP | runs | window p50 | p95 | command p50 | p95 |\n|---|---|---|---|---|---|---|\n",
    );
    for flavor in flavors {
        for (tables, label) in [
            (RouteTables::Router, "router's table (linux-route)"),
            (
                RouteTables::Emulator,
                "3 route tables in the emulator (aws-route-table)",
            ),
        ] {
            let (mut windows, mut commands) = (Vec::new(), Vec::new());
            match series(bin, *flavor, tables, runs, &mut windows, &mut commands).await {
                Ok(()) => {}
                Err(e) => eprintln!("switchover {} / {label}: {e:#}", flavor.name()),
            }
            out.push_str(&format!(
                "| {} | {label} | {} of {runs} | {} | {} | {} | {} |\n",
                flavor.name(),
                windows.len(),
                fmt_ms(percentile(&mut windows.clone(), 50.0)),
                fmt_ms(percentile(&mut windows, 95.0)),
                fmt_ms(percentile(&mut commands.clone(), 50.0)),
                fmt_ms(percentile(&mut commands, 95.0)),
            ));
        }
    }
    Ok(out)
}

async fn series(
    bin: &Path,
    flavor: Flavor,
    tables: RouteTables,
    runs: usize,
    windows: &mut Vec<f64>,
    commands: &mut Vec<f64>,
) -> Result<()> {
    let VpcCluster {
        vpc,
        cluster,
        manager,
        hosts,
        config,
    } = VpcCluster::start_with(flavor, bin, "bench", tables).await?;
    let writer = Writer::start_to(
        WriteTarget::Address(VIP.into(), 3306),
        Some(vpc.client.name.clone()),
    );
    writer.wait_for_more(200, Duration::from_secs(30)).await;
    let slug = tables.slug();
    for run in 1..=runs {
        let to = if run % 2 == 1 { "db2" } else { "db1" };
        let from = if to == "db2" { "db1" } else { "db2" };
        // A steady cluster, as an operator would switch over: the demoted
        // master of the run before has caught up again.
        cluster
            .wait_replicated_from(from, Duration::from_secs(30))
            .await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let started = writer.started.elapsed();
        let t = Instant::now();
        let config = config.to_str().unwrap_or_default();
        let out = vpc.run_on_router(
            bin,
            &["-c", config, "switchover", "bench", "--to", to, "--yes"],
        )?;
        let command = t.elapsed().as_secs_f64() * 1000.0;
        if !out.status.success() {
            bail!(
                "run {run}: switchover to {to} failed: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        writer.wait_for_more(100, Duration::from_secs(30)).await;
        let ended = writer.started.elapsed();
        let acks = writer.snapshot().ack_times;
        let window = acks
            .windows(2)
            .filter(|w| w[1] >= started && w[0] <= ended)
            .map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0)
            .fold(0.0, f64::max);
        eprintln!(
            "switchover {} / {slug} run {run} → {to}: write-blocked window {window:.0} ms, command {command:.0} ms",
            flavor.name()
        );
        windows.push(window);
        commands.push(command);
        let picture = pictures().join(format!("switchover-{}-{slug}-{run}.svg", flavor.name()));
        write_timeline(
            &cluster.dir.join("state/bench/journal"),
            &picture,
            &writer.snapshot(),
        )?;
    }
    let writes = writer.stop().await;
    let last = if runs % 2 == 1 { "db2" } else { "db1" };
    let lost = writes.missing_on(cluster.node(last)).await?.len();
    if lost > 0 {
        bail!("{lost} acknowledged writes lost");
    }
    drop((hosts, manager));
    Ok(())
}

//! `make bench`, the agent's footprint: RSS and CPU of one `vipkeeper
//! agent` watching 1 and 20 clusters of three real MariaDB nodes each at
//! 1 s ticks, and the latency of its HTTP API under 200 requests/s.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::support::agent::Agent;
use super::support::cluster::free_port;
use super::support::http::request;
use super::support::{ClusterSpec, Flavor, TestCluster};
use super::{percentile, pictures};

/// How long the footprint is measured, after a warm-up.
const MEASURE: Duration = Duration::from_secs(30);
const WARM_UP: Duration = Duration::from_secs(5);
/// The API load: requests per second, for how long.
const RATE: u32 = 200;
const LOAD: Duration = Duration::from_secs(15);

pub async fn footprint(bin: &Path) -> Result<String> {
    let mut out = String::from(
        "### the agent's footprint — RSS, CPU, HTTP API latency\n\n\
         One `vipkeeper agent` (release build) watching N clusters of three real MariaDB \
         10.11 nodes each on loopback, probe_interval 1 s, the HTTP API on. RSS: the \
         highest VmRSS sampled each second over 30 s, after a 5 s warm-up; CPU: \
         (utime + stime) over the same 30 s, as a share of one core. API: 200 requests/s \
         for 15 s, cycling /health, /status, /cluster/c1/primary?node=db1 and /metrics, \
         each timed from connect to the last byte (one connection per request).\n\n\
         | clusters (nodes) | RSS max | CPU (one core) | API p50 | API p99 | API max |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut clusters: Vec<TestCluster> = Vec::new();
    for n in [1usize, 20] {
        while clusters.len() < n {
            let c = TestCluster::start(ClusterSpec::new(Flavor::Mariadb))
                .await
                .with_context(|| format!("starting cluster {}", clusters.len() + 1))?;
            clusters.push(c);
        }
        let row = measure(bin, &clusters).await?;
        eprintln!("agent footprint, {n} cluster(s): {row}");
        out.push_str(&format!("| {n} ({}) | {row} |\n", n * 3));
    }
    Ok(out)
}

/// One config naming every cluster (c1, c2, ...), the API on `addr`.
fn config(clusters: &[TestCluster], addr: SocketAddr, dir: &Path) -> Result<std::path::PathBuf> {
    let mut text = String::new();
    for (i, c) in clusters.iter().enumerate() {
        let one = std::fs::read_to_string(c.write_config(&format!("c{}", i + 1))?)?;
        let at = one.find("[[cluster]]").context("a [[cluster]] table")?;
        if i == 0 {
            text.push_str(&one[..at].replace("listen = \"\"", &format!("listen = \"{addr}\"")));
        }
        text.push_str(&one[at..]);
        text.push('\n');
    }
    let path = dir.join("footprint.toml");
    std::fs::write(&path, text)?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(path)
}

/// (utime + stime) in clock ticks, and VmRSS in KiB, of `pid`.
fn usage(pid: u32) -> Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').context("/proc/pid/stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS")?;
    Ok((ticks, rss))
}

async fn measure(bin: &Path, clusters: &[TestCluster]) -> Result<String> {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let dir = pictures().join(format!("footprint-{}", clusters.len()));
    std::fs::create_dir_all(&dir)?;
    let config = config(clusters, addr, &dir)?;
    let agent = Agent::start(bin, &config, &dir);
    let deadline = Instant::now() + Duration::from_secs(60);
    while request(addr, "GET", "/health").map(|r| r.0).unwrap_or(0) != 200 {
        if Instant::now() > deadline {
            bail!("the agent never became healthy:\n{}", agent.log_text());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pid = agent.pid();
    tokio::time::sleep(WARM_UP).await;
    let (t0, _) = usage(pid)?;
    let started = Instant::now();
    let mut rss_max = 0;
    while started.elapsed() < MEASURE {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_max = rss_max.max(usage(pid)?.1);
    }
    let (t1, _) = usage(pid)?;
    let ticks_per_s = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100) as f64;
    let cpu = (t1 - t0) as f64 / ticks_per_s / started.elapsed().as_secs_f64() * 100.0;

    let paths = [
        "/health",
        "/status",
        "/cluster/c1/primary?node=db1",
        "/metrics",
    ];
    let mut pacing = tokio::time::interval(Duration::from_secs(1) / RATE);
    let mut calls = Vec::new();
    let load_started = Instant::now();
    let mut i = 0;
    while load_started.elapsed() < LOAD {
        pacing.tick().await;
        let path = paths[i % paths.len()];
        i += 1;
        calls.push(tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let r = request(addr, "GET", path);
            (
                t.elapsed().as_secs_f64() * 1000.0,
                r.map(|r| r.0).unwrap_or(0),
            )
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for c in calls {
        let (ms, code) = c.await?;
        if code == 200 {
            latencies.push(ms);
        } else {
            failed += 1;
        }
    }
    drop(agent);
    if failed > 0 {
        bail!("{failed} API requests failed");
    }
    let max = latencies.iter().cloned().fold(0.0, f64::max);
    Ok(format!(
        "{:.1} MiB | {cpu:.2} % | {:.2} ms | {:.2} ms | {max:.2} ms",
        rss_max as f64 / 1024.0,
        percentile(&mut latencies.clone(), 50.0).unwrap_or(0.0),
        percentile(&mut latencies, 99.0).unwrap_or(0.0),
    ))
}

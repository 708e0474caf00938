//! `make sandbox FLAVOR=mariadb|mysql` / `make sandbox-down`: a 3-node
//! cluster on loopback that outlives this process, with a ready vipkeeper
//! config. Built on the integration tests' harness.
//!
//!   cargo run --example sandbox -- up mariadb   # prints the config path last
//!   cargo run --example sandbox -- down

use vipkeeper_harness as support;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use support::{ClusterSpec, Flavor, TestCluster};

fn state_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sandbox/sandbox.state")
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["up", flavor] => up(Flavor::from_name(flavor)?, false).await,
        ["up", flavor, "semi-sync"] => up(Flavor::from_name(flavor)?, true).await,
        ["down"] => down(),
        _ => bail!("usage: sandbox up mariadb|mysql [semi-sync] | sandbox down"),
    }
}

async fn up(flavor: Flavor, semi_sync: bool) -> Result<()> {
    if state_file().exists() {
        bail!(
            "a sandbox is already running (see {}); run `make sandbox-down` first",
            state_file().display()
        );
    }
    let mut spec = ClusterSpec::new(flavor);
    spec.semi_sync = semi_sync;
    eprintln!(
        "starting a 3-node {} cluster on 127.0.0.1 ...",
        flavor.name()
    );
    let mut cluster = TestCluster::start(spec).await?;
    let config = cluster.write_config("sandbox")?;
    let mut state = format!("dir {}\n", cluster.dir.display());
    for (name, pid) in cluster.pids() {
        state.push_str(&format!("pid {name} {pid}\n"));
    }
    std::fs::create_dir_all(state_file().parent().unwrap())?;
    std::fs::write(state_file(), state)?;
    for s in &cluster.servers {
        eprintln!(
            "  {}  127.0.0.1:{}  pid {}  (root: socket {})",
            s.name,
            s.port,
            s.pid().unwrap_or(0),
            s.socket().display()
        );
    }
    eprintln!(
        "app user: {} / {}",
        support::cluster::APP_USER,
        support::cluster::APP_PASSWORD
    );
    cluster.detach();
    println!("{}", config.display());
    Ok(())
}

fn down() -> Result<()> {
    let path = state_file();
    let Ok(state) = std::fs::read_to_string(&path) else {
        eprintln!("no sandbox is running");
        return Ok(());
    };
    let mut dir = None;
    for line in state.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["dir", d] => dir = Some(PathBuf::from(d)),
            ["pid", name, pid] => {
                let pid: i32 = pid.parse().context("bad pid in sandbox state")?;
                // Only the server we started: its command line names its own directory.
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let ours = dir.as_ref().is_some_and(|d| {
                    String::from_utf8_lossy(&cmdline)
                        .contains(&*d.file_name().unwrap().to_string_lossy())
                });
                if ours {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    eprintln!("stopped {name} (pid {pid})");
                } else {
                    eprintln!("{name} (pid {pid}) is not running");
                }
            }
            _ => {}
        }
    }
    if let Some(d) = dir {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let _ = std::fs::remove_dir_all(&d);
    }
    std::fs::remove_file(&path)?;
    Ok(())
}

//! The VIP step of a failover. Until the VIP backends are built, only the
//! `script` backend runs: any command, called MHA-style.
//!
//! Arguments: `--command=start --orig_master_host=H --orig_master_ip=IP
//! --orig_master_port=P --new_master_host=H --new_master_ip=IP
//! --new_master_port=P --vip=ADDR`; the same in the environment as
//! VIPKEEPER_OLD_MASTER_HOST, _IP, _PORT, VIPKEEPER_NEW_MASTER_HOST, _IP,
//! _PORT and VIPKEEPER_VIP. Exit 0: moved; 10: failed, but the failover may
//! proceed; anything else: abort.

use std::process::Stdio;
use std::time::Duration;

use crate::config::{NodeConfig, VipBackend, VipConfig};

pub enum VipResult {
    Moved(String),
    FailedProceed(String),
}

/// Moves the VIP from `old` to `new` through every configured backend, in order.
pub async fn move_vip(
    vip: &VipConfig,
    old: &NodeConfig,
    new: &NodeConfig,
) -> Result<VipResult, String> {
    let mut details = Vec::new();
    let mut proceed_despite = None;
    for backend in &vip.backends {
        match backend {
            VipBackend::Script { command, timeout } => {
                match run_script(command, *timeout, vip, old, new).await? {
                    VipResult::Moved(d) => details.push(d),
                    VipResult::FailedProceed(d) => proceed_despite = Some(d),
                }
            }
            other => {
                return Err(format!(
                    "VIP backend `{}` is not available in this version of vipkeeper; use `script` for now",
                    other.name()
                ))
            }
        }
    }
    Ok(match proceed_despite {
        Some(d) => VipResult::FailedProceed(d),
        None => VipResult::Moved(details.join("; ")),
    })
}

async fn run_script(
    command: &str,
    timeout: Duration,
    vip: &VipConfig,
    old: &NodeConfig,
    new: &NodeConfig,
) -> Result<VipResult, String> {
    let mut words = command.split_whitespace();
    let program = words.next().ok_or("the VIP script command is empty")?;
    let (old_ip, new_ip) = (ip_of(&old.host).await, ip_of(&new.host).await);
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(words)
        .arg("--command=start")
        .arg(format!("--orig_master_host={}", old.host))
        .arg(format!("--orig_master_ip={old_ip}"))
        .arg(format!("--orig_master_port={}", old.port))
        .arg(format!("--new_master_host={}", new.host))
        .arg(format!("--new_master_ip={new_ip}"))
        .arg(format!("--new_master_port={}", new.port))
        .arg(format!("--vip={}", vip.address))
        .env("VIPKEEPER_OLD_MASTER_HOST", &old.host)
        .env("VIPKEEPER_OLD_MASTER_IP", &old_ip)
        .env("VIPKEEPER_OLD_MASTER_PORT", old.port.to_string())
        .env("VIPKEEPER_NEW_MASTER_HOST", &new.host)
        .env("VIPKEEPER_NEW_MASTER_IP", &new_ip)
        .env("VIPKEEPER_NEW_MASTER_PORT", new.port.to_string())
        .env("VIPKEEPER_VIP", vip.address.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run the VIP script {program}: {e}"))?;
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "the VIP script {program} did not finish within {}",
                humantime::format_duration(timeout)
            )
        })?
        .map_err(|e| format!("the VIP script {program} failed: {e}"))?;
    let said = last_line(&out.stderr)
        .or_else(|| last_line(&out.stdout))
        .unwrap_or_default();
    match out.status.code() {
        Some(0) => Ok(VipResult::Moved(
            format!("script {program} moved the VIP {said}")
                .trim()
                .to_string(),
        )),
        Some(10) => Ok(VipResult::FailedProceed(format!(
            "script {program} exited 10 (failed, proceed): {said}"
        ))),
        Some(code) => Err(format!("the VIP script {program} exited {code}: {said}")),
        None => Err(format!("the VIP script {program} was killed by a signal")),
    }
}

fn last_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().chars().take(300).collect())
}

/// The host's address (the host itself when it does not resolve within 1 s).
async fn ip_of(host: &str) -> String {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host.to_string();
    }
    match tokio::time::timeout(Duration::from_secs(1), tokio::net::lookup_host((host, 0))).await {
        Ok(Ok(mut addrs)) => addrs
            .next()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| host.to_string()),
        _ => host.to_string(),
    }
}

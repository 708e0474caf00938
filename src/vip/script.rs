//! `script`: any command, called MHA-style.
//!
//! Arguments: `--command=start --orig_master_host=H --orig_master_ip=IP
//! --orig_master_port=P --new_master_host=H --new_master_ip=IP
//! --new_master_port=P --vip=ADDR`; the same in the environment as
//! VIPKEEPER_OLD_MASTER_HOST, _IP, _PORT, VIPKEEPER_NEW_MASTER_HOST, _IP,
//! _PORT and VIPKEEPER_VIP. Exit 0: moved; 10: failed, but the failover may
//! proceed; anything else: abort.

use std::net::Ipv4Addr;
use std::time::Duration;

use futures::future::BoxFuture;

use super::{Moved, Placement, Site, VipBackend, VipError};
use crate::child::last_line;
use crate::config::{NodeConfig, ScriptConfig};

impl VipBackend for ScriptConfig {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn describe(&self) -> String {
        format!("the command {}", self.command)
    }

    /// A script cannot be asked where the address points.
    fn status<'a>(&'a self, _: Site<'a>) -> BoxFuture<'a, Vec<Result<Placement, String>>> {
        Box::pin(async move {
            vec![Ok(Placement {
                backend: Self::NAME,
                target: format!("unknown: {} cannot be asked", self.command),
                node: None,
                no_node_is_wrong: false,
            })]
        })
    }

    fn move_to<'a>(
        &'a self,
        site: Site<'a>,
        from: Option<&'a NodeConfig>,
        to: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        Box::pin(async move {
            run(self, site.address, from, Some(to))
                .await
                .map_err(VipError::from)
        })
    }

    /// The script is called with `--command=stop` and the old master, as
    /// MHA calls its own scripts.
    fn withdraw<'a>(
        &'a self,
        site: Site<'a>,
        from: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        Box::pin(async move {
            run(self, site.address, Some(from), None)
                .await
                .map_err(VipError::from)
        })
    }
}

/// `to` is the new master for `--command=start`; `None` is `--command=stop`.
async fn run(
    script: &ScriptConfig,
    address: Ipv4Addr,
    from: Option<&NodeConfig>,
    to: Option<&NodeConfig>,
) -> Result<Moved, String> {
    let (command, timeout) = (&script.command, script.timeout);
    let program = command.program();
    let (old_host, old_port) = from
        .map(|n| (n.host.clone(), n.port.to_string()))
        .unwrap_or_default();
    let old_ip = if old_host.is_empty() {
        String::new()
    } else {
        ip_of(&old_host).await
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(command.args())
        .arg(format!(
            "--command={}",
            if to.is_some() { "start" } else { "stop" }
        ))
        .arg(format!("--orig_master_host={old_host}"))
        .arg(format!("--orig_master_ip={old_ip}"))
        .arg(format!("--orig_master_port={old_port}"))
        .env("VIPKEEPER_OLD_MASTER_HOST", &old_host)
        .env("VIPKEEPER_OLD_MASTER_IP", &old_ip)
        .env("VIPKEEPER_OLD_MASTER_PORT", &old_port)
        .env("VIPKEEPER_VIP", address.to_string());
    if let Some(to) = to {
        let new_ip = ip_of(&to.host).await;
        cmd.arg(format!("--new_master_host={}", to.host))
            .arg(format!("--new_master_ip={new_ip}"))
            .arg(format!("--new_master_port={}", to.port))
            .env("VIPKEEPER_NEW_MASTER_HOST", &to.host)
            .env("VIPKEEPER_NEW_MASTER_IP", &new_ip)
            .env("VIPKEEPER_NEW_MASTER_PORT", to.port.to_string());
    }
    cmd.arg(format!("--vip={address}"));
    let out = crate::child::run(program, cmd, None, timeout)
        .await
        .map_err(|e| e.to_string())?;
    let said = last_line(&out.stderr)
        .or_else(|| last_line(&out.stdout))
        .unwrap_or_default();
    let done = match to {
        Some(to) => format!("{program} moved the VIP to {}", to.name),
        None => format!(
            "{program} took the VIP away from {}",
            from.map(|n| n.name.as_str()).unwrap_or("the old master")
        ),
    };
    match out.code {
        Some(0) => Ok(Moved::Done(format!("{done} {said}").trim().to_string())),
        Some(10) => Ok(Moved::FailedProceed(format!(
            "{program} exited 10 (failed, proceed): {said}"
        ))),
        Some(code) => Err(format!("{program} exited {code}: {said}")),
        None => Err(format!("{program} was killed by a signal")),
    }
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

//! Hands a failover report to the configured notify command: the report as
//! JSON on its standard input, the essentials in its environment.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use super::report::Report;
use crate::config::AgentConfig;

pub async fn notify(agent: &AgentConfig, report: &Report, report_path: Option<&std::path::Path>) {
    let Some(command) = &agent.notify else { return };
    let mut words = command.split_whitespace();
    let Some(program) = words.next() else { return };
    let json = serde_json::to_vec_pretty(report).expect("reports serialize");
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(words)
        .env("VIPKEEPER_EVENT", report.kind.label())
        .env("VIPKEEPER_CLUSTER", &report.cluster)
        .env("VIPKEEPER_FAILOVER_ID", &report.id)
        .env("VIPKEEPER_OUTCOME", report.outcome.label())
        .env("VIPKEEPER_OLD_MASTER", &report.old_master)
        .env(
            "VIPKEEPER_NEW_MASTER",
            report.new_master.as_deref().unwrap_or(""),
        )
        .env(
            "VIPKEEPER_REPORT",
            report_path
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let run = async {
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A command that does not read its input is not an error.
            let _ = stdin.write_all(&json).await;
        }
        let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
        match out.status.code() {
            Some(0) => Ok(()),
            code => Err(format!(
                "exited {code:?}: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            )),
        }
    };
    match tokio::time::timeout(agent.notify_timeout, run).await {
        Ok(Ok(())) => tracing::info!("notify command {program} done"),
        Ok(Err(e)) => tracing::error!("notify command {program} failed: {e}"),
        Err(_) => tracing::error!(
            "notify command {program} did not finish within {}; killed",
            humantime::format_duration(agent.notify_timeout)
        ),
    }
}

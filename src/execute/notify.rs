//! Hands a failover report to the configured notify command: the report as
//! JSON on its standard input, the essentials in its environment.

use super::report::Report;
use crate::config::AgentConfig;

pub async fn notify(agent: &AgentConfig, report: &Report, report_path: Option<&std::path::Path>) {
    let Some(command) = &agent.notify else { return };
    let program = command.program();
    let json = serde_json::to_vec_pretty(report).expect("reports serialize");
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(command.args())
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
        );
    match crate::child::run(program, cmd, Some(json), agent.notify_timeout).await {
        Ok(out) if out.code == Some(0) => tracing::info!("notify command {program} done"),
        Ok(out) => tracing::error!(
            "notify command {program} failed: exited {:?}: {}",
            out.code,
            crate::child::last_line(&out.stderr).unwrap_or_default()
        ),
        Err(e) => tracing::error!("notify command: {e}"),
    }
}

//! `make bench`, MHA's `master_ip_failover --command=start`: vipkeeper's
//! hook against the kind of script MHA users write (one `aws ec2
//! replace-route` per route table, one after the other), both against the
//! emulator's route tables, timed from the call to every table switched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::support::moto::{route_table_config, seed, vip_targets, Moto};
use super::{fmt_ms, percentile};

const VIP: &str = "10.254.0.10";

/// The aws CLI in a venv of its own (it pins a botocore that the
/// emulator's must not be swapped for).
fn aws_cli() -> Result<PathBuf> {
    let venv = PathBuf::from(
        std::env::var_os("VIPKEEPER_AWSCLI_VENV")
            .unwrap_or_else(|| "/var/lib/vipkeeper-test/awscli-venv".into()),
    );
    let aws = venv.join("bin/aws");
    if !aws.exists() {
        eprintln!("installing the aws CLI into {} (once)", venv.display());
        let ok = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()?
            .success()
            && Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "awscli>=1.32,<2"])
                .status()?
                .success();
        if !ok {
            bail!("cannot install the aws CLI into {}", venv.display());
        }
    }
    Ok(aws)
}

pub async fn hook_vs_script(bin: &Path, runs: usize) -> Result<String> {
    let aws = aws_cli()?;
    let mut out = String::from(
        "### MHA's `master_ip_failover --command=start` — vipkeeper's hook vs a replace-route script\n\n\
         The time from MHA's call to the script until it exits with every route table switched \
         to the new master's ENI (read back from the emulator afterwards; the hook also reads every table back itself before it exits), db1 → db2 and back in turn. \
         The script is the usual one: `aws ec2 replace-route` for each table, one after the \
         other (aws CLI v1, Python). Both talk to the moto emulator on loopback.\n\n\
         | route tables | vipkeeper hook p50 | p95 | aws CLI script p50 | p95 |\n|---|---|---|---|---|\n",
    );
    for tables in [3usize, 50] {
        let moto = Moto::start()?;
        let v = seed(&moto, tables, VIP).await?;
        let dir = tempfile::tempdir()?;
        let config = route_table_config(dir.path(), &moto.endpoint(), &v, VIP, "30s")?;
        let script = script(dir.path(), &aws, &moto.endpoint(), &v.route_tables)?;
        let (mut hook, mut cli) = (Vec::new(), Vec::new());
        for run in 0..runs * 2 {
            let (from, to) = if run % 2 == 0 { (1, 2) } else { (2, 1) };
            let args = format!(
                "--command=start --ssh_user=root --orig_master_host=10.0.{from}.10 --orig_master_ip=10.0.{from}.10 --orig_master_port=3306 \
                 --new_master_host=10.0.{to}.10 --new_master_ip=10.0.{to}.10 --new_master_port=3306 --new_master_user=mha --new_master_password=x"
            );
            let words = shell_words::split(&args)?;
            let eni = &v.enis[to - 1];
            // Odd runs time the script, even runs the hook: each moves the
            // VIP away from where the other left it.
            let t = Instant::now();
            let status = if run % 4 < 2 {
                Command::new(bin)
                    .arg("-c")
                    .arg(&config)
                    .args(["hook", "master-ip-failover"])
                    .args(&words)
                    .output()?
            } else {
                Command::new(&script).arg(eni).output()?
            };
            let took = t.elapsed();
            if !status.status.success() {
                bail!("{}", String::from_utf8_lossy(&status.stderr));
            }
            let targets = vip_targets(&moto, &v.route_tables, VIP).await?;
            if !targets.iter().all(|t| t.as_deref() == Some(eni.as_str())) {
                bail!("not every table switched to {eni}: {targets:?}");
            }
            let ms = took.as_secs_f64() * 1000.0;
            if run % 4 < 2 {
                hook.push(ms);
            } else {
                cli.push(ms);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("MHA start, {tables} tables: hook {hook:?} ms, aws CLI script {cli:?} ms");
        out.push_str(&format!(
            "| {tables} | {} | {} | {} | {} |\n",
            fmt_ms(percentile(&mut hook.clone(), 50.0)),
            fmt_ms(percentile(&mut hook, 95.0)),
            fmt_ms(percentile(&mut cli.clone(), 50.0)),
            fmt_ms(percentile(&mut cli, 95.0)),
        ));
    }
    Ok(out)
}

/// The script MHA users write: the tables listed, one replace-route each.
fn script(dir: &Path, aws: &Path, endpoint: &str, tables: &[String]) -> Result<PathBuf> {
    let path = dir.join("master_ip_failover_aws.sh");
    let mut text = format!(
        "#!/bin/sh\nset -e\neni=\"$1\"\nfor t in {}; do\n  {} ec2 replace-route --region us-east-1 --endpoint-url {endpoint} --route-table-id \"$t\" --destination-cidr-block {VIP}/32 --network-interface-id \"$eni\"\ndone\n",
        tables.join(" "),
        aws.display()
    );
    text.push('\n');
    std::fs::write(&path, text).context("writing the script")?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    Ok(path)
}

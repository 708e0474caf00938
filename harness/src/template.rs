//! An initialised, empty data directory per flavor and server version, made
//! once and copied for every node: `mysqld --initialize` alone takes ~4.5 s.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use super::flavor::{CnfOptions, Flavor};
use super::server::inside;

fn template_dir(flavor: Flavor) -> Result<PathBuf> {
    let version = flavor.version()?;
    let base = flavor.root().join("var/lib/vipkeeper-test/templates");
    Ok(base.join(format!("{}-{version}", flavor.name())))
}

/// Copies the template's data directory to `dest`, making the template first
/// if needed. Safe when several test processes race: each builds in its own
/// directory and the first rename wins.
pub fn copy_data_dir(flavor: Flavor, dest: &Path) -> Result<()> {
    let template = template_dir(flavor)?;
    if !template.join("data").is_dir() {
        build(flavor, &template)?;
    }
    let status = Command::new("cp")
        .arg("-a")
        .arg(template.join("data"))
        .arg(dest)
        .status()
        .context("running cp")?;
    if !status.success() {
        bail!(
            "copying the {} template to {}",
            flavor.name(),
            dest.display()
        );
    }
    // MySQL derives server_uuid from auto.cnf: each node needs its own.
    let _ = fs::remove_file(dest.join("auto.cnf"));
    Ok(())
}

fn build(flavor: Flavor, template: &Path) -> Result<()> {
    let parent = template.parent().expect("template has a parent");
    fs::create_dir_all(parent)?;
    let work = parent.join(format!(".build-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(work.join("tmp"))?;
    let opts = CnfOptions {
        gtid: true,
        semi_sync: false,
        bind_address: "127.0.0.1".into(),
        tls: None,
    };
    let cnf = flavor.my_cnf(&inside(flavor, &work), 1, 0, &opts);
    fs::write(work.join("my.cnf"), cnf)?;
    let out = flavor
        .initialize_command(&inside(flavor, &work.join("my.cnf")))
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("initialising a {} data directory", flavor.name()))?;
    if !out.status.success() {
        let log = fs::read_to_string(work.join("error.log")).unwrap_or_default();
        bail!(
            "initialising a {} data directory failed:\n{}\n{}\n{}",
            flavor.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            log
        );
    }
    match fs::rename(&work, template) {
        Ok(()) => Ok(()),
        // Another process won the race: use its template.
        Err(_) if template.join("data").is_dir() => {
            let _ = fs::remove_dir_all(&work);
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("moving the template to {}", template.display())),
    }
}

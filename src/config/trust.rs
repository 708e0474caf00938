//! Files whose contents decide what vipkeeper runs, usually as root: the
//! config file and every hook program it names (the VIP script, the notify
//! command). Anyone who can write one of them can run commands as root, so
//! each must be writable by its owner only, and owned by root or by the
//! user vipkeeper runs as; the same for the directory that holds it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::{BackendConfig, Config};

/// Every trust problem of the config file and its hooks, one sentence each
/// with what to do.
pub fn problems(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    check(&config.path, "the config file", &mut out);
    let mut hooks: Vec<(&str, &super::Command)> = Vec::new();
    if let Some(n) = &config.agent.notify {
        hooks.push(("the notify command", n));
    }
    for c in &config.clusters {
        for b in c.vip.iter().flat_map(|v| &v.backends) {
            if let BackendConfig::Script(s) = b {
                hooks.push(("the VIP script", &s.command));
            }
        }
    }
    for (what, command) in hooks {
        let program = command.program();
        // A bare name is found on the PATH, which vipkeeper does not choose.
        if program.contains('/') {
            check(Path::new(program), what, &mut out);
        }
    }
    out.dedup();
    out
}

fn check(path: &Path, what: &str, out: &mut Vec<String>) {
    check_one(path, what, out);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        check_one(dir, &format!("the directory of {what}"), out);
    }
}

fn check_one(path: &Path, what: &str, out: &mut Vec<String>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return; // A missing file is reported where it is used.
    };
    let mode = meta.permissions().mode();
    // A sticky directory (like /tmp) lets no one replace another's file.
    let sticky = meta.is_dir() && mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !sticky {
        out.push(format!(
            "{what} {} is writable by group or others (mode {:04o}), and names commands vipkeeper runs: run `chmod go-w {}`",
            path.display(),
            mode & 0o7777,
            path.display()
        ));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        out.push(format!(
            "{what} {} is owned by uid {}, neither root nor the user vipkeeper runs as (uid {me}): run `chown root {}`",
            path.display(),
            meta.uid(),
            path.display()
        ));
    }
}

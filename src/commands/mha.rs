//! `vipkeeper mha import APP.cnf --out FILE`: see `mha::import`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{MhaCommand, MhaImportArgs};

pub fn run(cmd: &MhaCommand) -> ExitCode {
    match cmd {
        MhaCommand::Import(args) => match import(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn import(args: &MhaImportArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.mha_config)
        .map_err(|e| format!("cannot read {}: {e}", args.mha_config.display()))?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .mha_config
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .ok_or("name the cluster with --name")?,
    };
    let imported = crate::mha::import::import(&text, &name, args.vip.as_deref())
        .map_err(|e| format!("{}: {e}", args.mha_config.display()))?;
    let dir = std::path::absolute(
        args.out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )
    .map_err(|e| {
        format!(
            "cannot resolve the directory of {}: {e}",
            args.out.display()
        )
    })?;
    let toml = imported.toml.replace("@DIR@", &dir.display().to_string());
    for (file, secret) in &imported.passwords {
        write_private(&dir.join(file), &format!("{secret}\n"))?;
    }
    write_private(&args.out, &toml)?;
    println!("wrote {}", args.out.display());
    for file in imported.passwords.keys() {
        println!("wrote {} (a password, mode 0600)", dir.join(file).display());
    }
    for u in &imported.unmapped {
        println!("not mapped: {}", crate::terminal::safe(u));
    }
    println!(
        "next: vipkeeper --config {} check --offline, then vipkeeper --config {} check",
        args.out.display(),
        args.out.display()
    );
    Ok(())
}

/// Creates `path` mode 0600; never replaces an existing file.
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            format!(
                "cannot create {}: {e} (an existing file is never replaced)",
                path.display()
            )
        })?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

//! `vipkeeper generate --out DIR` (hidden): shell completions and the man
//! page, written from the command-line definition itself, for packages.

use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, GenerateArgs};

pub fn run(args: &GenerateArgs) -> ExitCode {
    match write_all(&args.out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write into {}: {e}", args.out.display());
            ExitCode::FAILURE
        }
    }
}

fn write_all(out: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    for (shell, file) in [
        (Shell::Bash, "vipkeeper.bash"),
        (Shell::Zsh, "_vipkeeper"),
        (Shell::Fish, "vipkeeper.fish"),
    ] {
        let mut f = std::fs::File::create(out.join(file))?;
        clap_complete::generate(shell, &mut Cli::command(), "vipkeeper", &mut f);
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    std::fs::write(out.join("vipkeeper.1"), page)
}

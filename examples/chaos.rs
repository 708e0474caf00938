//! `make chaos`: a seeded, bounded run of faults against real clusters
//! (see the harness's `chaos` module), with the figures written to
//! docs/RELIABILITY.md.
//!
//!   cargo run --release --example chaos -- [--seed N] [--faults N]
//!       [--flavor mariadb|mysql|all] [--only FAULT,...] [--no-write]
//!
//! Exits 1 when any fault ended badly (an acknowledged write lost that
//! could have been saved, two writable nodes, a hang, a wrong action) or
//! could not be run.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use vipkeeper_harness::chaos::{self, tally, Fault, Outcome, Totals};
use vipkeeper_harness::Flavor;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut seed = chaos::DEFAULT_SEED;
    let mut faults = 30;
    let mut flavors = vec![Flavor::Mariadb, Flavor::Mysql];
    let mut only: Option<Vec<String>> = None;
    let mut write = true;
    let mut list = false;
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).context("a value after the option");
        match args[i].as_str() {
            "--seed" => seed = value()?.parse().context("--seed N")?,
            "--faults" => faults = value()?.parse().context("--faults N")?,
            "--flavor" => {
                flavors = match value()?.as_str() {
                    "all" => vec![Flavor::Mariadb, Flavor::Mysql],
                    f => vec![Flavor::from_name(f)?],
                }
            }
            "--only" => only = Some(value()?.split(',').map(str::to_string).collect()),
            "--list" => {
                list = true;
                i += 1;
                continue;
            }
            "--no-write" => {
                write = false;
                i += 1;
                continue;
            }
            other => bail!("unknown argument {other} (see the head of examples/chaos.rs)"),
        }
        i += 2;
    }
    if let Some(o) = &only {
        for f in o {
            if !Fault::ALL.iter().any(|x| x.slug() == f) {
                let known: Vec<&str> = Fault::ALL.iter().map(|f| f.slug()).collect();
                bail!("unknown fault {f}: one of {}", known.join(", "));
            }
        }
    }
    for f in &flavors {
        if let Err(why) = f.available() {
            bail!(
                "{} cannot run here: {why} (make deps installs it)",
                f.name()
            );
        }
    }
    let bin = vipkeeper_harness::bin();
    let scenarios: Vec<_> = chaos::draw(seed, faults, &flavors)
        .into_iter()
        .filter(|s| {
            only.as_ref()
                .is_none_or(|o| o.iter().any(|f| f == s.fault.slug()))
        })
        .collect();
    eprintln!("chaos: seed {seed}, {} fault(s)", scenarios.len());
    if list {
        for sc in &scenarios {
            println!("{}", sc.describe());
        }
        return Ok(());
    }
    let mut outcomes = Vec::new();
    for sc in scenarios {
        eprintln!("{} ...", sc.describe());
        let o = chaos::run(bin.clone(), sc).await;
        eprintln!("  {}", o.line());
        outcomes.push(o);
    }
    let totals = Totals::of(&outcomes);
    eprintln!("\n{}", totals.markdown());
    if write {
        write_results(seed, &outcomes, &totals)?;
    }
    if !totals.clean() {
        std::process::exit(1);
    }
    Ok(())
}

fn write_results(seed: u64, outcomes: &[Outcome], totals: &Totals) -> Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/RELIABILITY.md");
    let existing = std::fs::read_to_string(&path).context("docs/RELIABILITY.md")?;
    let marker = "<!-- chaos results -->";
    let head = existing
        .split(marker)
        .next()
        .context("docs/RELIABILITY.md")?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = humantime::format_rfc3339_seconds(SystemTime::now());
    let args = format!("--seed {seed} --faults {}", outcomes.len());
    let command = if cfg!(debug_assertions) {
        format!("`cargo run --example chaos -- {args}` (a dev build of the example; the vipkeeper binary beside it)")
    } else {
        format!("`make chaos` (`cargo run --release --example chaos -- {args}`)")
    };
    let mut body = format!(
        "{marker}\n\n## Latest run ({date}, seed {seed}, {cores} cores)\n\n\
         Command: {command}.\n\n{}\n\
         ### Time to writable (fault → the client's first write acknowledged by the new master)\n\n\
         | fault | runs | p50 | max |\n|---|---|---|---|\n",
        totals.markdown()
    );
    for (f, n, p50, max) in tally::writable_by_fault(outcomes) {
        body.push_str(&format!(
            "| {} | {n} | {p50:.0} ms | {max:.0} ms |\n",
            f.slug()
        ));
    }
    body.push_str("\n### Every fault\n\n");
    for o in outcomes {
        body.push_str(&format!("- {}\n", o.line()));
    }
    std::fs::write(
        &path,
        format!("{}{body}", head.trim_end_matches('\n').to_string() + "\n\n"),
    )?;
    eprintln!("results written to {}", path.display());
    Ok(())
}

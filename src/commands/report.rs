//! `vipkeeper report JOURNAL [--svg OUT] [--client FILE]`

use std::process::ExitCode;

use crate::cli::ReportArgs;
use crate::timeline::{read_client, read_journal, render_svg, summary};

pub fn run(args: &ReportArgs) -> ExitCode {
    let fail = |msg: String| {
        eprintln!("error: {msg}");
        ExitCode::FAILURE
    };
    let text = match std::fs::read_to_string(&args.journal) {
        Ok(t) => t,
        Err(e) => {
            return fail(format!(
                "cannot read the journal {}: {e}",
                args.journal.display()
            ))
        }
    };
    let timeline = match read_journal(&text) {
        Ok(t) => t,
        Err(e) => return fail(format!("{}: {e}", args.journal.display())),
    };
    let client = match &args.client {
        None => Vec::new(),
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| read_client(&t, timeline.started))
        {
            Ok(c) => c,
            Err(e) => return fail(format!("{}: {e}", p.display())),
        },
    };
    print!("{}", summary(&timeline));
    if let Some(out) = &args.svg {
        if let Err(e) = std::fs::write(out, render_svg(&timeline, &client)) {
            return fail(format!("cannot write {}: {e}", out.display()));
        }
        println!("timeline: {}", out.display());
    }
    ExitCode::SUCCESS
}

use std::process::ExitCode;

use clap::Parser;
use vipkeeper::cli::{Cli, Command};
use vipkeeper::commands;

fn main() -> ExitCode {
    // Output piped into `head` or `less` that stops reading ends the process
    // quietly, as for any Unix tool, instead of a panic in println!.
    // SAFETY: set once at start, before any thread exists.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        )
    };
    let cli = Cli::parse();
    // The agent tells what it does: info by default; other commands stay quiet.
    let log = match (&cli.command, cli.log.as_str()) {
        (Command::Agent(_) | Command::Failover(_) | Command::Switchover(_), "warn") => "info",
        (_, other) => other,
    };
    init_logging(log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match &cli.command {
            Command::Status(args) => commands::status::run(&cli.config, args).await,
            Command::Check(args) => commands::check::run(&cli.config, args).await,
            Command::Agent(args) => commands::agent::run(&cli.config, args).await,
            Command::Failover(args) => commands::failover::run(&cli.config, args).await,
            Command::Switchover(args) => commands::switchover::run(&cli.config, args).await,
            Command::Ack(args) => commands::ack::run(&cli.config, args).await,
            Command::Vip(cmd) => commands::vip::run(&cli.config, cmd).await,
            Command::Report(args) => commands::report::run(args),
        }
    })
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colours only for a person at a terminal, never in journald or files.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

use std::process::ExitCode;

use clap::Parser;
use vipkeeper::cli::{Cli, Command, LogFormat};
use vipkeeper::commands;

fn main() -> ExitCode {
    vipkeeper::mysql::install_crypto_provider();
    let cli = Cli::parse();
    // Output piped into `head` or `less` that stops reading ends the process
    // quietly, as for any Unix tool, instead of a panic in println! — but
    // only for the commands that touch no network: a SIGPIPE raised by a
    // vectored write (writev) to a socket its peer closed (etcd refusing a
    // TLS client, a server going away) would kill the agent outright.
    if matches!(
        cli.command,
        Command::Report(_) | Command::Generate(_) | Command::Mha(_)
    ) {
        // SAFETY: set once at start, before any thread exists.
        let _ = unsafe {
            nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGPIPE,
                nix::sys::signal::SigHandler::SigDfl,
            )
        };
    }
    // The agent tells what it does: info by default; other commands stay quiet.
    let log = match (&cli.command, cli.log.as_str()) {
        (Command::Agent(_) | Command::Failover(_) | Command::Switchover(_), "warn") => "info",
        (_, other) => other,
    };
    init_logging(log, cli.log_format);
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
            Command::Generate(args) => commands::generate::run(args),
            Command::Hook(args) => commands::hook::run(&cli.config, args).await,
            Command::Mha(cmd) => commands::mha::run(cmd),
        }
    })
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == LogFormat::Json {
        fmt.json().init();
        return;
    }
    // Colours only for a person at a terminal, never in journald or files.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    if format == LogFormat::Auto && under_journald() {
        // journald stamps every line itself.
        fmt.with_ansi(false).without_time().init();
    } else {
        fmt.with_ansi(ansi).init();
    }
}

/// Whether stderr is journald's stream: systemd sets JOURNAL_STREAM to its
/// device and inode (systemd.exec(5)).
fn under_journald() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    stream.to_string_lossy() == format!("{}:{}", meta.dev(), meta.ino())
}

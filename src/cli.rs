//! Command-line interface. `main` parses this and hands each command to
//! `commands::<name>::run`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::DEFAULT_CONFIG_PATH;

#[derive(Debug, Parser)]
#[command(
    name = "vipkeeper",
    version,
    about = "Failover manager for self-managed MySQL and MariaDB",
    long_about = "vipkeeper watches a MySQL or MariaDB replication cluster, promotes the most \
                  advanced replica when the master dies, and moves the address applications use."
)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, short = 'c', global = true, env = "VIPKEEPER_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,

    /// Log filter for messages on stderr (error, warn, info, debug, trace, or a tracing filter).
    #[arg(long, global = true, env = "VIPKEEPER_LOG", default_value = "warn")]
    pub log: String,

    /// How log lines look: `auto` (plain without timestamps under journald,
    /// coloured on a terminal, else plain text), `text`, or `json` (one
    /// object per line).
    #[arg(long, global = true, env = "VIPKEEPER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show each cluster as a tree: master, replicas, positions, lag, warnings.
    ///
    /// Exit status: 0 healthy, 2 warnings, 1 error (bad config, or nothing reachable).
    Status(StatusArgs),
    /// Validate the configuration, then connect to every node and check
    /// versions, binlog/GTID settings and every user's privileges.
    ///
    /// Exit status: 0 no errors (warnings allowed), 1 at least one error.
    Check(CheckArgs),
    /// Watch every cluster and fail over automatically when a master dies
    /// (runs in the foreground until stopped).
    Agent(AgentArgs),
    /// Replace a dead master now: promote the best replica, repoint the
    /// others, move the VIP. `--dry-run` prints the plan and changes nothing.
    ///
    /// Exit status: 0 done (or planned, with --dry-run), 1 refused or failed.
    Failover(FailoverArgs),
    /// Hand the master role from a live master to a replica (maintenance,
    /// resizing, AZ rebalancing): writes pause for a fraction of a second.
    /// Preflight checks first; any error before the new master is writable
    /// rolls everything back. Asks for confirmation unless --yes.
    ///
    /// Exit status: 0 done (or preflight passed, with --dry-run), 1 refused,
    /// rolled back or failed, 2 done but a replica could not be repointed.
    Switchover(SwitchoverArgs),
    /// Acknowledge the last failover of a cluster, allowing the next
    /// automatic one within the block period.
    Ack(AckArgs),
    /// Where the VIP points, and moving it by hand.
    #[command(subcommand)]
    Vip(VipCommand),
    /// Turn a failover journal into a summary and, with --svg, a timeline
    /// picture (one lane per node, the VIP, the steps, the client's writes).
    Report(ReportArgs),
    /// MHA's script slots: `hook master-ip-failover ARGS` as
    /// master_ip_failover_script, `hook master-ip-online-change ARGS` as
    /// master_ip_online_change_script (docs/MHA.md). Exit status as MHA
    /// reads it: 0 done, 10 failed but MHA may proceed, 1 abort.
    Hook(HookArgs),
    /// From MHA: `mha import APP.cnf --out FILE` writes a vipkeeper config
    /// from an MHA application config.
    #[command(subcommand)]
    Mha(MhaCommand),
    /// Write shell completions and the man page (used to build packages).
    #[command(hide = true)]
    Generate(GenerateArgs),
}

#[derive(Debug, Subcommand)]
pub enum MhaCommand {
    /// Write a vipkeeper config from an MHA application config (servers,
    /// candidate_master / no_master, users, ping_interval, the VIP script),
    /// with each password in a file of its own (0600) beside it, and print
    /// what could not be mapped.
    Import(MhaImportArgs),
}

#[derive(Debug, Args)]
pub struct MhaImportArgs {
    /// The MHA application config, e.g. /etc/masterha/app1.cnf.
    pub mha_config: PathBuf,
    /// The vipkeeper config to write (not overwritten if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The cluster's name (default: the MHA config's file name, e.g. app1).
    #[arg(long)]
    pub name: Option<String>,
    /// The VIP address: keeps MHA's master_ip_failover_script as the VIP script.
    #[arg(long, value_name = "ADDRESS")]
    pub vip: Option<String>,
}

#[derive(Debug, Args)]
pub struct HookArgs {
    /// Which of MHA's scripts this is.
    #[arg(value_enum)]
    pub slot: HookSlot,
    /// Without a vipkeeper config: the VIP's address. The backend and each
    /// host's network interface then come from the flags below, the nodes
    /// from MHA's call. Give these before MHA's arguments.
    #[arg(long, value_name = "ADDRESS")]
    pub vip: Option<std::net::Ipv4Addr>,
    /// With --vip: what moves it (default aws-route-table when --eni or
    /// --route-table is given).
    #[arg(long, value_enum, requires = "vip")]
    pub backend: Option<HookBackend>,
    /// With --vip: a host's network interface, HOST=eni-… (HOST as MHA's
    /// config names the server); once per host.
    #[arg(long = "eni", value_name = "HOST=ENI", requires = "vip")]
    pub enis: Vec<String>,
    /// With --vip: a VPC route table to switch; once per table (none: the
    /// tables of the interface's VPC that route the VIP).
    #[arg(long = "route-table", value_name = "ID", requires = "vip")]
    pub route_tables: Vec<String>,
    /// With --vip: the AWS region (else the SDK's usual sources).
    #[arg(long, requires = "vip")]
    pub region: Option<String>,
    /// With --vip: another EC2 endpoint (a VPC endpoint, an emulator).
    #[arg(long, value_name = "URL", requires = "vip")]
    pub endpoint_url: Option<String>,
    /// With --vip and --backend linux-route: the kernel routing table (main
    /// when not given).
    #[arg(long, value_name = "N", requires = "vip")]
    pub routing_table: Option<u32>,
    /// The arguments MHA passes (--command=..., --orig_master_host=..., ...).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HookBackend {
    /// The VIP's route in VPC route tables, to the master's interface.
    AwsRouteTable,
    /// The VIP's route in this host's kernel routing table (a router).
    LinuxRoute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HookSlot {
    /// master_ip_failover_script: the master is dead.
    MasterIpFailover,
    /// master_ip_online_change_script: masterha_master_switch with a live master.
    MasterIpOnlineChange,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write into: vipkeeper.bash, _vipkeeper (zsh),
    /// vipkeeper.fish and vipkeeper.1.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A journal: <state_dir>/<cluster>/journal/<id>.jsonl
    pub journal: PathBuf,
    /// Write the timeline as SVG to this file.
    #[arg(long, value_name = "OUT")]
    pub svg: Option<PathBuf>,
    /// Client observations to draw as a strip: JSON lines of {"ts": RFC 3339, "ok": bool}.
    #[arg(long, value_name = "FILE")]
    pub client: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum VipCommand {
    /// Per backend: where the VIP points now, and whether that is the master.
    ///
    /// Exit status: 0 every backend points at the master, 2 some do not, 1 error.
    Status {
        /// Only this cluster.
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Point the VIP at NODE through every configured backend (a no-op where
    /// it already points there). NODE must be the writable master unless --force.
    Move {
        #[arg(long)]
        to: String,
        /// The cluster (needed when several are configured).
        #[arg(long)]
        cluster: Option<String>,
        /// Show where it points and what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Move it even if NODE is not the writable master.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Only this cluster (default: every configured cluster).
    #[arg(long)]
    pub cluster: Option<String>,
    /// Run on the host of node NAME, doing only that host's duties: hold the
    /// VIP on the local interface (local-address backend) exactly while NAME
    /// is the writable master. This agent never fails over.
    #[arg(long, value_name = "NAME")]
    pub local_node: Option<String>,
    /// Serve the HTTP API here instead of agent.listen ("" turns it off).
    /// A host agent (--local-node) serves it only when given this.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct FailoverArgs {
    /// The cluster whose master is dead.
    pub cluster: String,
    /// Print the plan (candidate, why, every excluded replica and why, each
    /// step) and change nothing. Works on a live master too: it shows what a
    /// failover would do now.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct SwitchoverArgs {
    /// The cluster whose master hands over.
    pub cluster: String,
    /// The new master (default: the best candidate, by the failover rules).
    #[arg(long, value_name = "NODE")]
    pub to: Option<String>,
    /// Run the preflight checks, print them and the plan, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct AckArgs {
    pub cluster: String,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this cluster.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Print the stable JSON document (docs/status-json.md) instead of the tree.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only this cluster.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Check the file only; connect to nothing.
    #[arg(long)]
    pub offline: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_global_config_after_the_command() {
        let cli =
            Cli::try_parse_from(["vipkeeper", "status", "--json", "-c", "/tmp/x.toml"]).unwrap();
        assert_eq!(cli.config, PathBuf::from("/tmp/x.toml"));
        assert!(matches!(
            cli.command,
            Command::Status(StatusArgs { json: true, .. })
        ));
        let cli = Cli::try_parse_from(["vipkeeper", "check", "--offline"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Check(CheckArgs { offline: true, .. })
        ));
        assert!(Cli::try_parse_from(["vipkeeper", "check", "--bogus"]).is_err());
    }
}

//! One module per subcommand; each `run` returns the process exit code.

pub mod ack;
pub mod agent;
pub mod aurora;
pub mod check;
pub mod failover;
pub mod generate;
pub mod hook;
pub mod mha;
pub mod report;
pub mod status;
pub mod switchover;
pub mod vip;

use std::process::ExitCode;

use crate::config::{self, ClusterConfig, Config};

/// Loads the config, printing warnings; `Err` carries the exit code after
/// the problems have been printed.
pub fn load_config(path: &std::path::Path) -> Result<Config, ExitCode> {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Ok(loaded.config)
        }
        Err(e) => {
            for p in &e.problems {
                eprintln!("{p}");
            }
            Err(ExitCode::FAILURE)
        }
    }
}

/// The config and the clusters a command works on, problems printed.
pub fn load_clusters(
    path: &std::path::Path,
    name: Option<&str>,
) -> Result<(Config, Vec<ClusterConfig>), ExitCode> {
    let config = load_config(path)?;
    let clusters = select_clusters(&config, name)?
        .into_iter()
        .cloned()
        .collect();
    Ok((config, clusters))
}

/// For commands that run hooks or act on the cluster: the config and its
/// hooks must be trusted (`config::trust`) and the state directory usable.
/// Every problem is printed; `Err` carries the exit code.
pub fn ready_to_act(config: &Config) -> Result<(), ExitCode> {
    let mut problems = config::trust::problems(config);
    if let Err(e) = crate::state::usable_state_dir(&config.agent.state_dir) {
        problems.push(e);
    }
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprintln!("error: {p}");
    }
    Err(ExitCode::FAILURE)
}

/// The clusters a command works on: all, or the one named.
pub fn select_clusters<'a>(
    config: &'a Config,
    name: Option<&str>,
) -> Result<Vec<&'a ClusterConfig>, ExitCode> {
    match name {
        None => Ok(config.clusters.iter().collect()),
        Some(n) => match config.cluster(n) {
            Some(c) => Ok(vec![c]),
            None => {
                let known: Vec<&str> = config.clusters.iter().map(|c| c.name.as_str()).collect();
                eprintln!(
                    "error: no cluster named `{n}` in {} (configured: {})",
                    config.path.display(),
                    known.join(", ")
                );
                Err(ExitCode::FAILURE)
            }
        },
    }
}

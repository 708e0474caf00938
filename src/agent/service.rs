//! The agent as a service: one loop per cluster, started, reloaded and
//! stopped here, and systemd told about it (`Type=notify`): READY once every
//! loop has finished a first round, a STATUS line per cluster, WATCHDOG
//! pings only while every loop keeps ticking (a stuck loop stops them, so
//! systemd restarts the service), RELOADING/READY around a SIGHUP, STOPPING
//! on SIGTERM. Without systemd (no NOTIFY_SOCKET) the notifications are
//! no-ops.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::board::Board;
use crate::config::{AgentConfig, ClusterConfig, Config};

/// How long a stop waits for loops to finish their tick (a failover or
/// switchover in flight finishes or rolls back within its own deadlines).
pub const STOP_BOUND: Duration = Duration::from_secs(60);

/// What the service runs: every cluster's manager loop, or, with a node
/// name, the host agent for that node in every cluster that has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Manager,
    Host { node: String },
}

struct Running {
    config: ClusterConfig,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

pub struct Service {
    role: Role,
    /// Several managers through etcd (`[coordination]`, managers only).
    coord: Option<crate::coord::Coordinator>,
    /// Stops the coordinator's lease task when the service goes.
    _coord_stop: watch::Sender<bool>,
    /// Only this cluster (`--cluster`), across reloads too.
    only: Option<String>,
    agent: AgentConfig,
    board: Board,
    loops: BTreeMap<String, Running>,
}

impl Service {
    pub fn new(role: Role, only: Option<String>, board: Board, config: &Config) -> Self {
        let (coord_stop, coord_stopped) = watch::channel(false);
        let coord = match (&role, &config.coordination) {
            (Role::Manager, Some(c)) => {
                tracing::info!(
                    "coordination: manager {} with etcd at {}",
                    c.name,
                    c.endpoints.join(", ")
                );
                Some(crate::coord::Coordinator::start(c.clone(), coord_stopped))
            }
            _ => None,
        };
        let mut s = Self {
            role,
            coord,
            _coord_stop: coord_stop,
            only,
            agent: config.agent.clone(),
            board,
            loops: BTreeMap::new(),
        };
        for c in s.selected(config) {
            s.spawn(c);
        }
        s
    }

    fn selected(&self, config: &Config) -> Vec<ClusterConfig> {
        config
            .clusters
            .iter()
            .filter(|c| self.only.as_ref().is_none_or(|o| *o == c.name))
            .filter(|c| match &self.role {
                Role::Manager => true,
                Role::Host { node } => c.node(node).is_some(),
            })
            .cloned()
            .collect()
    }

    fn spawn(&mut self, cluster: ClusterConfig) {
        let (stop, stopped) = watch::channel(false);
        self.board.register(&cluster.name);
        let board = self.board.clone();
        let task = match (&self.role, cluster.aurora.clone()) {
            (Role::Manager, Some(aurora)) => tokio::spawn(super::aurora::run(
                self.agent.clone(),
                cluster.clone(),
                aurora,
                board,
                self.coord.clone(),
                stopped,
            )),
            (Role::Manager, None) => tokio::spawn(super::run_cluster(
                self.agent.clone(),
                cluster.clone(),
                board,
                self.coord.clone(),
                stopped,
            )),
            (Role::Host { node }, _) => {
                let learn = super::host_binlog::learn(
                    cluster.clone(),
                    node.clone(),
                    board.binlogs().clone(),
                    self.agent.state_dir.clone(),
                    stopped.clone(),
                );
                let local = super::local::run(cluster.clone(), node.clone(), board, stopped);
                tokio::spawn(async move {
                    tokio::join!(local, learn);
                })
            }
        };
        self.loops.insert(
            cluster.name.clone(),
            Running {
                config: cluster,
                stop,
                task,
            },
        );
    }

    /// Asks the named loops to stop after their tick and waits for them,
    /// at most `bound`. Returns the ones that did not stop in time.
    async fn stop(&mut self, names: &[String], bound: Duration) -> Vec<String> {
        let mut waiting = Vec::new();
        for name in names {
            if let Some(r) = self.loops.remove(name) {
                let _ = r.stop.send(true);
                waiting.push((name.clone(), r.task));
            }
        }
        let deadline = tokio::time::Instant::now() + bound;
        let mut late = Vec::new();
        for (name, mut task) in waiting {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
                late.push(name.clone());
            }
            self.board.remove(&name);
        }
        late
    }

    /// Applies a new, valid configuration: clusters added are started,
    /// removed ones stopped, changed ones restarted (each after its tick in
    /// progress); unchanged ones go on undisturbed.
    async fn apply(&mut self, config: &Config) {
        if config.agent.listen != self.agent.listen {
            tracing::warn!(
                "agent.listen changed: the HTTP API keeps its address until the service restarts"
            );
        }
        let agent_changed = config.agent != self.agent;
        self.agent = config.agent.clone();
        let wanted = self.selected(config);
        let mut gone: Vec<String> = self
            .loops
            .iter()
            .filter(|(name, running)| {
                let now = wanted.iter().find(|c| c.name == **name);
                agent_changed || now != Some(&running.config)
            })
            .map(|(name, _)| name.clone())
            .collect();
        gone.sort();
        let late = self.stop(&gone, STOP_BOUND).await;
        for name in late {
            tracing::error!(cluster = %name, "the loop did not stop within {} and was aborted", humantime::format_duration(STOP_BOUND));
        }
        for c in wanted {
            if !self.loops.contains_key(&c.name) {
                let verb = if gone.contains(&c.name) {
                    "restarting"
                } else {
                    "starting"
                };
                tracing::info!(cluster = %c.name, "{verb} the loop with the new configuration");
                self.spawn(c);
            }
        }
        for name in gone.iter().filter(|n| !self.loops.contains_key(*n)) {
            tracing::info!(cluster = %name, "no longer in the configuration: stopped");
        }
    }

    /// One line for `systemctl status`: each cluster's state.
    fn status_line(&self) -> String {
        let parts: Vec<String> = self
            .board
            .all()
            .into_iter()
            .map(|(name, e)| match e {
                Some(e) => format!("{name}: {}", e.says),
                None => format!("{name}: starting"),
            })
            .collect();
        let line = parts.join("; ");
        line.chars().take(400).collect()
    }

    /// Whether every loop has finished a first round.
    fn all_reported(&self) -> bool {
        self.board.all().values().all(Option::is_some)
    }

    /// A loop that ended on its own (a panic): its name.
    fn ended(&self) -> Option<String> {
        self.loops
            .iter()
            .find(|(_, r)| r.task.is_finished())
            .map(|(n, _)| n.clone())
    }
}

/// The watchdog period systemd asks for, as sd_watchdog_enabled(3) reads
/// it: WATCHDOG_USEC, for this process unless WATCHDOG_PID names another.
/// (The sd-notify crate also insists on WATCHDOG_PID being set.)
fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    let for_us = match std::env::var("WATCHDOG_PID") {
        Ok(pid) => pid.parse::<u32>().ok() == Some(std::process::id()),
        Err(_) => true,
    };
    (for_us && usec > 0).then(|| Duration::from_micros(usec))
}

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!("cannot notify systemd: {e}");
    }
}

/// Runs the service until SIGTERM or SIGINT: exit 0 once every loop has
/// stopped (or `STOP_BOUND` passed), 1 if a loop died.
pub async fn run(mut service: Service, config_path: &Path) -> ExitCode {
    let (Ok(mut hup), Ok(mut term)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
    ) else {
        eprintln!("error: cannot install the SIGHUP/SIGTERM handlers");
        return ExitCode::FAILURE;
    };
    let watchdog = watchdog_period();
    // Look (and ping) at least twice per watchdog period, and every second.
    let period = watchdog
        .map(|w| (w / 2).min(Duration::from_secs(1)))
        .unwrap_or(Duration::from_secs(1));
    let mut looks = tokio::time::interval(period.max(Duration::from_millis(50)));
    let mut ready = false;
    let mut stale_said: Vec<String> = Vec::new();
    let code = loop {
        tokio::select! {
            _ = looks.tick() => {}
            _ = hup.recv() => {
                notify(&[NotifyState::Reloading]);
                reload(&mut service, config_path).await;
                notify(&[NotifyState::Ready]);
                continue;
            }
            _ = term.recv() => {
                tracing::info!("terminated: stopping after the rounds in progress");
                break ExitCode::SUCCESS;
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("interrupted: stopping after the rounds in progress");
                break ExitCode::SUCCESS;
            }
        }
        if let Some(name) = service.ended() {
            tracing::error!(cluster = %name, "the cluster's loop ended unexpectedly: stopping so that the service manager restarts vipkeeper");
            break ExitCode::FAILURE;
        }
        if !ready && service.all_reported() {
            ready = true;
            tracing::info!("every cluster has finished a first round: ready");
            notify(&[NotifyState::Ready]);
        }
        let status = service.status_line();
        notify(&[NotifyState::Status(&status)]);
        let stale = service.board.stale(Instant::now());
        if ready && stale.is_empty() {
            if watchdog.is_some() {
                notify(&[NotifyState::Watchdog]);
            }
        } else if ready && stale != stale_said {
            tracing::error!(
                "no round finished lately in: {} (more than {} intervals): {}",
                stale.join(", "),
                super::board::STALE_AFTER_INTERVALS,
                if watchdog.is_some() {
                    "the watchdog is no longer fed"
                } else {
                    "/health answers 503"
                }
            );
        }
        stale_said = stale;
    };
    notify(&[NotifyState::Stopping]);
    let names: Vec<String> = service.loops.keys().cloned().collect();
    let late = service.stop(&names, STOP_BOUND).await;
    if !late.is_empty() {
        tracing::error!(
            "did not stop within {}: {}",
            humantime::format_duration(STOP_BOUND),
            late.join(", ")
        );
    }
    code
}

/// SIGHUP: the configuration is read and checked again; a valid one is
/// applied, an invalid one is reported problem by problem and the service
/// goes on with what it had.
async fn reload(service: &mut Service, config_path: &Path) {
    tracing::info!("reloading {}", config_path.display());
    let loaded = match crate::config::load(config_path) {
        Ok(l) => l,
        Err(e) => {
            for p in &e.problems {
                tracing::error!("reload refused, going on with the running configuration: {p}");
            }
            return;
        }
    };
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let trust = crate::config::trust::problems(&loaded.config);
    if !trust.is_empty() {
        for p in trust {
            tracing::error!("reload refused, going on with the running configuration: {p}");
        }
        return;
    }
    if let Some(only) = &service.only {
        if loaded.config.cluster(only).is_none() {
            tracing::error!(
                "reload refused: the new configuration has no cluster `{only}` (--cluster)"
            );
            return;
        }
    }
    service.apply(&loaded.config).await;
    tracing::info!("reloaded: {} loop(s) running", service.loops.len());
}

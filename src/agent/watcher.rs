//! An idle connection held open to the master. When mysqld dies its sockets
//! close at once, so the break is an event to react to within milliseconds
//! rather than something the next tick finds.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::mysql::{Session, Target};

pub struct MasterWatcher {
    target: watch::Sender<Option<Target>>,
    broken: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl MasterWatcher {
    pub fn spawn() -> Self {
        let (target, rx) = watch::channel(None);
        let broken = Arc::new(Notify::new());
        let task = tokio::spawn(watch_loop(rx, broken.clone()));
        Self {
            target,
            broken,
            task,
        }
    }

    /// Watches `target` from now on (no-op when unchanged).
    pub fn follow(&self, target: Option<Target>) {
        self.target.send_if_modified(|current| {
            let same = match (current.as_ref(), target.as_ref()) {
                (Some(a), Some(b)) => a.host == b.host && a.port == b.port,
                (None, None) => true,
                _ => false,
            };
            if !same {
                *current = target;
            }
            !same
        });
    }

    /// Completes when the held connection to the master breaks.
    pub async fn broken(&self) {
        self.broken.notified().await
    }
}

impl Drop for MasterWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn watch_loop(mut rx: watch::Receiver<Option<Target>>, broken: Arc<Notify>) {
    loop {
        let Some(target) = rx.borrow_and_update().clone() else {
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        };
        let mut idle = target.clone();
        // The sleeping statement below is the idle state; give it room.
        idle.query_timeout = Duration::from_secs(15);
        let mut session = match Session::connect(&idle).await {
            Ok(s) => s,
            Err(_) => {
                // The probes deal with a master we cannot reach; try again later.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    r = rx.changed() => if r.is_err() { return },
                }
                continue;
            }
        };
        loop {
            tokio::select! {
                r = session.exec("DO SLEEP(10)") => {
                    if let Err(e) = r {
                        tracing::debug!("connection to the master {}:{} broke: {e}", target.host, target.port);
                        broken.notify_one();
                        break;
                    }
                }
                r = rx.changed() => {
                    if r.is_err() { return }
                    break;
                }
            }
        }
    }
}

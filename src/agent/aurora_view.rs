//! The RDS API's view of an Aurora cluster, kept fresh by a task of its own
//! every `aurora.interval`: a slow or unreachable API never holds up the
//! SQL looks (and the API is not asked ten times a second). With no nodes
//! in the config it also lists the instances, again whenever the members
//! change and once a minute besides (an instance's address can change).

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::aurora::{api, discover};
use crate::config::{AuroraConfig, NodeConfig};

/// How often the instances are listed again when the members stay the same.
const REDISCOVER: Duration = Duration::from_secs(60);

/// The writer the API names (`None`: none), or why it could not be asked.
pub type ApiAnswer = Result<Option<String>, String>;

pub struct ApiView {
    writer: watch::Receiver<Option<(Instant, ApiAnswer)>>,
    instances: watch::Receiver<Option<Vec<NodeConfig>>>,
}

impl ApiView {
    /// Starts asking; `discover`: list the instances too.
    pub fn spawn(aurora: AuroraConfig, discover: bool, mut stop: watch::Receiver<bool>) -> Self {
        let (writer_tx, writer) = watch::channel(None);
        let (instances_tx, instances) = watch::channel(None);
        tokio::spawn(async move {
            // The members the instances were last listed for, and when.
            let mut listed: Option<(Vec<String>, Instant)> = None;
            let mut said = String::new();
            loop {
                let asked = Instant::now();
                let members = api::members(&aurora).await;
                let answer = members
                    .as_ref()
                    .map_err(Clone::clone)
                    .map(|m| m.iter().find(|(_, w)| *w).map(|(n, _)| n.clone()));
                if writer_tx.send(Some((Instant::now(), answer))).is_err() {
                    return;
                }
                if let (true, Ok(members)) = (discover, &members) {
                    let mut names: Vec<String> = members.iter().map(|(n, _)| n.clone()).collect();
                    names.sort();
                    let stale = match &listed {
                        Some((n, at)) => *n != names || at.elapsed() > REDISCOVER,
                        None => true,
                    };
                    if stale {
                        match discover::instances(&aurora).await {
                            Ok(found) => {
                                instances_tx.send_replace(Some(found));
                                listed = Some((names, Instant::now()));
                                said.clear();
                            }
                            Err(e) if e != said => {
                                tracing::warn!(
                                    "cannot list the instances of Aurora cluster {}: {e}",
                                    aurora.cluster_identifier
                                );
                                said = e;
                            }
                            Err(_) => {}
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(asked + aurora.interval) => {}
                    _ = stop.changed() => return,
                }
            }
        });
        Self { writer, instances }
    }

    /// The last answer; an error when there is none yet, or it is older
    /// than three intervals (the API has stopped answering in time).
    pub fn latest(&self, interval: Duration) -> ApiAnswer {
        match &*self.writer.borrow() {
            None => Err("the RDS API has not answered yet".into()),
            Some((at, _)) if at.elapsed() > interval * 3 => Err(format!(
                "the RDS API has not answered for over {}",
                humantime::format_duration(interval * 3)
            )),
            Some((_, answer)) => answer.clone(),
        }
    }

    /// The instances, when listed anew since the last call.
    pub fn instances(&mut self) -> Option<Vec<NodeConfig>> {
        if !self.instances.has_changed().unwrap_or(false) {
            return None;
        }
        self.instances.borrow_and_update().clone()
    }
}

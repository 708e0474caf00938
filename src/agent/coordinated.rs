//! A manager loop among several: what it publishes of the master each
//! round, and whether the managers' majority confirms a death before the
//! leader acts on it (`coord::quorum`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::analysis::Analysis;
use crate::coord::quorum::{self, Quorum, View};
use crate::coord::Coordinator;

/// A view is published when it changes, and at least this often.
const REPUBLISH: Duration = Duration::from_secs(1);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// This manager's view of the master, from its analysis.
pub fn view_of(manager: &str, analysis: &Analysis) -> View {
    let (master, reachable) = match analysis {
        Analysis::Healthy { master } | Analysis::MasterAlive { master, .. } => {
            (Some(master.clone()), true)
        }
        Analysis::MasterUnreachable { master, .. } | Analysis::DeadMaster { master, .. } => {
            (Some(master.clone()), false)
        }
        Analysis::NoMaster { .. } => (None, false),
    };
    View {
        manager: manager.to_string(),
        at_ms: now_ms(),
        master,
        reachable,
        says: analysis.describe(),
    }
}

/// What was last published, and when.
#[derive(Default)]
pub struct Published {
    last: Option<(View, Instant)>,
    failed: Option<String>,
}

impl Published {
    /// Publishes `view` if it changed or is due; logs a failure once.
    pub async fn publish(&mut self, coord: &Coordinator, cluster: &str, view: View) {
        let same = |a: &View, b: &View| {
            (&a.master, a.reachable, &a.says) == (&b.master, b.reachable, &b.says)
        };
        if let Some((last, at)) = &self.last {
            if same(last, &view) && at.elapsed() < REPUBLISH {
                return;
            }
        }
        match coord.publish(cluster, &view).await {
            Ok(()) => {
                self.last = Some((view, Instant::now()));
                self.failed = None;
            }
            Err(e) => {
                if self.failed.as_ref() != Some(&e) {
                    tracing::warn!(cluster, "cannot publish this manager's view: {e}");
                }
                self.failed = Some(e);
            }
        }
    }
}

/// The managers' verdict on `master`: every fresh view (no older than the
/// lease's TTL), this manager's `own` in place of its published one.
pub async fn verdict(
    coord: &Coordinator,
    cluster: &str,
    master: &str,
    own: View,
) -> Result<Quorum, String> {
    let mut views = coord.views(cluster).await?;
    views.retain(|v| v.manager != own.manager);
    views.push(own);
    Ok(quorum::count(&views, master, now_ms(), coord.lease_ttl()))
}

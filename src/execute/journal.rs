//! The journal: one JSON line per event, written (and flushed) as it
//! happens, so that a change cut short (a crash of vipkeeper itself) can be
//! understood from what the file says. `JournalEvent` is the one shape,
//! written here and read back by `vipkeeper report`; journals of earlier
//! versions read as the same type.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::report::{Outcome, StepRecord, Trigger};
use crate::candidate::Considered;
use crate::plan::{Kind, Plan};

/// One line: when, and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalLine {
    /// RFC 3339 with milliseconds.
    pub ts: String,
    #[serde(flatten)]
    pub event: JournalEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum JournalEvent {
    /// The change begins: its plan, or (refused before any plan) the
    /// replicas the choice considered.
    Start(Box<Start>),
    /// One step, as it ended.
    Step(StepRecord),
    /// How it ended.
    End { outcome: Outcome, duration_ms: u64 },
    /// A change of mind while following a writer another system promotes
    /// (Aurora): what was decided, on what, and why.
    Decision(Decided),
}

/// One decision of a follower, at `at_ms` from the start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    pub at_ms: u64,
    pub decision: DecisionKind,
    /// The decision in words.
    pub text: String,
    /// What it was decided on, as the follower recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionKind {
    /// Clients go to the writer.
    Steady,
    /// Nothing to act on yet.
    Wait,
    /// Move what clients use.
    Move,
    /// Reported, not acted on.
    Conflict,
}

impl DecisionKind {
    pub fn label(self) -> &'static str {
        match self {
            DecisionKind::Steady => "steady",
            DecisionKind::Wait => "wait",
            DecisionKind::Move => "move",
            DecisionKind::Conflict => "conflict",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Start {
    pub id: String,
    pub trigger: Trigger,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// Without a plan: the cluster, its master and what was considered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(
        default,
        alias = "dead_master",
        skip_serializing_if = "Option::is_none"
    )]
    pub old_master: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub considered: Vec<Considered>,
    /// Without a plan: why the master changes (a failover by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
}

impl Start {
    /// The start of a change that runs `plan`.
    pub fn of_plan(id: &str, trigger: Trigger, plan: &Plan) -> Self {
        Self {
            id: id.into(),
            trigger,
            plan: Some(plan.clone()),
            cluster: None,
            old_master: None,
            considered: Vec::new(),
            kind: None,
        }
    }

    /// The start of a failover refused before any plan was made.
    pub fn refused(
        id: &str,
        trigger: Trigger,
        cluster: &str,
        old_master: &str,
        considered: &[Considered],
    ) -> Self {
        Self {
            id: id.into(),
            trigger,
            plan: None,
            cluster: Some(cluster.into()),
            old_master: Some(old_master.into()),
            considered: considered.to_vec(),
            kind: None,
        }
    }

    /// The start of a change made by another system (Aurora) that
    /// vipkeeper follows, clients going to `from` until then.
    pub fn followed(id: &str, trigger: Trigger, cluster: &str, from: Option<&str>) -> Self {
        Self {
            id: id.into(),
            trigger,
            plan: None,
            cluster: Some(cluster.into()),
            old_master: from.map(str::to_string),
            considered: Vec::new(),
            kind: Some(Kind::Aurora),
        }
    }
}

pub struct Journal {
    path: PathBuf,
    file: Option<File>,
}

impl Journal {
    /// Opens (appends to) the journal at `path`. A journal that cannot be
    /// written is reported once and then skipped: it must never stop a failover.
    pub fn open(path: &Path) -> Self {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                tracing::error!("cannot write the failover journal {}: {e}", path.display())
            })
            .ok();
        Self {
            path: path.to_path_buf(),
            file,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event`, stamped now, and flushes it to disk.
    pub fn write(&mut self, event: JournalEvent) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let line = JournalLine {
            ts: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            event,
        };
        let text = serde_json::to_string(&line).expect("journal lines serialize");
        let ok = writeln!(file, "{text}").and_then(|_| file.sync_data());
        if let Err(e) = ok {
            tracing::error!(
                "cannot write the failover journal {}: {e}",
                self.path.display()
            );
        }
    }
}

//! The outcome of one failover: a JSON document (kept in the state
//! directory, handed to the notify command) and a short human summary.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::candidate::Considered;
use crate::plan::{Kind, Plan, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Automatic,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Outcome {
    Success,
    /// Stopped at `step`; what was done before it stays done.
    Failed {
        step: String,
        node: Option<String>,
        error: String,
        remedy: String,
    },
    /// Nothing was changed.
    Refused {
        why: String,
    },
    /// A switchover stopped at `step` and was undone: read back, the old
    /// master is the only writable node again (`found` says what was read).
    #[serde(rename = "rolled-back")]
    RolledBack {
        step: String,
        node: Option<String>,
        error: String,
        found: String,
    },
    /// This manager stopped before `step` (or in it): it may no longer act
    /// (its lease, its leadership). What it did is recorded in etcd, and
    /// the cluster's leader finishes the change.
    Interrupted {
        step: String,
        why: String,
    },
}

impl Trigger {
    pub fn label(self) -> &'static str {
        match self {
            Trigger::Automatic => "automatic",
            Trigger::Manual => "manual",
        }
    }
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed { .. } => "failed",
            Outcome::Refused { .. } => "refused",
            Outcome::RolledBack { .. } => "rolled-back",
            Outcome::Interrupted { .. } => "interrupted",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepOutcome {
    Ok,
    Skipped,
    Failed,
}

impl StepOutcome {
    pub fn label(self) -> &'static str {
        match self {
            StepOutcome::Ok => "ok",
            StepOutcome::Skipped => "skipped",
            StepOutcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    #[serde(flatten)]
    pub step: Step,
    pub outcome: StepOutcome,
    pub detail: String,
    /// Milliseconds from the start of the failover.
    pub at_ms: u64,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub kind: Kind,
    pub id: String,
    pub cluster: String,
    pub trigger: Trigger,
    #[serde(serialize_with = "crate::topology::rfc3339")]
    pub started_at: SystemTime,
    pub duration_ms: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub old_master: String,
    pub new_master: Option<String>,
    pub why: Option<String>,
    pub considered: Vec<Considered>,
    pub not_repointed: Vec<(String, String)>,
    pub steps: Vec<StepRecord>,
    /// Where the journal of this failover is.
    pub journal: Option<String>,
}

impl Report {
    pub fn refused(
        id: String,
        cluster: &str,
        trigger: Trigger,
        old_master: &str,
        why: String,
        considered: Vec<Considered>,
    ) -> Self {
        Report {
            kind: Kind::Failover,
            id,
            cluster: cluster.to_string(),
            trigger,
            started_at: SystemTime::now(),
            duration_ms: 0,
            outcome: Outcome::Refused { why: why.clone() },
            old_master: old_master.to_string(),
            new_master: None,
            why: Some(why),
            considered,
            not_repointed: Vec::new(),
            steps: Vec::new(),
            journal: None,
        }
    }

    pub fn from_plan(id: String, plan: &Plan, trigger: Trigger) -> Self {
        Report {
            kind: plan.kind,
            id,
            cluster: plan.cluster.clone(),
            trigger,
            started_at: SystemTime::now(),
            duration_ms: 0,
            outcome: Outcome::Success,
            old_master: plan.old_master.clone(),
            new_master: None,
            why: Some(plan.why.clone()),
            considered: plan.considered.clone(),
            not_repointed: plan.not_repointed.clone(),
            steps: Vec::new(),
            journal: None,
        }
    }

    pub fn finish(&mut self, elapsed: Duration) {
        self.duration_ms = elapsed.as_millis() as u64;
    }

    /// A few lines for a terminal or a page.
    pub fn summary(&self) -> String {
        let kind = self.kind.label();
        let mut out = match &self.outcome {
            Outcome::Success => format!(
                "{kind} {} of cluster {}: {} replaced {} in {} ms ({})\n",
                self.id,
                self.cluster,
                self.new_master.as_deref().unwrap_or("?"),
                self.old_master,
                self.duration_ms,
                self.why.as_deref().unwrap_or("")
            ),
            Outcome::Failed { step, node, error, remedy } => format!(
                "{kind} {} of cluster {} FAILED at step {step}{}: {error}\nwhat to do: {remedy}\n",
                self.id,
                self.cluster,
                node.as_ref().map(|n| format!(" on {n}")).unwrap_or_default()
            ),
            Outcome::Refused { why } => format!(
                "{kind} of cluster {} REFUSED (nothing was changed): {why}\n",
                self.cluster
            ),
            Outcome::RolledBack { step, node, error, found } => format!(
                "{kind} {} of cluster {} ROLLED BACK after step {step}{}: {error}\n{} is the writable master again; read back: {found}\n",
                self.id,
                self.cluster,
                node.as_ref().map(|n| format!(" on {n}")).unwrap_or_default(),
                self.old_master
            ),
            Outcome::Interrupted { step, why } => format!(
                "{kind} {} of cluster {} INTERRUPTED at step {step}: {why}; the steps before it are recorded in etcd, and the cluster's leader finishes it\n",
                self.id, self.cluster
            ),
        };
        for s in &self.steps {
            let mark = match s.outcome {
                StepOutcome::Ok => "ok",
                StepOutcome::Skipped => "skipped",
                StepOutcome::Failed => "FAILED",
            };
            out.push_str(&format!(
                "  +{:>5} ms  {:<7} {}: {}\n",
                s.at_ms, mark, s.step, s.detail
            ));
        }
        for (node, why) in &self.not_repointed {
            out.push_str(&format!("  not repointed: {node}: {why}\n"));
        }
        if let Some(j) = &self.journal {
            out.push_str(&format!("  journal: {j}\n"));
        }
        out
    }
}

/// A failover id: the cluster and the UTC time, to the millisecond.
pub fn new_id(cluster: &str, at: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_millis(at).to_string();
    let compact: String = stamp
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{cluster}-{compact}")
}

//! The outcome of one failover: a JSON document (kept in the state
//! directory, handed to the notify command) and a short human summary.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::candidate::Considered;
use crate::plan::{Plan, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Automatic,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed { .. } => "failed",
            Outcome::Refused { .. } => "refused",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepOutcome {
    Ok,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    pub id: String,
    pub cluster: String,
    pub trigger: Trigger,
    #[serde(serialize_with = "crate::topology::rfc3339")]
    pub started_at: SystemTime,
    pub duration_ms: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub dead_master: String,
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
        dead_master: &str,
        why: String,
        considered: Vec<Considered>,
    ) -> Self {
        Report {
            id,
            cluster: cluster.to_string(),
            trigger,
            started_at: SystemTime::now(),
            duration_ms: 0,
            outcome: Outcome::Refused { why: why.clone() },
            dead_master: dead_master.to_string(),
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
            id,
            cluster: plan.cluster.clone(),
            trigger,
            started_at: SystemTime::now(),
            duration_ms: 0,
            outcome: Outcome::Success,
            dead_master: plan.dead_master.clone(),
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
        let mut out = match &self.outcome {
            Outcome::Success => format!(
                "failover {} of cluster {}: {} replaced {} in {} ms ({})\n",
                self.id,
                self.cluster,
                self.new_master.as_deref().unwrap_or("?"),
                self.dead_master,
                self.duration_ms,
                self.why.as_deref().unwrap_or("")
            ),
            Outcome::Failed { step, node, error, remedy } => format!(
                "failover {} of cluster {} FAILED at step {step}{}: {error}\nwhat to do: {remedy}\n",
                self.id,
                self.cluster,
                node.as_ref().map(|n| format!(" on {n}")).unwrap_or_default()
            ),
            Outcome::Refused { why } => format!(
                "failover of cluster {} REFUSED (nothing was changed): {why}\n",
                self.cluster
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

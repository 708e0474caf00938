//! One change of Aurora's writer as the agent saw it, from the first look
//! that was not steady to its end: clients moved to the new writer, a
//! conflict reported and not acted on, or the writer settled where clients
//! already go (a flapping answer, a promotion that did not happen). Its
//! journal is in the failover journal's format (each decision a line, the
//! move a step), so `vipkeeper report` reads it; its report has the same id.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::act::AuroraReport;
use super::decide::{Decision, Evidence};
use crate::execute::report::{StepOutcome, StepRecord};
use crate::execute::{Decided, DecisionKind, Journal, JournalEvent, Outcome, Start, Trigger};
use crate::plan::Step;
use crate::state::ClusterState;

pub struct Episode {
    pub id: String,
    started: Instant,
    journal: Journal,
    /// Where clients went when it began.
    pub from: Option<String>,
}

impl Episode {
    /// Begins an episode for `cluster`, clients going to `from`.
    pub fn open(state: &ClusterState, cluster: &str, from: Option<&str>, trigger: Trigger) -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis();
        let id = format!("{cluster}-aurora-{ms}");
        let mut journal = match state.journal_path(&id) {
            Ok(p) => Journal::open(&p),
            Err(e) => {
                tracing::error!(cluster, "cannot create the journal directory: {e}");
                Journal::open(std::path::Path::new("/dev/null"))
            }
        };
        journal.write(JournalEvent::Start(Box::new(Start::followed(
            &id, trigger, cluster, from,
        ))));
        Self {
            id,
            started: Instant::now(),
            journal,
            from: from.map(str::to_string),
        }
    }

    pub fn journal_path(&self) -> String {
        self.journal.path().display().to_string()
    }

    fn at_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// A decision, in words, with what it was decided on.
    pub fn decided(&mut self, decision: &Decision, text: &str, evidence: &Evidence) {
        let decision = match decision {
            Decision::Steady { .. } => DecisionKind::Steady,
            Decision::Wait { .. } => DecisionKind::Wait,
            Decision::Move { .. } => DecisionKind::Move,
            Decision::Conflict { .. } => DecisionKind::Conflict,
        };
        let line = Decided {
            at_ms: self.at_ms(),
            decision,
            text: text.to_string(),
            evidence: serde_json::to_value(evidence).ok(),
        };
        self.journal.write(JournalEvent::Decision(line));
    }

    /// The move, as `report` tells it, and the end.
    pub fn moved(mut self, report: &AuroraReport) {
        let elapsed = report.move_ms.unwrap_or(0) as u64;
        let end = self.at_ms();
        let (outcome, detail) = if report.outcome == "moved" {
            (
                StepOutcome::Ok,
                report
                    .backends
                    .iter()
                    .map(|(b, label, detail)| format!("{b}: {label} ({detail})"))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        } else {
            (StepOutcome::Failed, report.why.clone().unwrap_or_default())
        };
        let step = Step::MoveVip {
            from: self.from.clone().unwrap_or_else(|| "nowhere".into()),
            to: report.to.clone().unwrap_or_default(),
        };
        self.journal.write(JournalEvent::Step(StepRecord {
            step: step.clone(),
            outcome,
            detail: detail.clone(),
            at_ms: end.saturating_sub(elapsed),
            elapsed_ms: elapsed,
        }));
        let outcome = match outcome {
            StepOutcome::Ok => Outcome::Success,
            _ => Outcome::Failed {
                step: step.name().to_string(),
                node: report.to.clone(),
                error: detail,
                remedy: "the agent tries again on its next look; `vipkeeper vip status` shows where clients go".into(),
            },
        };
        self.end(outcome);
    }

    /// The end without a move: `why` nothing was changed.
    pub fn unchanged(self, why: &str) {
        self.end(Outcome::Refused {
            why: why.to_string(),
        });
    }

    fn end(mut self, outcome: Outcome) {
        let duration_ms = self.at_ms();
        self.journal.write(JournalEvent::End {
            outcome,
            duration_ms,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{read_journal, summary};

    fn evidence(writer: Option<&str>) -> Evidence {
        Evidence {
            sql: ["db1", "db2"]
                .iter()
                .map(|n| (n.to_string(), Ok(Some(*n) == writer)))
                .collect(),
            api: Ok(Some("db1".into())),
        }
    }

    fn wait(why: &str) -> Decision {
        Decision::Wait { why: why.into() }
    }

    #[test]
    fn a_followed_move_reads_back_as_a_timeline_with_its_decisions() {
        let dir = tempfile::tempdir().unwrap();
        let state = ClusterState::new(dir.path(), "main");
        let mut ep = Episode::open(&state, "main", Some("db1"), Trigger::Automatic);
        ep.decided(
            &wait("no writer"),
            "no instance is the writer now",
            &evidence(None),
        );
        ep.decided(
            &wait("db2"),
            "db2 is the new writer: confirming",
            &evidence(Some("db2")),
        );
        let report = AuroraReport {
            id: ep.id.clone(),
            journal: Some(ep.journal_path()),
            cluster: "main".into(),
            kind: "aurora-writer-change",
            from: Some("db1".into()),
            to: Some("db2".into()),
            basis: None,
            evidence: evidence(Some("db2")),
            why: None,
            backends: vec![("aws-nlb".into(), "moved".into(), "10.0.0.2:3306".into())],
            move_ms: Some(40),
            outcome: "moved",
        };
        let path = ep.journal_path();
        ep.moved(&report);
        let t = read_journal(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(t.kind, crate::plan::Kind::Aurora);
        assert_eq!(t.old_master, "db1");
        assert_eq!(t.candidate.as_deref(), Some("db2"));
        assert!(t.succeeded() && t.has_vip);
        assert_eq!(t.decisions.len(), 2);
        assert_eq!(t.decisions[1].decision, DecisionKind::Wait);
        assert_eq!(t.steps.len(), 1);
        let text = summary(&t);
        assert!(text.contains("aurora writer change"), "{text}");
        assert!(text.contains("db2 is the new writer: confirming"), "{text}");
        assert!(text.contains("aws-nlb: moved (10.0.0.2:3306)"), "{text}");
    }

    #[test]
    fn a_flap_ends_unchanged_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let state = ClusterState::new(dir.path(), "main");
        let mut ep = Episode::open(&state, "main", Some("db1"), Trigger::Automatic);
        ep.decided(
            &wait("db2"),
            "db2 is the new writer: confirming",
            &evidence(Some("db2")),
        );
        let path = ep.journal_path();
        ep.unchanged("db1 is the writer again");
        let t = read_journal(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(t.outcome_label(), "refused");
        assert_eq!(t.outcome_detail.as_deref(), Some("db1 is the writer again"));
        assert!(t.steps.is_empty() && !t.has_vip);
        let mode = std::fs::metadata(&path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }
}

//! `vipkeeper report JOURNAL [--svg OUT] [--client FILE]`: a failover
//! journal turned into a summary and a picture for the postmortem — one lane
//! per node (what it was at each moment), one for the VIP, the steps as marks
//! on a common time axis, and the client's writes as a strip.

mod svg;

#[cfg(test)]
mod tests;

use std::time::SystemTime;

use serde_json::Value;

use crate::execute::report::StepOutcome;
use crate::execute::{Decided, JournalEvent, JournalLine, Outcome, Start, Trigger};
use crate::plan::{Kind, Step};

pub use svg::render_svg;

/// One step as the journal recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMark {
    pub step: Step,
    /// From the plan's wording, e.g. "make db2 writable".
    pub text: String,
    pub outcome: StepOutcome,
    pub detail: String,
    pub at_ms: f64,
    pub end_ms: f64,
}

/// One client observation: a write acknowledged (`ok`) or failed, at `at_ms`
/// from the start of the failover (negative: before it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientEvent {
    pub at_ms: f64,
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub id: String,
    pub cluster: String,
    pub trigger: Trigger,
    pub started: SystemTime,
    pub kind: Kind,
    pub old_master: String,
    pub candidate: Option<String>,
    pub why: Option<String>,
    /// Every node the failover concerned, dead master first.
    pub nodes: Vec<String>,
    pub steps: Vec<StepMark>,
    /// `None`: the journal has no end (vipkeeper stopped during the change).
    pub outcome: Option<Outcome>,
    /// The failure or refusal, in words.
    pub outcome_detail: Option<String>,
    pub duration_ms: f64,
    pub has_vip: bool,
    /// A follower's decisions (Aurora), in order.
    pub decisions: Vec<Decided>,
}

impl Timeline {
    /// The outcome in one word (or why there is none).
    pub fn outcome_label(&self) -> &'static str {
        match &self.outcome {
            Some(o) => o.label(),
            None => "unfinished (no end line: vipkeeper stopped during the failover)",
        }
    }

    pub fn succeeded(&self) -> bool {
        self.outcome == Some(Outcome::Success)
    }
}

/// Reads a journal (one JSON object per line). Events this version does
/// not know (a later version's) are passed over.
pub fn read_journal(text: &str) -> Result<Timeline, String> {
    let mut start: Option<(SystemTime, Start)> = None;
    let mut records = Vec::new();
    let mut end = None;
    let mut decisions = Vec::new();
    for (i, l) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let value: Value =
            serde_json::from_str(l).map_err(|e| format!("line {}: not JSON: {e}", i + 1))?;
        let known = matches!(
            value.get("event").and_then(Value::as_str),
            Some("start" | "step" | "end" | "decision")
        );
        if !known {
            continue;
        }
        let line: JournalLine = serde_json::from_value(value)
            .map_err(|e| format!("line {}: not a journal line this version reads: {e}", i + 1))?;
        match line.event {
            JournalEvent::Start(s) if start.is_none() => {
                let ts = humantime::parse_rfc3339(&line.ts)
                    .map_err(|_| "the start line has no valid \"ts\"".to_string())?;
                start = Some((ts, *s));
            }
            JournalEvent::Start(_) => {}
            JournalEvent::Step(r) => records.push(r),
            JournalEvent::Decision(d) => decisions.push(d),
            JournalEvent::End {
                outcome,
                duration_ms,
            } => end = Some((outcome, duration_ms)),
        }
    }
    let (started, start) =
        start.ok_or("no \"start\" line: is this a vipkeeper failover journal?")?;
    let plan = start.plan.as_ref();
    let old_master = plan
        .map(|p| p.old_master.clone())
        .or(start.old_master.clone())
        .unwrap_or_else(|| "?".into());
    let considered = plan.map(|p| &p.considered).unwrap_or(&start.considered);
    let mut nodes = vec![old_master.clone()];
    for c in considered {
        if !nodes.contains(&c.name) {
            nodes.push(c.name.clone());
        }
    }
    let steps: Vec<StepMark> = records
        .into_iter()
        .map(|r| StepMark {
            text: r.step.to_string(),
            step: r.step,
            outcome: r.outcome,
            detail: r.detail,
            at_ms: r.at_ms as f64,
            end_ms: (r.at_ms + r.elapsed_ms) as f64,
        })
        .collect();
    let outcome_detail = end.as_ref().and_then(|(o, _)| match o {
        Outcome::Failed {
            step, node, error, ..
        }
        | Outcome::RolledBack {
            step, node, error, ..
        } => Some(format!(
            "at step {step}{}: {error}",
            node.as_ref()
                .map(|n| format!(" on {n}"))
                .unwrap_or_default()
        )),
        Outcome::Refused { why } => Some(why.clone()),
        Outcome::Interrupted { step, why } => Some(format!("at step {step}: {why}")),
        Outcome::Success => None,
    });
    // Without a plan, the node clients were moved to is the candidate.
    let moved_to = steps.iter().find_map(|s| match &s.step {
        Step::MoveVip { to, .. } => Some(to.clone()),
        _ => None,
    });
    let duration_ms = end
        .as_ref()
        .map(|(_, d)| *d as f64)
        .unwrap_or_else(|| steps.iter().map(|s| s.end_ms).fold(0.0, f64::max));
    Ok(Timeline {
        id: start.id.clone(),
        cluster: plan
            .map(|p| p.cluster.clone())
            .or(start.cluster.clone())
            .unwrap_or_else(|| "?".into()),
        trigger: start.trigger,
        started,
        candidate: plan.map(|p| p.candidate.clone()).or(moved_to),
        why: plan.map(|p| p.why.clone()),
        has_vip: plan.is_some_and(|p| p.steps.iter().any(|s| matches!(s, Step::MoveVip { .. })))
            || steps.iter().any(|s| matches!(s.step, Step::MoveVip { .. })),
        kind: plan.map(|p| p.kind).or(start.kind).unwrap_or_default(),
        old_master,
        nodes,
        steps,
        outcome: end.map(|(o, _)| o),
        outcome_detail,
        duration_ms,
        decisions,
    })
}

/// Client observations from a JSON-lines file of `{"ts": RFC 3339, "ok": bool}`.
pub fn read_client(text: &str, failover_start: SystemTime) -> Result<Vec<ClientEvent>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            let v: Value =
                serde_json::from_str(l).map_err(|e| format!("client line {}: {e}", i + 1))?;
            let ts = v["ts"]
                .as_str()
                .and_then(|t| humantime::parse_rfc3339(t).ok())
                .ok_or_else(|| format!("client line {}: no valid \"ts\"", i + 1))?;
            let at_ms = match ts.duration_since(failover_start) {
                Ok(d) => d.as_secs_f64() * 1000.0,
                Err(e) => -e.duration().as_secs_f64() * 1000.0,
            };
            Ok(ClientEvent {
                at_ms,
                ok: v["ok"].as_bool().unwrap_or(false),
            })
        })
        .collect()
}

/// A few lines for the terminal.
pub fn summary(t: &Timeline) -> String {
    let mut out = format!(
        "{} {} of cluster {} ({}), started {}: {}",
        t.kind.label(),
        t.id,
        t.cluster,
        t.trigger.label(),
        humantime::format_rfc3339_millis(t.started),
        t.outcome_label()
    );
    match &t.candidate {
        Some(c) if t.succeeded() => out.push_str(&format!(
            ", {c} replaced {} in {:.0} ms",
            t.old_master, t.duration_ms
        )),
        _ if t.kind != Kind::Failover => out.push_str(&format!(" (master {})", t.old_master)),
        _ => out.push_str(&format!(" (dead master {})", t.old_master)),
    }
    out.push('\n');
    if let Some(d) = &t.outcome_detail {
        out.push_str(&format!("  {d}\n"));
    }
    if let Some(w) = &t.why {
        out.push_str(&format!(
            "  candidate {}: {w}\n",
            t.candidate.as_deref().unwrap_or("?")
        ));
    }
    for d in &t.decisions {
        out.push_str(&format!(
            "  +{:>6} ms  {:<7} {}\n",
            d.at_ms,
            d.decision.label(),
            d.text
        ));
    }
    for s in &t.steps {
        out.push_str(&format!(
            "  +{:>6.0} ms  {:<7} {}: {}\n",
            s.at_ms,
            s.outcome.label(),
            s.text,
            s.detail
        ));
    }
    out
}

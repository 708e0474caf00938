//! `vipkeeper report JOURNAL [--svg OUT] [--client FILE]`: a failover
//! journal turned into a summary and a picture for the postmortem — one lane
//! per node (what it was at each moment), one for the VIP, the steps as marks
//! on a common time axis, and the client's writes as a strip.

mod svg;

#[cfg(test)]
mod tests;

use std::time::SystemTime;

use serde_json::Value;

pub use svg::render_svg;

/// One step as the journal recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMark {
    pub name: String,
    pub node: Option<String>,
    /// From the plan's wording, e.g. "make db2 writable".
    pub text: String,
    pub outcome: String,
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
    pub trigger: String,
    pub started: SystemTime,
    /// failover or switchover.
    pub kind: String,
    pub old_master: String,
    pub candidate: Option<String>,
    pub why: Option<String>,
    /// Every node the failover concerned, dead master first.
    pub nodes: Vec<String>,
    pub steps: Vec<StepMark>,
    /// success, failed or refused.
    pub outcome: String,
    /// The failure or refusal, in words.
    pub outcome_detail: Option<String>,
    pub duration_ms: f64,
    pub has_vip: bool,
}

/// Reads a journal (one JSON object per line).
pub fn read_journal(text: &str) -> Result<Timeline, String> {
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: not JSON: {e}", i + 1)))
        .collect::<Result<_, _>>()?;
    let start = lines
        .iter()
        .find(|l| l["event"] == "start")
        .ok_or("no \"start\" line: is this a vipkeeper failover journal?")?;
    let started = start["ts"]
        .as_str()
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .ok_or("the start line has no valid \"ts\"")?;
    let plan = &start["plan"];
    // Journals before 0.1 said "dead_master".
    let old_master = ["old_master", "dead_master"]
        .iter()
        .find_map(|k| plan[*k].as_str().or(start[*k].as_str()))
        .unwrap_or("?")
        .to_string();
    let kind = plan["kind"]
        .as_str()
        .or(start["kind"].as_str())
        .unwrap_or("failover")
        .to_string();
    let considered = if plan.is_object() {
        &plan["considered"]
    } else {
        &start["considered"]
    };
    let mut nodes = vec![old_master.clone()];
    for c in considered.as_array().into_iter().flatten() {
        if let Some(n) = c["name"].as_str() {
            if !nodes.iter().any(|x| x == n) {
                nodes.push(n.to_string());
            }
        }
    }
    let plan_steps: Vec<&Value> = plan["steps"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let steps: Vec<StepMark> = lines
        .iter()
        .filter(|l| l["event"] == "step")
        .map(|l| {
            let at = l["at_ms"].as_f64().unwrap_or(0.0);
            StepMark {
                name: l["step"].as_str().unwrap_or("?").to_string(),
                node: l["node"].as_str().or(l["to"].as_str()).map(str::to_string),
                text: step_text(l, &plan_steps),
                outcome: l["outcome"].as_str().unwrap_or("?").to_string(),
                detail: l["detail"].as_str().unwrap_or("").to_string(),
                at_ms: at,
                end_ms: at + l["elapsed_ms"].as_f64().unwrap_or(0.0),
            }
        })
        .collect();
    let end = lines.iter().rev().find(|l| l["event"] == "end");
    let outcome_value = end.map(|e| &e["outcome"]);
    let outcome = outcome_value
        .and_then(|o| o["outcome"].as_str().or(o.as_str()))
        .unwrap_or("unfinished (no end line: vipkeeper stopped during the failover)")
        .to_string();
    let outcome_detail =
        outcome_value.and_then(|o| match (o["error"].as_str(), o["why"].as_str()) {
            (Some(e), _) => Some(format!(
                "at step {}{}: {e}",
                o["step"].as_str().unwrap_or("?"),
                o["node"]
                    .as_str()
                    .map(|n| format!(" on {n}"))
                    .unwrap_or_default()
            )),
            (None, Some(w)) => Some(w.to_string()),
            _ => None,
        });
    let duration_ms = end
        .and_then(|e| e["duration_ms"].as_f64())
        .unwrap_or_else(|| steps.iter().map(|s| s.end_ms).fold(0.0, f64::max));
    Ok(Timeline {
        id: start["id"].as_str().unwrap_or("?").to_string(),
        cluster: plan["cluster"]
            .as_str()
            .or(start["cluster"].as_str())
            .unwrap_or("?")
            .to_string(),
        trigger: start["trigger"].as_str().unwrap_or("?").to_string(),
        started,
        candidate: plan["candidate"].as_str().map(str::to_string),
        why: plan["why"].as_str().map(str::to_string),
        has_vip: plan_steps.iter().any(|s| s["step"] == "move-vip"),
        old_master,
        kind,
        nodes,
        steps,
        outcome,
        outcome_detail,
        duration_ms,
    })
}

/// The plan's own words for a step ("repoint db3 to db2 ..."), rebuilt from
/// the journal line.
fn step_text(line: &Value, _plan: &[&Value]) -> String {
    let step: Result<crate::plan::Step, _> = serde_json::from_value(line.clone());
    match step {
        Ok(s) => s.to_string(),
        Err(_) => line["step"].as_str().unwrap_or("?").to_string(),
    }
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
        t.kind,
        t.id,
        t.cluster,
        t.trigger,
        humantime::format_rfc3339_millis(t.started),
        t.outcome
    );
    match (&t.candidate, t.outcome.as_str()) {
        (Some(c), "success") => out.push_str(&format!(
            ", {c} replaced {} in {:.0} ms",
            t.old_master, t.duration_ms
        )),
        _ if t.kind == "switchover" => out.push_str(&format!(" (master {})", t.old_master)),
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
    for s in &t.steps {
        out.push_str(&format!(
            "  +{:>6.0} ms  {:<7} {}: {}\n",
            s.at_ms, s.outcome, s.text, s.detail
        ));
    }
    out
}

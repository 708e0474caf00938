//! What one chaos scenario came to, and the totals of a run as the
//! markdown of docs/RELIABILITY.md.

use super::checker::Checked;
use super::{Fault, Scenario};

#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: Scenario,
    /// Wall time of the whole scenario, set-up included.
    pub seconds: f64,
    /// The harness could not run the scenario (not a finding on vipkeeper).
    pub error: Option<String>,
    /// The end the fault should have come to never came in time.
    pub hung: Option<String>,
    /// The manager did something it must not (a failover when only it was
    /// cut off, a second failover within the block period).
    pub wrong_action: Option<String>,
    pub new_master: Option<String>,
    pub acknowledged: usize,
    /// Acknowledged writes the (new) master does not hold.
    pub lost: Vec<u64>,
    /// Replicas of the new master lacking writes it holds, and how many.
    pub replicas_short: Vec<(String, usize)>,
    /// Live replicas not replicating from the new master, and from where.
    pub not_repointed: Vec<String>,
    pub checked: Checked,
    /// The VIP's targets disagree at the end (route tables vs the script).
    pub vip_split: Option<String>,
    /// Fault → the client's first write acknowledged by the new master.
    pub writable_ms: Option<f64>,
    /// The nodes that acknowledged the lost writes.
    pub lost_by: std::collections::BTreeSet<String>,
    /// Lost writes a failover report named as possibly lost.
    pub loss_named: usize,
    /// Lost writes nothing could have saved: async, acknowledged by the
    /// dead master alone, its host gone — and named by the report.
    pub unsavable: usize,
    pub notes: Vec<String>,
    /// The manager refused to fail over, and that was the right end (the
    /// errant replica received the most: promoting the other would lose
    /// what only it holds): no master, and no client write, by design.
    pub no_master: Option<String>,
}

impl Outcome {
    pub fn new(scenario: Scenario) -> Self {
        Self {
            scenario,
            seconds: 0.0,
            error: None,
            hung: None,
            wrong_action: None,
            new_master: None,
            acknowledged: 0,
            lost: Vec::new(),
            replicas_short: Vec::new(),
            not_repointed: Vec::new(),
            checked: Checked::default(),
            vip_split: None,
            writable_ms: None,
            lost_by: Default::default(),
            loss_named: 0,
            unsavable: 0,
            notes: Vec::new(),
            no_master: None,
        }
    }

    /// Writes may be lost only when nothing could save them (`unsavable`).
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.hung.is_none()
            && self.wrong_action.is_none()
            && self.lost.len() == self.unsavable
            && self.replicas_short.is_empty()
            && self.not_repointed.is_empty()
            && self.checked.two_writer_moments == 0
            && self.vip_split.is_none()
    }

    /// One line for the console and the per-fault table.
    pub fn line(&self) -> String {
        let verdict = if self.error.is_some() {
            "NOT RUN"
        } else if self.passed() {
            "ok"
        } else {
            "FAILED"
        };
        let mut parts = vec![format!(
            "{verdict}: {} acknowledged, {} lost",
            self.acknowledged,
            self.lost.len()
        )];
        if !self.lost.is_empty() {
            parts.push(format!(
                "acknowledged by {}, {} named by the report, {} unsavable",
                self.lost_by.iter().cloned().collect::<Vec<_>>().join(", "),
                self.loss_named,
                self.unsavable
            ));
        }
        parts.push(format!(
            "{} two-writer moment(s)",
            self.checked.two_writer_moments
        ));
        if let Some(ms) = self.writable_ms {
            parts.push(format!("writable after {ms:.0} ms"));
        }
        if let Some(m) = &self.new_master {
            parts.push(format!("master {m}"));
        }
        for (what, v) in [
            ("hung", &self.hung),
            ("wrong action", &self.wrong_action),
            ("two VIP targets", &self.vip_split),
            ("error", &self.error),
        ] {
            if let Some(v) = v {
                parts.push(format!("{what}: {v}"));
            }
        }
        for (r, n) in &self.replicas_short {
            parts.push(format!("{r} lacks {n} of the master's writes"));
        }
        parts.extend(self.not_repointed.iter().cloned());
        parts.extend(self.notes.iter().cloned());
        format!(
            "{} ({:.0} s): {}",
            self.scenario.describe(),
            self.seconds,
            parts.join("; ")
        )
    }
}

/// The figures of a run.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub run: usize,
    pub not_run: usize,
    pub passed: usize,
    pub lost_semi_sync: usize,
    pub lost_async_host_alive: usize,
    pub lost_async_host_dead: usize,
    pub lost_unnamed: usize,
    pub two_writer_moments: usize,
    pub vip_splits: usize,
    pub hung: usize,
    pub wrong_actions: usize,
    pub replicas_short: usize,
}

impl Totals {
    pub fn of(outcomes: &[Outcome]) -> Self {
        let mut t = Totals::default();
        for o in outcomes {
            if o.error.is_some() {
                t.not_run += 1;
                continue;
            }
            t.run += 1;
            t.passed += o.passed() as usize;
            let lost = o.lost.len();
            if o.scenario.semi_sync {
                t.lost_semi_sync += lost;
            } else {
                t.lost_async_host_dead += o.unsavable;
                t.lost_async_host_alive += lost - o.unsavable;
            }
            t.lost_unnamed += lost - o.loss_named.min(lost);
            t.two_writer_moments += o.checked.two_writer_moments;
            t.vip_splits += o.vip_split.is_some() as usize;
            t.hung += o.hung.is_some() as usize;
            t.wrong_actions += o.wrong_action.is_some() as usize;
            t.replicas_short += o.replicas_short.len() + o.not_repointed.len();
        }
        t
    }

    /// What the run promises: nothing lost that could be saved, never two
    /// writers, nothing hung, no wrong action, and every fault run.
    pub fn clean(&self) -> bool {
        self.not_run == 0 && self.passed == self.run
    }

    pub fn markdown(&self) -> String {
        format!(
            "| faults run | passed | acknowledged writes lost: semi-sync | async, savable (the host alive) | async, unsavable (host dead; named by the report) | lost and not named | two-writer moments | two VIP targets | hangs | wrong actions | replicas short or not repointed | not run |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|\n\
             | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            self.run,
            self.passed,
            self.lost_semi_sync,
            self.lost_async_host_alive,
            self.lost_async_host_dead,
            self.lost_unnamed,
            self.two_writer_moments,
            self.vip_splits,
            self.hung,
            self.wrong_actions,
            self.replicas_short,
            self.not_run
        )
    }
}

/// Time to writable by fault: (fault, runs, p50 ms, max ms).
pub fn writable_by_fault(outcomes: &[Outcome]) -> Vec<(Fault, usize, f64, f64)> {
    Fault::ALL
        .iter()
        .filter_map(|f| {
            let mut ms: Vec<f64> = outcomes
                .iter()
                .filter(|o| o.scenario.fault == *f)
                .filter_map(|o| o.writable_ms)
                .collect();
            if ms.is_empty() {
                return None;
            }
            ms.sort_by(|a, b| a.total_cmp(b));
            Some((*f, ms.len(), ms[(ms.len() - 1) / 2], ms[ms.len() - 1]))
        })
        .collect()
}

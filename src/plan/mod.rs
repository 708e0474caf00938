//! Plans: what a change of master will do, step by step, decided before
//! anything is done. Pure: `--dry-run` prints exactly what the executor
//! would run. A failover replaces a dead master (`failover.rs`), a
//! switchover hands over from a live one (`switchover.rs`), and a rollback
//! undoes a switchover that could not finish (`rollback.rs`).

mod failover;
mod rollback;
mod step;
mod switchover;

use serde::{Deserialize, Serialize};

use crate::candidate::Considered;
use crate::config::ClusterConfig;

pub use failover::plan;
pub use rollback::{rollback, rollback_steps, undo_must_stop};
pub use step::Step;
pub use switchover::switchover;

/// The promotion itself, the same for every kind of plan: detach the
/// candidate, move the VIP (if there is one) while nobody can write, then
/// make the candidate writable.
fn promote(cluster: &ClusterConfig, master: &str, candidate: &str) -> Vec<Step> {
    let mut steps = vec![Step::Detach {
        node: candidate.into(),
    }];
    if cluster.vip.is_some() {
        steps.push(Step::MoveVip {
            from: master.into(),
            to: candidate.into(),
        });
    }
    steps.push(Step::MakeWritable {
        node: candidate.into(),
    });
    steps
}

/// How the other replicas find their place in the new master's binlog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Positioning {
    #[default]
    Gtid,
    /// File/position: every replica received the same position, so each
    /// starts at the new master's binlog position as of its promotion.
    SamePosition,
}

/// Why the master changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The master is dead.
    #[default]
    Failover,
    /// The master is alive and hands over (`vipkeeper switchover`).
    Switchover,
    /// A switchover that could not finish is undone: the old master takes
    /// the role back.
    Rollback,
    /// Aurora promoted a new writer itself; vipkeeper followed.
    Aurora,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Failover => "failover",
            Kind::Switchover => "switchover",
            Kind::Rollback => "rollback",
            Kind::Aurora => "aurora writer change",
        }
    }
}

/// Read back from journals, fields that earlier versions did not write
/// take their defaults, and `dead_master` is the old name of `old_master`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    #[serde(default)]
    pub kind: Kind,
    pub cluster: String,
    #[serde(alias = "dead_master")]
    pub old_master: String,
    pub candidate: String,
    #[serde(default)]
    pub why: String,
    #[serde(default)]
    pub catch_up_from: Option<String>,
    #[serde(default)]
    pub considered: Vec<Considered>,
    #[serde(default)]
    pub positioning: Positioning,
    /// Replicas left alone, with the reason.
    #[serde(default)]
    pub not_repointed: Vec<(String, String)>,
    /// File/position replicas that received less than the candidate, and
    /// are repointed by GTID instead (MariaDB `master_use_gtid=slave_pos`,
    /// MySQL auto-position).
    #[serde(default)]
    pub by_gtid: Vec<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Failover: what the old master had written at its last answer (its
    /// binlog position, its executed GTIDs as text), to say what may be
    /// lost when nothing can be salvaged.
    #[serde(default)]
    pub master_last_seen: Option<LastSeen>,
}

/// A master's last known writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSeen {
    pub binlog: Option<crate::mysql::binlog::BinlogCoord>,
    pub gtids: Option<String>,
}

impl Plan {
    /// The plan in words, one step a line.
    pub fn describe(&self) -> String {
        let what = match self.kind {
            Kind::Failover => format!(
                "failover of cluster {}: {} is dead",
                self.cluster, self.old_master
            ),
            Kind::Switchover => format!(
                "switchover of cluster {}: {} is alive and hands the master role over",
                self.cluster, self.old_master
            ),
            Kind::Rollback => format!(
                "rollback of the switchover of cluster {}: {} takes the master role back from {}",
                self.cluster, self.old_master, self.candidate
            ),
            Kind::Aurora => format!(
                "Aurora cluster {}: Aurora promoted a new writer in place of {}",
                self.cluster, self.old_master
            ),
        };
        let mut out = format!("{what}\n");
        if self.kind != Kind::Rollback {
            self.describe_choice(&mut out);
        }
        out.push_str("steps:\n");
        for (i, s) in self.steps.iter().enumerate() {
            out.push_str(&format!("  {}. {s}\n", i + 1));
        }
        out
    }

    /// The candidate, every node considered, and who stays where it is.
    fn describe_choice(&self, out: &mut String) {
        out.push_str(&format!("candidate: {} ({})\n", self.candidate, self.why));
        for c in &self.considered {
            let verdict = &c.verdict;
            let received = c
                .received
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!("  {} (received {received}): {verdict}\n", c.name));
        }
        for (node, why) in &self.not_repointed {
            out.push_str(&format!("  {node} will not be repointed: {why}\n"));
        }
    }
}

//! Which replica becomes the new master, and why — and why not every other
//! one. Pure: a function of the view, the policy and what earlier ticks saw.
//!
//! Never lose an acknowledged write by choice: the new master must end up
//! with everything any reachable replica received. It is either a replica
//! that received the most, or one that can first be caught up from such a
//! replica (GTID positioning only). When neither exists, refuse and say why.

mod exclusion;

use std::cmp::Ordering;
use std::fmt;

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::analysis::History;
use crate::config::FailoverPolicy;
use crate::mysql::binlog::BinlogCoord;
use crate::mysql::flavor::Flavor;
use crate::mysql::gtid::GtidSet;
use crate::mysql::replica_status::{PositionMode, ReplicaStatus};
use crate::mysql::NodeState;
use crate::topology::ClusterView;

pub use exclusion::{joined, Exclusion};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "VerdictFields")]
pub enum Verdict {
    Candidate,
    /// Could have been promoted; `behind` when it received less than the most.
    Eligible {
        behind: bool,
    },
    Excluded {
        reasons: Vec<Exclusion>,
    },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Candidate => f.write_str("candidate"),
            Verdict::Eligible { behind: true } => f.write_str("eligible, received less"),
            Verdict::Eligible { behind: false } => f.write_str("eligible, received as much"),
            Verdict::Excluded { reasons } => write!(f, "excluded: {}", joined(reasons)),
        }
    }
}

/// A verdict as written: the typed reasons where the writer had them, the
/// words where it had only those (journals and reports of earlier versions).
#[derive(Deserialize)]
struct VerdictFields {
    verdict: String,
    #[serde(default)]
    behind: bool,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    reasons: Option<Vec<Exclusion>>,
}

impl TryFrom<VerdictFields> for Verdict {
    type Error = String;

    fn try_from(v: VerdictFields) -> Result<Self, String> {
        Ok(match v.verdict.as_str() {
            "candidate" => Verdict::Candidate,
            "eligible" => Verdict::Eligible { behind: v.behind },
            "excluded" => Verdict::Excluded {
                reasons: match (v.reasons, v.reason) {
                    (Some(r), _) => r,
                    (None, Some(words)) => vec![Exclusion::Recorded { words }],
                    (None, None) => Vec::new(),
                },
            },
            other => return Err(format!("unknown verdict `{other}`")),
        })
    }
}

/// `{"verdict": "excluded", "reason": "<in words>", "reasons": [<typed>]}`:
/// the words as reports have always carried them, and the typed reasons.
impl Serialize for Verdict {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self {
            Verdict::Candidate => m.serialize_entry("verdict", "candidate")?,
            Verdict::Eligible { behind } => {
                m.serialize_entry("verdict", "eligible")?;
                m.serialize_entry("behind", behind)?;
            }
            Verdict::Excluded { reasons } => {
                m.serialize_entry("verdict", "excluded")?;
                m.serialize_entry("reason", &joined(reasons))?;
                m.serialize_entry("reasons", reasons)?;
            }
        }
        m.end()
    }
}

/// One replica as the choice saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Considered {
    pub name: String,
    pub received: Option<BinlogCoord>,
    pub executed: Option<BinlogCoord>,
    #[serde(flatten)]
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub candidate: String,
    pub why: String,
    /// Replicate the candidate from this node first: it received more.
    pub catch_up_from: Option<String>,
    /// That node's own errant transactions (a MySQL GTID set), to be marked
    /// done on the candidate first rather than copied.
    pub skip_errant: Option<String>,
    /// The nodes that received the most.
    pub most_advanced: Vec<String>,
    pub considered: Vec<Considered>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub why: String,
    pub considered: Vec<Considered>,
}

/// Facts about one reachable replica of the dead master.
struct Facts<'a> {
    name: &'a str,
    state: &'a NodeState,
    replica: &'a ReplicaStatus,
    /// Everything it received or executed, as GTIDs.
    gtids: Option<GtidSet>,
}

impl Facts<'_> {
    fn gtid_positioning(&self) -> bool {
        self.replica.position_mode != PositionMode::FilePos
    }
}

/// Chooses among `replicas` (the dead master's replicas, in config order).
pub fn choose(
    view: &ClusterView,
    master: &str,
    replicas: &[String],
    policy: &FailoverPolicy,
    history: &History,
) -> Result<Choice, Refusal> {
    let mut considered: Vec<Considered> = Vec::new();
    let mut facts: Vec<Facts> = Vec::new();
    for name in replicas {
        let Some(node) = view.node(name) else {
            continue;
        };
        match node.state().and_then(|s| Some((s, s.replica.as_ref()?))) {
            Some((state, replica)) => facts.push(Facts {
                name,
                state,
                replica,
                gtids: received_gtids(state, replica),
            }),
            None => considered.push(Considered {
                name: name.clone(),
                received: None,
                executed: None,
                verdict: Verdict::Excluded {
                    reasons: vec![match node.error() {
                        Some(e) => Exclusion::Unreachable { error: e.clone() },
                        None => Exclusion::NoLongerReplicates,
                    }],
                },
            }),
        }
    }

    let most = match most_received(&facts) {
        Ok(m) => m,
        Err(why) => return Err(Refusal { why, considered }),
    };
    let at_max = |f: &Facts| {
        most.as_ref()
            .is_some_and(|m| f.replica.received.as_ref() == Some(m))
    };
    let exclusions: Vec<Vec<Exclusion>> = facts
        .iter()
        .map(|f| exclusion(f, &facts, master, policy, history))
        .collect();
    let eligible = |i: usize| exclusions[i].is_empty();
    let most_advanced: Vec<String> = facts
        .iter()
        .filter(|f| at_max(f))
        .map(|f| f.name.to_string())
        .collect();

    // A replica that received the most and can serve its binlog to the
    // candidate; eligible ones first.
    let catch_up_source = (0..facts.len())
        .filter(|&i| at_max(&facts[i]) && can_serve(&facts[i], &facts, history))
        .min_by_key(|&i| !eligible(i));
    let gtid_everywhere = facts.iter().all(Facts::gtid_positioning);
    let order = |a: &usize, b: &usize| by_least_to_apply(&facts[*a], &facts[*b]);

    let preferred = policy
        .prefer
        .iter()
        .find_map(|p| (0..facts.len()).find(|&i| facts[i].name == p && eligible(i)));
    let mut note = String::new();
    let pick: Option<(usize, Option<usize>, String)> = match preferred {
        Some(p) if at_max(&facts[p]) => Some((p, None, "preferred, and received the most".into())),
        Some(p) if gtid_everywhere && catch_up_source.is_some() => {
            let src = catch_up_source.unwrap();
            Some((
                p,
                Some(src),
                format!("preferred; first caught up from {}, which received more", facts[src].name),
            ))
        }
        Some(p) => {
            note = format!(
                "; preferred {} is behind and cannot be caught up ({})",
                facts[p].name,
                if gtid_everywhere {
                    "no replica that received the most can serve it"
                } else {
                    "file/position replication; GTID positioning would allow it: MariaDB `CHANGE MASTER TO master_use_gtid=slave_pos`, MySQL gtid_mode=ON with SOURCE_AUTO_POSITION=1"
                }
            );
            None
        }
        None => None,
    }
    .or_else(|| {
        let best_at_max = (0..facts.len()).filter(|&i| eligible(i) && at_max(&facts[i])).min_by(order);
        if let Some(i) = best_at_max {
            return Some((i, None, format!("received the most{note}")));
        }
        let src = catch_up_source.filter(|_| gtid_everywhere)?;
        let best = (0..facts.len())
            .filter(|&i| eligible(i))
            .max_by(|a, b| compare_received(&facts[*a], &facts[*b]).then_with(|| order(b, a)))?;
        Some((
            best,
            Some(src),
            format!(
                "the most advanced eligible replica; first caught up from {}, which received more{note}",
                facts[src].name
            ),
        ))
    });

    for (i, f) in facts.iter().enumerate() {
        let verdict = match &pick {
            Some((c, _, _)) if *c == i => Verdict::Candidate,
            _ if !exclusions[i].is_empty() => Verdict::Excluded {
                reasons: exclusions[i].clone(),
            },
            _ => Verdict::Eligible { behind: !at_max(f) },
        };
        considered.push(Considered {
            name: f.name.to_string(),
            received: f.replica.received.clone(),
            executed: f.replica.executed.clone(),
            verdict,
        });
    }
    considered.sort_by_key(|c| replicas.iter().position(|r| *r == c.name));

    match pick {
        Some((c, src, why)) => Ok(Choice {
            candidate: facts[c].name.to_string(),
            why,
            catch_up_from: src.map(|s| facts[s].name.to_string()),
            skip_errant: src.and_then(|s| errant(&facts[s], &facts, history)),
            most_advanced,
            considered,
        }),
        None => Err(Refusal {
            why: refusal_reason(&facts, &exclusions, &most_advanced, gtid_everywhere, &note),
            considered,
        }),
    }
}

/// What makes catching up possible where replicas use file/position.
const FILE_POS_FIX: &str = " (file/position replication cannot catch one replica up from another; GTID positioning can: on MariaDB `CHANGE MASTER TO master_use_gtid=slave_pos` on every replica, on MySQL gtid_mode=ON with SOURCE_AUTO_POSITION=1)";

fn refusal_reason(
    facts: &[Facts],
    exclusions: &[Vec<Exclusion>],
    most_advanced: &[String],
    gtid_everywhere: bool,
    note: &str,
) -> String {
    if facts.is_empty() {
        return "no replica of the master is reachable".into();
    }
    if exclusions.iter().all(|e| !e.is_empty()) {
        return format!("every reachable replica is excluded{note}");
    }
    format!(
        "{} received the most but cannot be promoted nor serve as catch-up source{}; promoting a replica that is behind would lose transactions{note}",
        most_advanced.join(", "),
        if gtid_everywhere { "" } else { FILE_POS_FIX }
    )
}

/// The furthest received position; all replicas of one master share its binlog series.
fn most_received(facts: &[Facts]) -> Result<Option<BinlogCoord>, String> {
    let mut most: Option<&BinlogCoord> = None;
    for f in facts {
        let Some(r) = f.replica.received.as_ref() else {
            continue;
        };
        most = match most {
            None => Some(r),
            Some(m) => match r.compare(m) {
                Some(Ordering::Greater) => Some(r),
                Some(_) => Some(m),
                None => {
                    return Err(format!(
                    "cannot compare received positions {r} ({}) and {m}: different binlog series",
                    f.name
                ))
                }
            },
        };
    }
    Ok(most.cloned())
}

fn compare_received(a: &Facts, b: &Facts) -> Ordering {
    match (&a.replica.received, &b.replica.received) {
        (Some(x), Some(y)) => x.compare(y).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

/// Among equals, the one with the least left to apply comes first.
fn by_least_to_apply(a: &Facts, b: &Facts) -> Ordering {
    let applied = |f: &Facts| f.replica.executed == f.replica.received;
    applied(b)
        .cmp(&applied(a))
        .then_with(|| match (&a.replica.executed, &b.replica.executed) {
            (Some(x), Some(y)) => y.compare(x).unwrap_or(Ordering::Equal),
            _ => Ordering::Equal,
        })
}

fn received_gtids(state: &NodeState, r: &ReplicaStatus) -> Option<GtidSet> {
    match (&r.retrieved_gtids, &state.gtid.executed) {
        (Some(a), Some(b)) => Some(a.union(b)),
        (Some(a), None) => Some(a.clone()),
        (None, b) => b.clone(),
    }
}

/// Why `f` must not be promoted: empty when it may be.
fn exclusion(
    f: &Facts,
    all: &[Facts],
    master: &str,
    policy: &FailoverPolicy,
    history: &History,
) -> Vec<Exclusion> {
    let mut reasons = Vec::new();
    if policy.never_promote.iter().any(|n| n == f.name) {
        reasons.push(Exclusion::NeverPromote);
    }
    if !f.replica.sql_running {
        reasons.push(Exclusion::SqlThreadStopped {
            errno: f.replica.last_sql_errno,
        });
    }
    if !f.state.log_bin {
        reasons.push(Exclusion::NoBinlog);
    }
    if f.replica.received.is_none() {
        reasons.push(Exclusion::ReceivedNothing {
            master: master.into(),
        });
    }
    if let Some(lag) = history
        .last_lag
        .get(f.name)
        .filter(|l| **l > policy.max_lag.as_secs())
    {
        reasons.push(Exclusion::Lagging {
            seconds: *lag,
            max_lag: policy.max_lag.as_secs(),
        });
    }
    if let Some(gtids) = errant(f, all, history) {
        reasons.push(Exclusion::Errant { gtids });
    }
    if let Some(newer) = all.iter().find(|o| {
        let v = |f: &Facts| {
            (
                f.state.version.major,
                f.state.version.minor,
                f.state.version.patch,
            )
        };
        v(o) > v(f)
    }) {
        reasons.push(Exclusion::OlderVersion {
            version: f.state.version.label(),
            newer: newer.state.version.label(),
            on: newer.name.to_string(),
        });
    }
    reasons
}

/// Transactions `f` executed that neither the master (as last seen) nor any
/// other replica has.
fn errant(f: &Facts, all: &[Facts], history: &History) -> Option<String> {
    let mine = f.state.gtid.executed.as_ref()?;
    let master = history.last_master_state.as_ref();
    let mut others: Option<GtidSet> = master.and_then(|m| m.gtid.executed.clone());
    for o in all.iter().filter(|o| o.name != f.name) {
        if let Some(g) = &o.gtids {
            others = Some(match others {
                Some(acc) => acc.union(g),
                None => g.clone(),
            });
        }
    }
    let (uuid, server_id) = match master {
        Some(m) => (m.server_uuid.as_deref(), m.server_id),
        None => (
            f.replica.source_uuid.as_deref(),
            f.replica.source_server_id.unwrap_or(0),
        ),
    };
    mine.errant(&others?, uuid, server_id)
}

/// Can `f` feed the candidate its missing transactions (from its own binlog)?
/// A MySQL replica with errant transactions can: they are marked done
/// (empty) on the candidate first, so that catching up copies only what
/// came from the master — the errant replica is never promoted, and its
/// transactions spread nowhere, but what it received is not lost. MariaDB
/// has no such marking of another server's transaction.
fn can_serve(f: &Facts, all: &[Facts], history: &History) -> bool {
    f.replica.sql_running
        && f.state.log_bin
        && f.state.log_replica_updates
        && f.gtid_positioning()
        && (f.state.version.flavor == Flavor::Mysql || errant(f, all, history).is_none())
}

#[cfg(test)]
mod tests;

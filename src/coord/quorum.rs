//! Pure: whether the managers confirm a master's death. Each manager
//! publishes what it sees of each cluster's master (a `View`, bound to its
//! lease: a dead manager's view vanishes with it); the leader declares the
//! master dead only when a majority of the live managers — itself included
//! — cannot reach it either. A manager cut off from the master alone is
//! outvoted; a leader cut off alone is too.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One manager's view of one cluster's master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub manager: String,
    /// When it was seen (Unix milliseconds).
    pub at_ms: u64,
    /// The master as this manager knows it.
    pub master: Option<String>,
    /// Whether this manager reached it at its last look.
    pub reachable: bool,
    /// The analysis, in words.
    pub says: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quorum {
    /// Managers with a fresh view.
    pub live: usize,
    /// Of them, those that cannot reach `master`.
    pub dead: Vec<String>,
    /// Those that still reach it, or know another master.
    pub alive: Vec<String>,
}

impl Quorum {
    pub fn confirmed(&self) -> bool {
        self.dead.len() * 2 > self.live
    }

    pub fn describe(&self) -> String {
        format!(
            "{} of {} managers cannot reach it ({}){}",
            self.dead.len(),
            self.live,
            self.dead.join(", "),
            if self.alive.is_empty() {
                String::new()
            } else {
                format!("; {} still do", self.alive.join(", "))
            }
        )
    }
}

/// The managers' verdict on `master`, from `views` no older than `fresh`
/// at `now_ms` (older views are a manager that stopped looking).
pub fn count(views: &[View], master: &str, now_ms: u64, fresh: Duration) -> Quorum {
    let mut q = Quorum {
        live: 0,
        dead: Vec::new(),
        alive: Vec::new(),
    };
    for v in views {
        if now_ms.saturating_sub(v.at_ms) > fresh.as_millis() as u64 {
            continue;
        }
        q.live += 1;
        if v.master.as_deref() == Some(master) && !v.reachable {
            q.dead.push(v.manager.clone());
        } else {
            q.alive.push(v.manager.clone());
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRESH: Duration = Duration::from_secs(3);
    const NOW: u64 = 1_000_000;

    fn v(manager: &str, age_ms: u64, master: &str, reachable: bool) -> View {
        View {
            manager: manager.into(),
            at_ms: NOW - age_ms,
            master: Some(master.into()),
            reachable,
            says: String::new(),
        }
    }

    #[test]
    fn a_majority_of_live_managers_confirms() {
        let all_dead = [
            v("a", 0, "db1", false),
            v("b", 100, "db1", false),
            v("c", 200, "db1", false),
        ];
        assert!(count(&all_dead, "db1", NOW, FRESH).confirmed());
        let two = [
            v("a", 0, "db1", false),
            v("b", 0, "db1", false),
            v("c", 0, "db1", true),
        ];
        let q = count(&two, "db1", NOW, FRESH);
        assert!(q.confirmed());
        assert_eq!(
            q.describe(),
            "2 of 3 managers cannot reach it (a, b); c still do"
        );
    }

    #[test]
    fn one_manager_cut_off_alone_is_outvoted() {
        let one = [
            v("a", 0, "db1", false),
            v("b", 0, "db1", true),
            v("c", 0, "db1", true),
        ];
        assert!(!count(&one, "db1", NOW, FRESH).confirmed());
        // Half is not a majority.
        let half = [v("a", 0, "db1", false), v("b", 0, "db1", true)];
        assert!(!count(&half, "db1", NOW, FRESH).confirmed());
    }

    #[test]
    fn stale_views_and_other_masters_do_not_count_as_dead() {
        // c stopped looking: two live managers, both see db1 dead.
        let stale = [
            v("a", 0, "db1", false),
            v("b", 0, "db1", false),
            v("c", 9_000, "db1", true),
        ];
        let q = count(&stale, "db1", NOW, FRESH);
        assert_eq!((q.live, q.confirmed()), (2, true));
        // b knows db2 as the master: not a vote that db1 is dead.
        let other = [v("a", 0, "db1", false), v("b", 0, "db2", false)];
        assert!(!count(&other, "db1", NOW, FRESH).confirmed());
        assert!(!count(&[], "db1", NOW, FRESH).confirmed());
    }
}

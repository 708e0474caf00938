//! Pure: from what every instance and the RDS API answered, and what was
//! seen before, whether to move what clients use. A writer is acted on
//! only when exactly one instance answers that it is the writer, on
//! `CONFIRM` looks in a row; two that both claim it, or SQL and the API
//! naming different writers for longer than a bound, are reported and
//! never acted on. With no SQL answer at all, the API's writer is followed
//! (confirmed the same way).

use std::time::{Duration, Instant};

use serde::Serialize;

/// Looks in a row that must name the same new writer before it is acted on:
/// one flapping answer changes nothing.
pub const CONFIRM: u32 = 2;

/// One tick's answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Each instance's answer to "am I the writer?"; `Err` when it could
    /// not be asked.
    pub sql: Vec<(String, Result<bool, String>)>,
    /// The writer `DescribeDBClusters` names (`Ok(None)`: none); `Err`
    /// when the API could not be asked.
    pub api: Result<Option<String>, String>,
}

/// On what a move was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// The instance answered SQL as the writer, and the API agrees.
    SqlAndApi,
    /// SQL alone: the RDS API could not be asked.
    SqlApiUnreachable,
    /// SQL alone, the API still naming another writer (within the bound:
    /// the API lags behind a promotion).
    SqlApiLagging,
    /// The API alone: no instance answered SQL.
    ApiSqlUnreachable,
}

impl Basis {
    pub fn describe(self) -> &'static str {
        match self {
            Basis::SqlAndApi => "it answers as the writer and the RDS API agrees",
            Basis::SqlApiUnreachable => "it answers as the writer; the RDS API could not be asked",
            Basis::SqlApiLagging => "it answers as the writer; the RDS API still names the old one",
            Basis::ApiSqlUnreachable => "the RDS API names it; no instance answered SQL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// What clients use already goes to the writer.
    Steady { writer: String },
    /// Point what clients use at `to`.
    Move {
        from: Option<String>,
        to: String,
        basis: Basis,
    },
    /// Nothing to act on yet (a promotion under way, a writer being confirmed).
    Wait { why: String },
    /// Something that must not be acted on blindly: reported.
    Conflict { why: String },
}

/// What the follower remembers between ticks.
#[derive(Debug, Clone, Default)]
pub struct Follower {
    /// Where what clients use goes (as last set or read).
    pub target: Option<String>,
    /// A new writer seen, and on how many looks in a row.
    candidate: Option<(String, u32)>,
    /// Since when SQL and the API have named different writers.
    disagree_since: Option<Instant>,
}

impl Follower {
    pub fn new(target: Option<String>) -> Self {
        Self {
            target,
            ..Default::default()
        }
    }

    pub fn decide(&mut self, ev: &Evidence, now: Instant, bound: Duration) -> Decision {
        let writers: Vec<&str> = ev
            .sql
            .iter()
            .filter(|(_, a)| matches!(a, Ok(true)))
            .map(|(n, _)| n.as_str())
            .collect();
        let answered = ev.sql.iter().filter(|(_, a)| a.is_ok()).count();
        match writers[..] {
            [] if answered == 0 => {
                self.disagree_since = None;
                match &ev.api {
                    Ok(Some(w)) => self.follow(w, Basis::ApiSqlUnreachable),
                    Ok(None) => {
                        self.wait("no instance answers SQL and the RDS API names no writer")
                    }
                    Err(e) => self.wait(&format!("neither SQL nor the RDS API answers ({e})")),
                }
            }
            [] => {
                self.disagree_since = None;
                self.wait("no instance is the writer now: a promotion may be under way")
            }
            [w] => {
                let basis = match &ev.api {
                    Err(_) => Basis::SqlApiUnreachable,
                    Ok(Some(api)) if api != w => Basis::SqlApiLagging,
                    Ok(_) => Basis::SqlAndApi,
                };
                if basis == Basis::SqlApiLagging {
                    let since = *self.disagree_since.get_or_insert(now);
                    if now.duration_since(since) > bound {
                        self.candidate = None;
                        return Decision::Conflict {
                            why: format!(
                                "{w} answers as the writer but the RDS API has named {} for longer than {}",
                                ev.api.as_ref().ok().and_then(|o| o.as_deref()).unwrap_or("another"),
                                humantime::format_duration(bound)
                            ),
                        };
                    }
                } else {
                    self.disagree_since = None;
                }
                self.follow(w, basis)
            }
            _ => {
                self.candidate = None;
                Decision::Conflict {
                    why: format!(
                        "{} all answer as the writer: moving nothing",
                        writers.join(" and ")
                    ),
                }
            }
        }
    }

    /// `w` is the writer: steady if clients go there, else confirmed, then moved.
    fn follow(&mut self, w: &str, basis: Basis) -> Decision {
        if self.target.as_deref() == Some(w) {
            self.candidate = None;
            return Decision::Steady {
                writer: w.to_string(),
            };
        }
        let looks = match &self.candidate {
            Some((c, n)) if c == w => n + 1,
            _ => 1,
        };
        self.candidate = Some((w.to_string(), looks));
        if looks < CONFIRM {
            return Decision::Wait {
                why: format!("{w} is the new writer ({}): confirming", basis.describe()),
            };
        }
        Decision::Move {
            from: self.target.clone(),
            to: w.to_string(),
            basis,
        }
    }

    fn wait(&mut self, why: &str) -> Decision {
        self.candidate = None;
        Decision::Wait {
            why: why.to_string(),
        }
    }

    /// The move to `to` is done: clients go there now.
    pub fn moved(&mut self, to: &str) {
        self.target = Some(to.to_string());
        self.candidate = None;
    }
}

/// The decision in words, for the log and the journal.
pub fn describe(decision: &Decision, evidence: &Evidence) -> String {
    match decision {
        Decision::Steady { writer } => {
            format!("healthy: {writer} is Aurora's writer and clients go there")
        }
        Decision::Move { to, basis, .. } => {
            format!("{to} is Aurora's new writer: {}", basis.describe())
        }
        Decision::Wait { why } => why.clone(),
        Decision::Conflict { why } => format!(
            "{why} (SQL: {}; RDS API: {})",
            evidence
                .sql
                .iter()
                .map(|(n, a)| format!(
                    "{n} {}",
                    match a {
                        Ok(true) => "writer".to_string(),
                        Ok(false) => "reader".to_string(),
                        Err(e) => format!("unreachable ({e})"),
                    }
                ))
                .collect::<Vec<_>>()
                .join(", "),
            match &evidence.api {
                Ok(Some(w)) => w.clone(),
                Ok(None) => "no writer".into(),
                Err(e) => format!("unreachable ({e})"),
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_secs(5);

    fn ev(sql: &[(&str, Option<bool>)], api: Result<Option<&str>, &str>) -> Evidence {
        Evidence {
            sql: sql
                .iter()
                .map(|(n, a)| (n.to_string(), a.ok_or_else(|| "unreachable".to_string())))
                .collect(),
            api: api.map(|w| w.map(str::to_string)).map_err(str::to_string),
        }
    }

    fn promoted() -> Evidence {
        ev(&[("a", Some(false)), ("b", Some(true))], Ok(Some("b")))
    }

    #[test]
    fn a_promotion_is_followed_once_confirmed() {
        let mut f = Follower::new(Some("a".into()));
        let t = Instant::now();
        let before = ev(&[("a", Some(true)), ("b", Some(false))], Ok(Some("a")));
        assert_eq!(
            f.decide(&before, t, BOUND),
            Decision::Steady { writer: "a".into() }
        );
        // Aurora's order: the old writer goes, then the new one is writable.
        let between = ev(&[("a", None), ("b", Some(false))], Ok(Some("b")));
        assert!(matches!(
            f.decide(&between, t, BOUND),
            Decision::Wait { .. }
        ));
        assert!(matches!(
            f.decide(&promoted(), t, BOUND),
            Decision::Wait { .. }
        ));
        assert_eq!(
            f.decide(&promoted(), t, BOUND),
            Decision::Move {
                from: Some("a".into()),
                to: "b".into(),
                basis: Basis::SqlAndApi
            }
        );
        f.moved("b");
        assert_eq!(
            f.decide(&promoted(), t, BOUND),
            Decision::Steady { writer: "b".into() }
        );
    }

    #[test]
    fn one_flapping_answer_changes_nothing() {
        let mut f = Follower::new(Some("a".into()));
        let t = Instant::now();
        let steady = ev(&[("a", Some(true)), ("b", Some(false))], Ok(Some("a")));
        let flap = ev(&[("a", Some(false)), ("b", Some(true))], Ok(Some("a")));
        for e in [&steady, &flap, &steady, &flap, &steady] {
            let d = f.decide(e, t, BOUND);
            assert!(!matches!(d, Decision::Move { .. }), "{d:?}");
        }
        // Both claiming it at once: reported, nothing moved.
        let both = ev(&[("a", Some(true)), ("b", Some(true))], Ok(Some("a")));
        assert!(matches!(
            f.decide(&both, t, BOUND),
            Decision::Conflict { .. }
        ));
        assert!(matches!(
            f.decide(&both, t, BOUND),
            Decision::Conflict { .. }
        ));
    }

    #[test]
    fn either_source_alone_is_followed_and_says_so() {
        let t = Instant::now();
        let mut f = Follower::new(Some("a".into()));
        let no_api = ev(&[("a", Some(false)), ("b", Some(true))], Err("503"));
        f.decide(&no_api, t, BOUND);
        assert!(matches!(
            f.decide(&no_api, t, BOUND),
            Decision::Move {
                basis: Basis::SqlApiUnreachable,
                ..
            }
        ));
        let mut f = Follower::new(Some("a".into()));
        let no_sql = ev(&[("a", None), ("b", None)], Ok(Some("b")));
        f.decide(&no_sql, t, BOUND);
        assert!(matches!(
            f.decide(&no_sql, t, BOUND),
            Decision::Move {
                basis: Basis::ApiSqlUnreachable,
                ..
            }
        ));
        let mut f = Follower::new(Some("a".into()));
        let nothing = ev(&[("a", None), ("b", None)], Err("503"));
        assert!(matches!(
            f.decide(&nothing, t, BOUND),
            Decision::Wait { .. }
        ));
    }

    #[test]
    fn sql_and_the_api_disagreeing_past_the_bound_is_a_conflict() {
        let mut f = Follower::new(Some("a".into()));
        let t = Instant::now();
        let lagging = ev(&[("a", Some(false)), ("b", Some(true))], Ok(Some("a")));
        f.decide(&lagging, t, BOUND);
        // Within the bound the API is taken to lag: the writer is followed.
        assert!(matches!(
            f.decide(&lagging, t + Duration::from_secs(1), BOUND),
            Decision::Move {
                basis: Basis::SqlApiLagging,
                ..
            }
        ));
        f.moved("b");
        let other = ev(&[("a", Some(false)), ("b", Some(true))], Ok(Some("c")));
        f.decide(&other, t + Duration::from_secs(2), BOUND);
        assert!(matches!(
            f.decide(&other, t + Duration::from_secs(8), BOUND),
            Decision::Conflict { .. }
        ));
    }
}

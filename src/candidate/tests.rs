//! Candidate choice, case by case. Replicas of db1 (dead), positions in
//! mysql-bin.000001.

use std::time::Duration;

use super::*;
use crate::mysql::gtid::MysqlGtidSet;
use crate::testkit::*;

fn policy() -> FailoverPolicy {
    FailoverPolicy {
        max_lag: Duration::from_secs(30),
        ..FailoverPolicy::default()
    }
}

fn replicas(n: &[u32]) -> Vec<String> {
    n.iter().map(|i| format!("db{i}")).collect()
}

fn dead_master_view(states: Vec<(u32, NodeState)>) -> ClusterView {
    let mut nodes = vec![node(1, Err(refused()))];
    nodes.extend(states.into_iter().map(|(n, s)| node(n, Ok(lost_source(s)))));
    view(nodes)
}

fn verdict(c: &[Considered], name: &str) -> Verdict {
    c.iter().find(|x| x.name == name).unwrap().verdict.clone()
}

/// Why an excluded replica was excluded, in words.
fn reason(v: &Verdict) -> String {
    match v {
        Verdict::Excluded { reasons } => joined(reasons),
        other => panic!("not excluded: {other:?}"),
    }
}

fn choose_in(v: &ClusterView, names: &[u32], policy: &FailoverPolicy) -> Result<Choice, Refusal> {
    choose(v, "db1", &replicas(names), policy, &History::default())
}

#[test]
fn the_replica_that_received_the_most_wins() {
    let v = dead_master_view(vec![
        (2, at(state(2, false, Some(1)), 800, 800)),
        (3, at(state(3, false, Some(1)), 900, 700)),
        (4, at(state(4, false, Some(1)), 600, 600)),
    ]);
    let c = choose_in(&v, &[2, 3, 4], &policy()).unwrap();
    assert_eq!(c.candidate, "db3");
    assert_eq!(c.catch_up_from, None);
    assert_eq!(c.most_advanced, ["db3"]);
    assert_eq!(
        verdict(&c.considered, "db2"),
        Verdict::Eligible { behind: true }
    );
}

#[test]
fn among_equals_the_one_with_least_to_apply_then_config_order() {
    let v = dead_master_view(vec![
        (2, at(state(2, false, Some(1)), 900, 500)),
        (3, at(state(3, false, Some(1)), 900, 900)),
        (4, at(state(4, false, Some(1)), 900, 900)),
    ]);
    assert_eq!(
        choose_in(&v, &[2, 3, 4], &policy()).unwrap().candidate,
        "db3"
    );
}

#[test]
fn a_preferred_replica_that_is_behind_is_caught_up_first() {
    let v = dead_master_view(vec![
        (2, at(state(2, false, Some(1)), 600, 600)),
        (3, at(state(3, false, Some(1)), 900, 900)),
    ]);
    let mut p = policy();
    p.prefer = vec!["db2".into()];
    let c = choose_in(&v, &[2, 3], &p).unwrap();
    assert_eq!(
        (c.candidate.as_str(), c.catch_up_from.as_deref()),
        ("db2", Some("db3"))
    );
    assert!(
        c.why.starts_with("preferred; first caught up from db3"),
        "{}",
        c.why
    );
}

#[test]
fn file_position_replicas_cannot_be_caught_up() {
    let file_pos = |s: NodeState| {
        let mut s = s;
        replica(&mut s).position_mode = PositionMode::FilePos;
        s
    };
    let v = dead_master_view(vec![
        (2, file_pos(at(state(2, false, Some(1)), 600, 600))),
        (3, file_pos(at(state(3, false, Some(1)), 900, 900))),
    ]);
    let mut p = policy();
    p.prefer = vec!["db2".into()];
    let c = choose_in(&v, &[2, 3], &p).unwrap();
    assert_eq!(c.candidate, "db3");
    assert!(
        c.why.contains(
            "preferred db2 is behind and cannot be caught up (file/position replication; GTID positioning would allow it: MariaDB `CHANGE MASTER TO master_use_gtid=slave_pos`"
        ),
        "{}",
        c.why
    );
}

#[test]
fn never_promote_node_that_received_most_serves_as_catch_up_source() {
    let v = dead_master_view(vec![
        (2, at(state(2, false, Some(1)), 600, 600)),
        (3, at(state(3, false, Some(1)), 900, 900)),
    ]);
    let mut p = policy();
    p.never_promote = vec!["db3".into()];
    let c = choose_in(&v, &[2, 3], &p).unwrap();
    assert_eq!(
        (c.candidate.as_str(), c.catch_up_from.as_deref()),
        ("db2", Some("db3"))
    );
    assert_eq!(
        reason(&verdict(&c.considered, "db3")),
        "configured never to be promoted"
    );
}

#[test]
fn broken_and_errant_replicas_are_excluded_with_reasons() {
    let mut broken = at(state(2, false, Some(1)), 900, 800);
    replica(&mut broken).sql_running = false;
    replica(&mut broken).last_sql_errno = 1062;
    let mut errant = at(state(3, false, Some(1)), 900, 900);
    errant.gtid.executed = Some(GtidSet::Mysql(
        MysqlGtidSet::parse(&format!("{}:1-10,{}:1-3", UUIDS[1], UUIDS[3])).unwrap(),
    ));
    let v = dead_master_view(vec![
        (2, broken),
        (3, errant),
        (4, at(state(4, false, Some(1)), 900, 900)),
    ]);
    let c = choose_in(&v, &[2, 3, 4], &policy()).unwrap();
    assert_eq!(c.candidate, "db4");
    assert_eq!(
        reason(&verdict(&c.considered, "db2")),
        "SQL thread stopped by error 1062"
    );
    assert_eq!(
        verdict(&c.considered, "db2"),
        Verdict::Excluded {
            reasons: vec![Exclusion::SqlThreadStopped { errno: 1062 }]
        }
    );
    assert_eq!(
        reason(&verdict(&c.considered, "db3")),
        format!("has errant transactions {}:1-3", UUIDS[3])
    );
}

#[test]
fn an_errant_mysql_replica_that_received_the_most_serves_the_catch_up_without_its_own_transactions()
{
    // db3 received the most, but has transactions of its own: it is not
    // promoted; db2 catches up from it, its errant set marked done first.
    let mut errant = at(state(3, false, Some(1)), 900, 900);
    errant.gtid.executed = Some(GtidSet::Mysql(
        MysqlGtidSet::parse(&format!("{}:1-10,{}:1-3", UUIDS[1], UUIDS[3])).unwrap(),
    ));
    let v = dead_master_view(vec![
        (2, at(state(2, false, Some(1)), 600, 600)),
        (3, errant),
    ]);
    let c = choose_in(&v, &[2, 3], &policy()).unwrap();
    assert_eq!(c.candidate, "db2");
    assert_eq!(c.catch_up_from.as_deref(), Some("db3"));
    assert_eq!(c.skip_errant, Some(format!("{}:1-3", UUIDS[3])));
    assert_eq!(
        reason(&verdict(&c.considered, "db3")),
        format!("has errant transactions {}:1-3", UUIDS[3])
    );
}

#[test]
fn lag_and_version_exclusions() {
    let mut old = at(state(3, false, Some(1)), 900, 900);
    old.version = crate::mysql::flavor::ServerVersion::parse("8.4.3", "").unwrap();
    let v = dead_master_view(vec![
        (2, at(state(2, false, Some(1)), 900, 900)),
        (3, old),
        (4, at(state(4, false, Some(1)), 900, 900)),
    ]);
    let mut history = History::default();
    history.last_lag.insert("db2".into(), 120);
    let c = choose(&v, "db1", &replicas(&[2, 3, 4]), &policy(), &history).unwrap();
    assert_eq!(c.candidate, "db4");
    assert_eq!(
        reason(&verdict(&c.considered, "db2")),
        "was 120 s behind (max_lag 30 s)"
    );
    assert_eq!(
        reason(&verdict(&c.considered, "db3")),
        "runs mysql 8.4.3, older than mysql 9.7.4 on db2"
    );
}

#[test]
fn refuses_rather_than_promote_a_replica_that_is_behind() {
    // db3 received the most but its SQL thread is broken: it can be neither
    // the candidate nor the catch-up source; db2 is behind.
    let mut broken = at(state(3, false, Some(1)), 900, 700);
    replica(&mut broken).sql_running = false;
    let v = dead_master_view(vec![
        (2, at(state(2, false, Some(1)), 600, 600)),
        (3, broken),
    ]);
    let r = choose_in(&v, &[2, 3], &policy()).unwrap_err();
    assert!(
        r.why.starts_with(
            "db3 received the most but cannot be promoted nor serve as catch-up source"
        ),
        "{}",
        r.why
    );
    assert_eq!(
        verdict(&r.considered, "db2"),
        Verdict::Eligible { behind: true }
    );
}

#[test]
fn unreachable_replicas_are_named() {
    let mut nodes = vec![node(1, Err(refused())), node(2, Err(refused()))];
    nodes.push(node(
        3,
        Ok(lost_source(at(state(3, false, Some(1)), 900, 900))),
    ));
    let v = view(nodes);
    let c = choose_in(&v, &[2, 3], &policy()).unwrap();
    assert_eq!(c.candidate, "db3");
    match verdict(&c.considered, "db2") {
        Verdict::Excluded { reasons } => {
            assert!(
                matches!(&reasons[..], [Exclusion::Unreachable { .. }]),
                "{reasons:?}"
            );
            let reason = joined(&reasons);
            assert!(
                reason.starts_with("unreachable: connection refused"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}

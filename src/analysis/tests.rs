//! Detection, case by case.

use super::*;
use crate::mysql::error::{DbError, Phase};
use crate::testkit::*;
use crate::topology::Topology;

fn run(history: &mut History, nodes: Vec<crate::topology::NodeView>) -> Analysis {
    let v = view(nodes);
    let t = Topology::derive(&v, 30);
    let a = analyze(&v, &t, history, 3);
    history.record(&v, &t);
    a
}

/// The analysis of `nodes` against `h`, which it leaves as it was.
fn analyze_now(h: &History, nodes: Vec<crate::topology::NodeView>) -> Analysis {
    let v = view(nodes);
    let t = Topology::derive(&v, 30);
    analyze(&v, &t, h, 3)
}

/// (stale, still receiving) of an unconfirmed analysis.
fn unconfirmed(a: Analysis) -> (Vec<String>, Vec<String>) {
    match a {
        Analysis::MasterUnreachable {
            stale,
            still_receiving,
            ..
        } => (stale, still_receiving),
        other => panic!("{other:?}"),
    }
}

fn healthy(h: &mut History) {
    let a = run(
        h,
        vec![
            node(1, Ok(state(1, true, None))),
            node(2, Ok(at(state(2, false, Some(1)), 500, 500))),
            node(3, Ok(at(state(3, false, Some(1)), 500, 500))),
        ],
    );
    assert_eq!(
        a,
        Analysis::Healthy {
            master: "db1".into()
        }
    );
}

#[test]
fn crash_refused_and_replicas_reconnecting_is_confirmed_in_one_round() {
    let mut h = History::default();
    healthy(&mut h);
    let a = run(
        &mut h,
        vec![
            node(1, Err(refused())),
            node(2, Ok(lost_source(at(state(2, false, Some(1)), 500, 500)))),
            node(3, Ok(lost_source(at(state(3, false, Some(1)), 500, 500)))),
        ],
    );
    match a {
        Analysis::DeadMaster {
            master,
            evidence,
            replicas,
        } => {
            assert_eq!(master, "db1");
            assert_eq!(replicas, ["db2", "db3"]);
            assert!(
                evidence.starts_with("connection refused by 127.0.0.1:3301"),
                "{evidence}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn timeouts_need_the_full_count_of_misses() {
    let mut h = History::default();
    healthy(&mut h);
    let lost = || {
        vec![
            node(1, Err(timed_out())),
            node(2, Ok(lost_source(at(state(2, false, Some(1)), 500, 500)))),
            node(3, Ok(lost_source(at(state(3, false, Some(1)), 500, 500)))),
        ]
    };
    for expected in ["1 of 3", "2 of 3"] {
        match run(&mut h, lost()) {
            Analysis::MasterUnreachable { why, .. } => assert!(why.starts_with(expected), "{why}"),
            other => panic!("{other:?}"),
        }
    }
    match run(&mut h, lost()) {
        Analysis::DeadMaster { evidence, .. } => assert!(
            evidence.starts_with("3 consecutive failed probes"),
            "{evidence}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_replica_still_receiving_means_the_manager_is_cut_off() {
    let mut h = History::default();
    healthy(&mut h);
    let a = run(
        &mut h,
        vec![
            node(1, Err(refused())),
            node(2, Ok(at(state(2, false, Some(1)), 900, 900))), // moved 500 -> 900
            node(3, Ok(lost_source(at(state(3, false, Some(1)), 500, 500)))),
        ],
    );
    match a {
        Analysis::MasterUnreachable {
            still_receiving,
            why,
            ..
        } => {
            assert_eq!(still_receiving, ["db2"]);
            assert!(why.contains("the manager may be the one cut off"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_connected_but_silent_replica_is_stale_not_proof() {
    let mut h = History::default();
    healthy(&mut h);
    let a = run(
        &mut h,
        vec![
            node(1, Err(refused())),
            node(2, Ok(at(state(2, false, Some(1)), 500, 500))), // IO "Yes", nothing new
            node(3, Ok(lost_source(at(state(3, false, Some(1)), 500, 500)))),
        ],
    );
    let (stale, still_receiving) = unconfirmed(a);
    assert_eq!(stale, ["db2"]);
    assert!(still_receiving.is_empty());
}

#[test]
fn a_server_that_answers_is_alive() {
    let mut h = History::default();
    healthy(&mut h);
    for (kind, code) in [
        (ErrorKind::AccessDenied, 1045),
        (ErrorKind::TooManyConnections, 1040),
    ] {
        let err = DbError {
            kind,
            phase: Phase::Connect,
            code: Some(code),
            message: String::new(),
        };
        let a = run(
            &mut h,
            vec![
                node(1, Err(err)),
                node(2, Ok(lost_source(at(state(2, false, Some(1)), 500, 500)))),
            ],
        );
        assert!(matches!(a, Analysis::MasterAlive { .. }), "{a:?}");
    }
}

#[test]
fn no_reachable_replica_means_no_confirmation() {
    let mut h = History::default();
    healthy(&mut h);
    let a = run(
        &mut h,
        vec![
            node(1, Err(refused())),
            node(2, Err(timed_out())),
            node(3, Err(refused())),
        ],
    );
    match a {
        // The replicas are gone too: the master is remembered from history.
        Analysis::MasterUnreachable { master, why, .. } => {
            assert_eq!(master, "db1");
            assert!(why.contains("no replica of db1 is reachable"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn nothing_ever_seen() {
    let a = run(
        &mut History::default(),
        vec![node(1, Err(refused())), node(2, Err(refused()))],
    );
    assert!(matches!(a, Analysis::NoMaster { .. }), "{a:?}");
}

#[test]
fn silent_replicas_are_reported_from_the_first_timeout() {
    let mut h = History::default();
    healthy(&mut h);
    let a = run(
        &mut h,
        vec![
            node(1, Err(timed_out())),
            node(2, Ok(at(state(2, false, Some(1)), 500, 500))),
            node(3, Ok(at(state(3, false, Some(1)), 500, 500))),
        ],
    );
    match a {
        // Not confirmed (1 of 3), but the agent may start gathering evidence.
        Analysis::MasterUnreachable { stale, why, .. } => {
            assert_eq!(stale, ["db2", "db3"]);
            assert!(why.starts_with("1 of 3"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_timeout_is_enough_when_every_restarted_replica_fails_to_reconnect() {
    let mut h = History::default();
    healthy(&mut h);
    let silent = vec![
        node(1, Err(timed_out())),
        node(2, Ok(at(state(2, false, Some(1)), 500, 500))),
        node(3, Ok(at(state(3, false, Some(1)), 500, 500))),
    ];
    match analyze_now(&h, silent) {
        Analysis::MasterUnreachable { stale, .. } => assert_eq!(stale, ["db2", "db3"]),
        other => panic!("{other:?}"),
    }
    // Their IO threads restarted, read again in the same round.
    let after = |db3_back: bool| {
        let db3 = at(state(3, false, Some(1)), 500, 500);
        vec![
            node(1, Err(timed_out())),
            node(2, Ok(lost_source(at(state(2, false, Some(1)), 500, 500)))),
            node(3, Ok(if db3_back { db3 } else { lost_source(db3) })),
        ]
    };
    let mut restarted = h.clone();
    restarted.note_restarted("db1", &["db2".into(), "db3".into()]);
    match analyze_now(&restarted, after(false)) {
        Analysis::DeadMaster { evidence, .. } => assert!(
            evidence.starts_with("1 failed probe(s)")
                && evidence.contains("no replica could connect to it again"),
            "{evidence}"
        ),
        other => panic!("{other:?}"),
    }
    // One connected again: the master answers it; not confirmed.
    assert!(matches!(
        analyze_now(&restarted, after(true)),
        Analysis::MasterUnreachable { .. }
    ));
    // A replica that lost the master without a restart (stopped by hand,
    // say) is no fresh evidence: the full count of misses is needed.
    let mut one = h.clone();
    one.note_restarted("db1", &["db2".into()]);
    match analyze_now(&one, after(false)) {
        Analysis::MasterUnreachable { why, .. } => assert!(why.starts_with("1 of 3"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Restarts for another master count for nothing.
    let mut other = h.clone();
    other.note_restarted("db2", &["db2".into(), "db3".into()]);
    assert!(matches!(
        analyze_now(&other, after(false)),
        Analysis::MasterUnreachable { .. }
    ));
    other.forget_restarts();
    assert!(other.restarted_for("db2").is_empty());
}

/// `s` as a replica that last heard from its source `silent_ms` ago, with
/// a heartbeat period of `period_ms`.
fn heard(
    mut s: crate::mysql::NodeState,
    silent_ms: u64,
    period_ms: u64,
) -> crate::mysql::NodeState {
    replica(&mut s).heard = Some(crate::mysql::replica_status::Heard {
        silent_for: std::time::Duration::from_millis(silent_ms),
        heartbeat: std::time::Duration::from_millis(period_ms),
    });
    s
}

#[test]
fn replicas_silent_for_two_heartbeat_periods_confirm_one_timeout_without_a_restart() {
    let mut h = History::default();
    healthy(&mut h);
    let replicas = |db2_ms: u64, db3_ms: u64, period_ms: u64| {
        vec![
            node(1, Err(timed_out())),
            node(
                2,
                Ok(heard(
                    at(state(2, false, Some(1)), 500, 500),
                    db2_ms,
                    period_ms,
                )),
            ),
            node(
                3,
                Ok(heard(
                    at(state(3, false, Some(1)), 500, 500),
                    db3_ms,
                    period_ms,
                )),
            ),
        ]
    };
    // Both silent for more than two 500 ms periods: dead after one miss.
    match analyze_now(&h, replicas(1100, 1300, 500)) {
        Analysis::DeadMaster {
            evidence, replicas, ..
        } => {
            assert!(
                evidence.starts_with("1 failed probe(s)")
                    && evidence.contains("no replica has heard from it for two heartbeat periods"),
                "{evidence}"
            );
            assert_eq!(replicas, ["db2", "db3"]);
        }
        other => panic!("{other:?}"),
    }
    // db3 heard from it 300 ms ago: it still receives; nothing to restart.
    let (stale, still_receiving) = unconfirmed(analyze_now(&h, replicas(1100, 300, 500)));
    assert_eq!(still_receiving, ["db3"]);
    assert!(stale.is_empty());
    // Silent by the timestamps, but db3's received position moved (a big
    // transaction arriving): it still receives.
    let mut moving = replicas(1100, 1300, 500);
    moving[2] = node(
        3,
        Ok(heard(at(state(3, false, Some(1)), 900, 500), 1300, 500)),
    );
    let (_, still_receiving) = unconfirmed(analyze_now(&h, moving));
    assert_eq!(still_receiving, ["db3"]);
    // A 30 s period (MySQL's default) tells nothing soon: restart instead.
    match analyze_now(&h, replicas(1100, 1300, 30_000)) {
        Analysis::MasterUnreachable { stale, .. } => assert_eq!(stale, ["db2", "db3"]),
        other => panic!("{other:?}"),
    }
    // One silent, one restarted and not connected again: dead too.
    let mut restarted = h.clone();
    restarted.note_restarted("db1", &["db3".into()]);
    let mixed = vec![
        node(1, Err(timed_out())),
        node(
            2,
            Ok(heard(at(state(2, false, Some(1)), 500, 500), 1100, 500)),
        ),
        node(3, Ok(lost_source(at(state(3, false, Some(1)), 500, 500)))),
    ];
    assert!(matches!(
        analyze_now(&restarted, mixed),
        Analysis::DeadMaster { .. }
    ));
}

#[test]
fn heard_tells_when_the_silence_is_long_enough() {
    let h = crate::mysql::replica_status::Heard {
        silent_for: std::time::Duration::from_millis(700),
        heartbeat: std::time::Duration::from_millis(500),
    };
    assert!(!h.silent());
    assert_eq!(h.silent_in(), std::time::Duration::from_millis(300));
    let zero = crate::mysql::replica_status::Heard {
        heartbeat: std::time::Duration::ZERO,
        ..h
    };
    assert!(
        !zero.silent(),
        "no heartbeats asked for: silence means nothing"
    );
}

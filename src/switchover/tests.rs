use std::time::Duration;

use super::preflight::*;
use crate::plan::{rollback, rollback_steps, undo_must_stop, Kind, Positioning, Step};
use crate::testkit::*;
use crate::topology::{ClusterView, Topology};
use crate::vip::Placement;

fn healthy() -> ClusterView {
    view(vec![
        node(1, Ok(state(1, true, None))),
        node(2, Ok(state(2, false, Some(1)))),
        node(3, Ok(state(3, false, Some(1)))),
    ])
}

fn vip_at(node: &str) -> Vec<Result<Placement, String>> {
    vec![Ok(Placement {
        backend: "linux-route",
        target: "via 10.0.0.1".into(),
        node: Some(node.into()),
        no_node_is_wrong: false,
    })]
}

fn facts() -> Facts {
    Facts {
        open_transactions: Vec::new(),
        vip: vip_at("db1"),
        lock: Ok(()),
        admin_logins: (1..=3).map(|n| (format!("db{n}"), Ok(()))).collect(),
    }
}

fn run(v: &ClusterView, to: Option<&str>, f: &Facts) -> Preflight {
    let t = Topology::derive(v, 30);
    preflight(v, &t, &cluster_config(3, true), to, f)
}

fn failed(p: &Preflight) -> Vec<(&'static str, String)> {
    p.checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| (c.what, c.detail.clone()))
        .collect()
}

#[test]
fn a_healthy_cluster_gets_the_whole_plan_in_order() {
    let p = run(&healthy(), None, &facts());
    assert!(p.passed(), "{}", p.describe());
    let plan = p.plan.unwrap();
    assert_eq!(plan.kind, Kind::Switchover);
    assert_eq!(plan.candidate, "db2");
    assert_eq!(plan.positioning, Positioning::Gtid);
    let steps: Vec<String> = plan.steps.iter().map(ToString::to_string).collect();
    assert_eq!(
        steps,
        [
            "make db1 refuse writes (read-only), kill its client connections after a grace",
            "wait until db2 has applied all db1 wrote",
            "stop and reset replication on db2",
            "move the VIP from db1 to db2",
            "make db2 writable",
            "repoint db3 to db2 and verify it replicates",
            "repoint db1 to db2 and verify it replicates",
            "disconnect the clients still on db1",
        ]
    );
}

#[test]
fn to_names_the_candidate_and_must_be_an_eligible_direct_replica() {
    let p = run(&healthy(), Some("db3"), &facts());
    assert_eq!(p.plan.unwrap().candidate, "db3");

    for (to, expected) in [
        (
            "db9",
            "--to db9: not a node of cluster main; nodes: db1, db2, db3",
        ),
        ("db1", "--to db1: db1 is already the master"),
    ] {
        let p = run(&healthy(), Some(to), &facts());
        assert_eq!(failed(&p), [("candidate", expected.to_string())]);
        assert!(p.plan.is_none());
    }

    let mut c = cluster_config(3, true);
    c.failover.never_promote = vec!["db3".into()];
    let v = healthy();
    let t = Topology::derive(&v, 30);
    let p = preflight(&v, &t, &c, Some("db3"), &facts());
    assert_eq!(
        failed(&p),
        [(
            "candidate",
            "--to db3: not eligible: configured never to be promoted".to_string()
        )]
    );
}

#[test]
fn a_long_transaction_is_refused_with_its_connection_and_age() {
    let mut f = facts();
    f.open_transactions = vec![
        OpenTransaction {
            connection: 41,
            age: Duration::from_secs(2),
            state: "RUNNING".into(),
            rows_modified: 0,
        },
        OpenTransaction {
            connection: 42,
            age: Duration::from_secs(12),
            state: "RUNNING".into(),
            rows_modified: 3,
        },
    ];
    let p = run(&healthy(), None, &f);
    let failures = failed(&p);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].0, "transactions");
    assert!(
        failures[0].1.starts_with(
            "on db1: connection 42 has had a transaction open for 12 s (RUNNING, 3 rows modified);"
        ),
        "{}",
        failures[0].1
    );
    assert!(!failures[0].1.contains("connection 41"));
    assert!(p.plan.is_none());
}

#[test]
fn lagging_or_broken_replicas_are_refused_by_name() {
    let mut lagging = state(3, false, Some(1));
    replica(&mut lagging).seconds_behind = Some(9);
    let v = view(vec![
        node(1, Ok(state(1, true, None))),
        node(2, Ok(state(2, false, Some(1)))),
        node(3, Ok(lagging)),
    ]);
    let p = run(&v, None, &facts());
    assert_eq!(
        failed(&p),
        [(
            "replicas",
            "db3 is 9 s behind (switchover.max_lag 5s)".to_string()
        )]
    );

    let mut broken = state(3, false, Some(1));
    replica(&mut broken).sql_running = false;
    replica(&mut broken).last_sql_errno = 1062;
    let v = view(vec![
        node(1, Ok(state(1, true, None))),
        node(2, Ok(state(2, false, Some(1)))),
        node(3, Ok(broken)),
    ]);
    let f = failed(&run(&v, None, &facts()));
    assert_eq!(f[0].0, "replicas");
    assert!(f[0].1.starts_with("db3: "), "{f:?}");

    let v = view(vec![
        node(1, Ok(state(1, true, None))),
        node(2, Ok(state(2, false, Some(1)))),
        node(3, Err(refused())),
    ]);
    let f = failed(&run(&v, None, &facts()));
    assert_eq!(f[0], ("replicas", "db3 is unreachable".to_string()));
}

#[test]
fn a_dead_or_read_only_master_is_not_switched_over() {
    let v = view(vec![
        node(1, Err(refused())),
        node(2, Ok(lost_source(state(2, false, Some(1))))),
        node(3, Ok(lost_source(state(3, false, Some(1))))),
    ]);
    let p = run(&v, None, &facts());
    assert_eq!(failed(&p)[0].0, "master");
    assert!(p.plan.is_none());

    let v = view(vec![
        node(1, Ok(state(1, false, None))),
        node(2, Ok(state(2, false, Some(1)))),
        node(3, Ok(state(3, false, Some(1)))),
    ]);
    let f = failed(&run(&v, None, &facts()));
    assert_eq!(f[0].0, "master");
}

#[test]
fn the_vip_must_point_at_the_master_and_the_lock_be_free() {
    let mut f = facts();
    f.vip = vip_at("db3");
    f.lock = Err("a failover or switchover of this cluster is in progress".into());
    let p = run(&healthy(), None, &f);
    let failures = failed(&p);
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(failures[0].0, "vip");
    assert!(failures[0].1.contains("points at db3"), "{failures:?}");
    assert_eq!(failures[1].0, "lock");

    let mut f = facts();
    f.vip = vec![Err(
        "VIP backend aws-route-table: RequestLimitExceeded".into()
    )];
    let failures = failed(&run(&healthy(), None, &f));
    assert_eq!(failures[0].0, "vip");
    assert!(failures[0].1.contains("RequestLimitExceeded"));
}

#[test]
fn rollback_undoes_only_what_was_tried_in_reverse() {
    let plan = run(&healthy(), None, &facts()).plan.unwrap();
    let upto = |n: usize| plan.steps[..n].to_vec();
    let make_db1_writable = Step::MakeWritable { node: "db1".into() };
    // Failed while waiting for the candidate: only the old master to restore.
    assert_eq!(
        rollback_steps(&plan, &upto(2)),
        std::slice::from_ref(&make_db1_writable)
    );
    // Failed moving the VIP: move it back, re-attach the candidate, restore.
    assert_eq!(
        rollback_steps(&plan, &upto(4)),
        [
            Step::MoveVip {
                from: "db2".into(),
                to: "db1".into()
            },
            Step::Reattach {
                node: "db2".into(),
                to: "db1".into()
            },
            make_db1_writable,
        ]
    );
}

#[test]
fn a_failed_reattach_stops_the_undo_only_when_the_candidate_may_be_writable() {
    let plan = run(&healthy(), None, &facts()).plan.unwrap();
    let reattach = Step::Reattach {
        node: "db2".into(),
        to: "db1".into(),
    };
    let upto = |n: usize| plan.steps[..n].to_vec();
    // Failed at the VIP: db2 was never made writable; db1 may take writes again.
    assert!(!undo_must_stop(&plan, &upto(4), &reattach));
    // Failed at make-writable: db2 may be writable; db1 must wait.
    assert!(undo_must_stop(&plan, &upto(5), &reattach));
    let vip_back = Step::MoveVip {
        from: "db2".into(),
        to: "db1".into(),
    };
    assert!(!undo_must_stop(&plan, &upto(5), &vip_back));
}

#[test]
fn an_admin_login_that_fails_anywhere_or_a_password_too_long_refuses() {
    let v = view(vec![
        node(1, Ok(state(1, true, None))),
        node(2, Ok(state(2, false, Some(1)))),
        node(3, Ok(state(3, false, Some(1)))),
    ]);
    let mut f = facts();
    f.admin_logins[2].1 = Err("access denied while connecting (error 1045)".into());
    let p = run(&v, Some("db2"), &f);
    assert!(p.plan.is_none());
    assert_eq!(
        failed(&p),
        [(
            "admin",
            "the admin user admin cannot log in on db3: access denied while connecting (error 1045): fix the account before a switchover, which acts on every node".to_string()
        )]
    );

    let mut c = cluster_config(3, true);
    c.users.replication.password = crate::config::Secret::new("x".repeat(33));
    let t = Topology::derive(&v, 30);
    let p = preflight(&v, &t, &c, Some("db2"), &facts());
    let (what, why) = &failed(&p)[0];
    assert_eq!(*what, "password");
    assert!(
        why.starts_with(
            "db1: the replication password is 33 characters long; mysql 9.7.4 accepts at most 32"
        ),
        "{why}"
    );
}

#[test]
fn the_rollback_plan_says_it_gives_the_role_back() {
    let plan = run(&healthy(), None, &facts()).plan.unwrap();
    let undo = rollback(&plan, &plan.steps[..4]);
    assert_eq!(undo.kind, Kind::Rollback);
    let text = undo.describe();
    assert!(
        text.starts_with(
            "rollback of the switchover of cluster main: db1 takes the master role back from db2\n"
        ),
        "{text}"
    );
    assert!(!text.contains("candidate:"), "{text}");
    assert!(text.contains("  3. make db1 writable\n"), "{text}");
}

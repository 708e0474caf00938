use super::*;
use crate::mysql::replica_status::IoThread;
use crate::testkit::*;

fn kinds(t: &Topology) -> Vec<(Option<String>, WarningKind)> {
    t.warnings
        .iter()
        .map(|w| (w.node.clone(), w.kind))
        .collect()
}

#[test]
fn healthy_master_with_two_replicas() {
    let v = view(vec![
        node(1, Ok(state(1, true, None))),
        node(2, Ok(state(2, false, Some(1)))),
        node(3, Ok(state(3, false, Some(1)))),
    ]);
    let t = Topology::derive(&v, 30);
    assert_eq!(t.master.as_deref(), Some("db1"));
    assert_eq!(t.role("db2"), Role::Replica);
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let children: Vec<&str> = t.replicas_of(&v, "db1").map(|n| n.name.as_str()).collect();
    assert_eq!(children, ["db2", "db3"]);
}

#[test]
fn intermediate_master_and_chain() {
    let v = view(vec![
        node(1, Ok(state(1, true, None))),
        node(2, Ok(state(2, false, Some(1)))),
        node(3, Ok(state(3, false, Some(2)))),
    ]);
    let t = Topology::derive(&v, 30);
    assert_eq!(t.role("db2"), Role::IntermediateMaster);
    assert_eq!(t.role("db3"), Role::Replica);
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

#[test]
fn dead_master_is_still_identified_through_its_replicas() {
    let mut s2 = state(2, false, Some(1));
    let r = s2.replica.as_mut().unwrap();
    r.io_thread = IoThread::Connecting;
    r.last_io_errno = 2003;
    let v = view(vec![
        node(1, Err(refused())),
        node(2, Ok(s2)),
        node(3, Ok(state(3, false, Some(1)))),
    ]);
    let t = Topology::derive(&v, 30);
    assert_eq!(t.master.as_deref(), Some("db1"));
    // The connecting IO thread is explained by the dead master: one warning.
    assert_eq!(
        kinds(&t),
        vec![(Some("db1".into()), WarningKind::MasterUnreachable)]
    );
}

#[test]
fn broken_replica_unreachable_replica_and_errant_gtids() {
    let mut s2 = state(2, false, Some(1));
    let r = s2.replica.as_mut().unwrap();
    r.sql_running = false;
    r.last_sql_errno = 1062;
    r.last_sql_error = "Duplicate entry".into();
    let mut s3 = state(3, false, Some(1));
    s3.gtid.executed = gtids(&format!("{}:1-10,{}:1-2", UUIDS[1], UUIDS[3]));
    let v = view(vec![
        node(1, Ok(state(1, true, None))),
        node(2, Ok(s2)),
        node(3, Ok(s3)),
        node(4, Err(refused())),
    ]);
    let t = Topology::derive(&v, 30);
    let k = kinds(&t);
    assert!(
        k.contains(&(Some("db2".into()), WarningKind::ReplicationBroken)),
        "{k:?}"
    );
    assert!(
        k.contains(&(Some("db3".into()), WarningKind::ErrantTransactions)),
        "{k:?}"
    );
    assert!(
        k.contains(&(Some("db4".into()), WarningKind::Unreachable)),
        "{k:?}"
    );
    let errant = t
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::ErrantTransactions)
        .unwrap();
    assert!(
        errant.message.ends_with(&format!("{}:1-2", UUIDS[3])),
        "{}",
        errant.message
    );
}

#[test]
fn two_writable_nodes_and_a_detached_one() {
    let v = view(vec![
        node(1, Ok(state(1, true, None))),
        node(2, Ok(state(2, false, Some(1)))),
        node(3, Ok(state(3, true, None))),
    ]);
    let t = Topology::derive(&v, 30);
    assert_eq!(t.master.as_deref(), Some("db1"));
    assert_eq!(t.role("db3"), Role::Detached);
    let k = kinds(&t);
    assert!(k.contains(&(None, WarningKind::TwoWritable)), "{k:?}");
    assert!(
        k.contains(&(Some("db3".into()), WarningKind::NotReplicatingFromMaster)),
        "{k:?}"
    );
}

#[test]
fn replica_of_a_foreign_server_and_lag() {
    let mut s3 = state(3, false, Some(1));
    let r = s3.replica.as_mut().unwrap();
    r.source_port = 9999;
    r.source_server_id = Some(77);
    let mut s2 = state(2, false, Some(1));
    s2.replica.as_mut().unwrap().seconds_behind = Some(120);
    let v = view(vec![
        node(1, Ok(state(1, true, None))),
        node(2, Ok(s2)),
        node(3, Ok(s3)),
    ]);
    let t = Topology::derive(&v, 30);
    assert_eq!(t.role("db3"), Role::Detached);
    let k = kinds(&t);
    assert!(
        k.contains(&(Some("db3".into()), WarningKind::NotReplicatingFromMaster)),
        "{k:?}"
    );
    assert!(
        k.contains(&(Some("db2".into()), WarningKind::Lagging)),
        "{k:?}"
    );
}

#[test]
fn read_only_master_and_nothing_reachable() {
    let v = view(vec![
        node(1, Ok(state(1, false, None))),
        node(2, Ok(state(2, false, Some(1)))),
    ]);
    let t = Topology::derive(&v, 30);
    assert_eq!(
        kinds(&t),
        vec![(Some("db1".into()), WarningKind::MasterReadOnly)]
    );

    let v = view(vec![node(1, Err(refused())), node(2, Err(refused()))]);
    let t = Topology::derive(&v, 30);
    assert_eq!(t.master, None);
    assert!(kinds(&t).contains(&(None, WarningKind::NoMaster)));
}

#[test]
fn a_dead_master_is_recognised_by_its_remembered_server_id() {
    // The replicas reach db1 at another address than the manager does.
    let mut s2 = state(2, false, Some(1));
    replica(&mut s2).source_port = 9999;
    let v = view(vec![node(1, Err(refused())), node(2, Ok(s2))]);
    assert_eq!(Topology::derive(&v, 30).master, None);
    let known = [("db1".to_string(), 1)].into_iter().collect();
    let t = Topology::derive_with_ids(&v, 30, &known);
    assert_eq!(t.master.as_deref(), Some("db1"));
    assert_eq!(t.source["db2"].as_deref(), Some("db1"));
}

#[test]
fn a_repointed_replica_not_yet_connected_is_shown_under_its_new_source() {
    // db3 was repointed to db2; its Master_Server_Id still says db1.
    let mut s3 = state(3, false, Some(2));
    replica(&mut s3).source_server_id = Some(1);
    replica(&mut s3).io_thread = IoThread::Connecting;
    let v = view(vec![
        node(1, Ok(state(1, false, Some(2)))),
        node(2, Ok(state(2, true, None))),
        node(3, Ok(s3.clone())),
    ]);
    let t = Topology::derive(&v, 30);
    assert_eq!(t.source["db3"].as_deref(), Some("db2"));
    // Connected, the id is current and wins.
    replica(&mut s3).io_thread = IoThread::Yes;
    let v = view(vec![
        node(1, Ok(state(1, true, None))),
        node(2, Ok(state(2, false, Some(1)))),
        node(3, Ok(s3)),
    ]);
    let t = Topology::derive(&v, 30);
    assert_eq!(t.source["db3"].as_deref(), Some("db1"));
}

use std::time::{Duration, SystemTime};

use super::*;
use crate::mysql::binlog::BinlogCoord;
use crate::mysql::error::{DbError, ErrorKind, Phase};
use crate::mysql::flavor::ServerVersion;
use crate::mysql::gtid::{GtidSet, MysqlGtidSet};
use crate::mysql::node_state::{GtidState, NodeState, SemiSync};
use crate::mysql::replica_status::{IoThread, PositionMode, ReplicaStatus};
use crate::mysql::Probe;

const UUIDS: [&str; 4] = [
    "00000000-0000-0000-0000-000000000000",
    "11111111-1111-1111-1111-111111111111",
    "22222222-2222-2222-2222-222222222222",
    "33333333-3333-3333-3333-333333333333",
];

fn gtids(text: &str) -> Option<GtidSet> {
    Some(GtidSet::Mysql(MysqlGtidSet::parse(text).unwrap()))
}

/// A MySQL node `dbN` on port 3300+N with server_id N.
fn state(n: u32, writable: bool, source: Option<u32>) -> NodeState {
    NodeState {
        version: ServerVersion::parse("9.7.4", "").unwrap(),
        server_id: n,
        server_uuid: Some(UUIDS[n as usize].to_string()),
        read_only: !writable,
        super_read_only: !writable,
        log_bin: true,
        log_replica_updates: true,
        binlog_format: "ROW".into(),
        binlog: Some(BinlogCoord::new("mysql-bin.000001", 1000)),
        gtid: GtidState {
            mode: "ON".into(),
            executed: gtids(&format!("{}:1-10", UUIDS[1])),
            mariadb: None,
        },
        semi_sync: SemiSync::default(),
        replica: source.map(|s| ReplicaStatus {
            channel: String::new(),
            source_host: "127.0.0.1".into(),
            source_port: 3300 + s as u16,
            source_user: "repl".into(),
            source_server_id: Some(s),
            source_uuid: Some(UUIDS[s as usize].into()),
            io_thread: IoThread::Yes,
            sql_running: true,
            io_state: String::new(),
            sql_state: String::new(),
            received: Some(BinlogCoord::new("mysql-bin.000001", 1000)),
            executed: Some(BinlogCoord::new("mysql-bin.000001", 1000)),
            last_io_errno: 0,
            last_io_error: String::new(),
            last_sql_errno: 0,
            last_sql_error: String::new(),
            seconds_behind: Some(0),
            sql_delay: 0,
            position_mode: PositionMode::AutoPosition,
            retrieved_gtids: None,
            executed_gtids: None,
        }),
        replica_channels: usize::from(source.is_some()),
    }
}

fn node(n: u32, result: Result<NodeState, DbError>) -> NodeView {
    NodeView {
        name: format!("db{n}"),
        host: "127.0.0.1".into(),
        port: 3300 + n as u16,
        probe: Probe {
            result,
            elapsed: Duration::from_millis(3),
        },
    }
}

fn refused() -> DbError {
    DbError {
        kind: ErrorKind::Refused,
        phase: Phase::Connect,
        code: None,
        message: "Connection refused (os error 111)".into(),
    }
}

fn view(nodes: Vec<NodeView>) -> ClusterView {
    ClusterView {
        cluster: "main".into(),
        taken_at: SystemTime::now(),
        nodes,
    }
}

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

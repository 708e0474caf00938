//! Builders of cluster views for unit tests: MySQL 9 nodes `dbN` on port
//! 3300+N with server_id N, replicating as told.

use std::time::{Duration, SystemTime};

use crate::mysql::binlog::BinlogCoord;
use crate::mysql::error::{DbError, ErrorKind, Phase};
use crate::mysql::flavor::ServerVersion;
use crate::mysql::gtid::{GtidSet, MysqlGtidSet};
use crate::mysql::node_state::{GtidState, NodeState, SemiSync};
use crate::mysql::replica_status::{IoThread, PositionMode, ReplicaStatus};
use crate::mysql::Probe;
use crate::topology::{ClusterView, NodeView};

/// Server uuids by server id: `nnnnnnnn-nnnn-nnnn-nnnn-nnnnnnnnnnnn`.
pub const UUIDS: [&str; 6] = [
    "00000000-0000-0000-0000-000000000000",
    "11111111-1111-1111-1111-111111111111",
    "22222222-2222-2222-2222-222222222222",
    "33333333-3333-3333-3333-333333333333",
    "44444444-4444-4444-4444-444444444444",
    "55555555-5555-5555-5555-555555555555",
];

pub fn gtids(text: &str) -> Option<GtidSet> {
    Some(GtidSet::Mysql(MysqlGtidSet::parse(text).unwrap()))
}

/// A MySQL node `dbN` on port 3300+N with server_id N.
pub fn state(n: u32, writable: bool, source: Option<u32>) -> NodeState {
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
            heard: None,
            heard_readable: false,
            heartbeats: None,
        }),
        replica_channels: usize::from(source.is_some()),
    }
}

pub fn node(n: u32, result: Result<NodeState, DbError>) -> NodeView {
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

pub fn refused() -> DbError {
    DbError {
        kind: ErrorKind::Refused,
        phase: Phase::Connect,
        code: None,
        message: "Connection refused (os error 111)".into(),
    }
}

pub fn view(nodes: Vec<NodeView>) -> ClusterView {
    ClusterView {
        cluster: "main".into(),
        taken_at: SystemTime::now(),
        nodes,
    }
}

/// A probe that timed out.
pub fn timed_out() -> DbError {
    DbError::timeout(Phase::Connect, Duration::from_secs(1))
}

/// The replica status of `s`, to adjust in a test.
pub fn replica(s: &mut NodeState) -> &mut ReplicaStatus {
    s.replica.as_mut().expect("a replica")
}

/// The replica lost its source: IO thread reconnecting with error 2003.
pub fn lost_source(mut s: NodeState) -> NodeState {
    let r = replica(&mut s);
    r.io_thread = IoThread::Connecting;
    r.last_io_errno = 2003;
    r.last_io_error = "Can't connect".into();
    r.seconds_behind = None;
    s
}

/// Sets the received (and executed) position of a replica.
pub fn at(mut s: NodeState, received: u64, executed: u64) -> NodeState {
    let r = replica(&mut s);
    r.received = Some(BinlogCoord::new("mysql-bin.000001", received));
    r.executed = Some(BinlogCoord::new("mysql-bin.000001", executed));
    s
}

/// A cluster of `n` nodes matching `node(i, ..)`, with a script VIP if asked.
pub fn cluster_config(n: u32, vip: bool) -> crate::config::ClusterConfig {
    use crate::config::*;
    let creds = |user: &str| Credentials {
        user: user.into(),
        password: Secret::new("pw"),
        source: SecretSource::Inline,
    };
    ClusterConfig {
        name: "main".into(),
        observe_only: false,
        users: Users {
            monitor: creds("monitor"),
            admin: creds("admin"),
            replication: creds("repl"),
        },
        timing: Timing::default(),
        failover: FailoverPolicy::default(),
        switchover: crate::config::SwitchoverPolicy::default(),
        vip: vip.then(|| VipConfig {
            address: "10.254.0.10".parse().unwrap(),
            backends: vec![crate::config::BackendConfig::Script(
                crate::config::ScriptConfig {
                    command: crate::config::Command {
                        argv: vec!["/bin/true".into()],
                    },
                    timeout: Duration::from_secs(5),
                },
            )],
            retry_for: crate::config::vip::RETRY_FOR,
        }),
        tls: Default::default(),
        aurora: None,
        salvage: None,
        nodes: (1..=n)
            .map(|i| NodeConfig {
                name: format!("db{i}"),
                host: "127.0.0.1".into(),
                port: 3300 + i as u16,
                instance_id: None,
                eni_id: None,
                az: None,
                ipv4: None,
                host_agent: None,
                binlog_index: None,
                relay_log_index: None,
            })
            .collect(),
    }
}

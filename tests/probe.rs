//! The probe against real 3-node MariaDB 10.11 and MySQL 9 clusters: what it
//! reports must be what the servers themselves say.

use vipkeeper_harness as support;

use std::time::{Duration, Instant};

use support::probe::{monitor_target, probe_server};
use support::{per_flavor, ClusterSpec, Flavor, TestCluster};
use vipkeeper::mysql::gtid::{GtidSet, MariadbGtidPos, MysqlGtidSet};
use vipkeeper::mysql::replica_status::{IoThread, PositionMode};
use vipkeeper::mysql::{probe, ErrorKind, NodeState};
use vipkeeper::topology::{ClusterView, NodeView, Role, Topology};

per_flavor!(
    positions_gtids_and_semi_sync_match_the_servers,
    file_position_replication,
    sigstopped_master_probe_returns_within_its_timeout
);

/// The server's own idea of its executed GTIDs, read as root.
async fn server_gtids(cluster: &TestCluster, name: &str) -> GtidSet {
    let node = cluster.node(name);
    match cluster.spec.flavor {
        Flavor::Mysql => {
            let text = node
                .query_value("SELECT @@GLOBAL.gtid_executed AS g", "g")
                .await
                .unwrap()
                .unwrap();
            GtidSet::Mysql(MysqlGtidSet::parse(&text).unwrap())
        }
        Flavor::Mariadb => {
            let text = node
                .query_value("SELECT @@GLOBAL.gtid_current_pos AS g", "g")
                .await
                .unwrap()
                .unwrap();
            GtidSet::Mariadb(MariadbGtidPos::parse(&text).unwrap())
        }
    }
}

async fn view(cluster: &TestCluster) -> ClusterView {
    let mut nodes = Vec::new();
    for s in &cluster.servers {
        nodes.push(NodeView {
            name: s.name.clone(),
            host: s.host.clone(),
            port: s.port,
            probe: probe_server(s).await,
        });
    }
    ClusterView {
        cluster: "test".into(),
        taken_at: std::time::SystemTime::now(),
        nodes,
    }
}

fn ok(v: &ClusterView, name: &str) -> NodeState {
    v.node(name)
        .unwrap()
        .probe
        .result
        .clone()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn positions_gtids_and_semi_sync_match_the_servers(flavor: Flavor) {
    let mut spec = ClusterSpec::new(flavor);
    spec.semi_sync = true;
    let cluster = TestCluster::start(spec).await.unwrap();
    let master = cluster.master();
    master
        .exec(&["CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))"])
        .await
        .unwrap();
    for i in 0..50 {
        master
            .exec(&[&format!("INSERT INTO app.t VALUES ({i}, 'row {i}')")])
            .await
            .unwrap();
    }
    cluster
        .wait_replicated(Duration::from_secs(20))
        .await
        .unwrap();
    let master_binlog = cluster.binlog_position(master).await.unwrap();

    let v = view(&cluster).await;
    let m = ok(&v, "db1");
    assert_eq!(m.version.flavor.to_string(), flavor.name());
    assert_eq!(m.server_id, 1);
    assert!(m.writable() && m.replica.is_none() && m.log_bin);
    let binlog = m.binlog.clone().unwrap();
    assert_eq!((binlog.file.clone(), binlog.position), master_binlog);
    assert_eq!(
        m.gtid.executed.as_ref(),
        Some(&server_gtids(&cluster, "db1").await)
    );
    assert!(
        m.semi_sync.source_enabled && m.semi_sync.source_active,
        "{:?}",
        m.semi_sync
    );
    assert_eq!(m.semi_sync.source_clients, 2);
    assert_eq!(m.semi_sync.wait_point.as_deref(), Some("AFTER_SYNC"));

    for name in ["db2", "db3"] {
        let s = ok(&v, name);
        assert!(!s.writable(), "{name} is read-only");
        assert_eq!(s.server_id, cluster.node(name).server_id);
        assert_eq!(
            s.gtid.executed.as_ref(),
            Some(&server_gtids(&cluster, name).await),
            "{name}"
        );
        assert_eq!(
            s.gtid.executed, m.gtid.executed,
            "{name} applied everything"
        );
        assert!(s.semi_sync.replica_active, "{name}: {:?}", s.semi_sync);
        let r = s.replica.clone().unwrap();
        assert_eq!(r.io_thread, IoThread::Yes);
        assert!(r.sql_running && r.is_healthy());
        assert_eq!(
            (r.source_host.as_str(), r.source_port),
            ("127.0.0.1", master.port)
        );
        assert_eq!(r.source_server_id, Some(1));
        assert_eq!(r.received.as_ref(), Some(&binlog), "{name} received all");
        assert_eq!(r.executed.as_ref(), Some(&binlog), "{name} executed all");
        assert_eq!(r.retrieved_gtids, m.gtid.executed, "{name} retrieved all");
        let mode = match flavor {
            Flavor::Mysql => PositionMode::AutoPosition,
            Flavor::Mariadb => PositionMode::SlavePos,
        };
        assert_eq!(r.position_mode, mode);
    }
    let t = Topology::derive(&v, 30);
    assert_eq!(t.master.as_deref(), Some("db1"));
    assert_eq!(
        (t.role("db2"), t.role("db3")),
        (Role::Replica, Role::Replica)
    );
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

async fn file_position_replication(flavor: Flavor) {
    let mut spec = ClusterSpec::new(flavor);
    spec.gtid = false;
    let cluster = TestCluster::start(spec).await.unwrap();
    cluster
        .master()
        .exec(&[
            "CREATE TABLE app.t (id INT PRIMARY KEY)",
            "INSERT INTO app.t VALUES (1)",
        ])
        .await
        .unwrap();
    cluster
        .wait_replicated(Duration::from_secs(20))
        .await
        .unwrap();
    let v = view(&cluster).await;
    let binlog = ok(&v, "db1").binlog.unwrap();
    for name in ["db2", "db3"] {
        let r = ok(&v, name).replica.unwrap();
        assert_eq!(r.position_mode, PositionMode::FilePos, "{name}");
        assert_eq!(r.executed.as_ref(), Some(&binlog), "{name}");
    }
    if flavor == Flavor::Mysql {
        assert_eq!(ok(&v, "db1").gtid.mode, "OFF");
    }
    let t = Topology::derive(&v, 30);
    assert_eq!(t.master.as_deref(), Some("db1"));
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

async fn sigstopped_master_probe_returns_within_its_timeout(flavor: Flavor) {
    let mut cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    // An established session first, then the stop: the hardest case (TCP
    // open, no answers) for both a new connection and a running query.
    cluster.master().pause();
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let p = probe(&monitor_target(cluster.master(), timeout)).await;
    let took = started.elapsed();
    let err = p.result.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    // connect_timeout + query_timeout bound the probe; allow scheduling slack.
    assert!(
        took < timeout * 2 + Duration::from_millis(500),
        "probe took {took:?}"
    );
    cluster.master().resume();

    // Killed outright: refused, and fast.
    cluster.node_mut("db3").kill9();
    let p = probe_server(cluster.node("db3")).await;
    assert_eq!(p.result.unwrap_err().kind, ErrorKind::Refused);
}

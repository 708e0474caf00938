//! Salvage: an async cluster whose master dies holding acknowledged
//! writes no replica received. With the master's host agent up, the
//! failover replays them on the new master from the dead master's binlog
//! files; without it, the report says from where writes may be lost.

use vipkeeper_harness as support;

use std::path::PathBuf;
use std::time::Duration;

use support::agent::Agent;
use support::writer::Writer;
use support::{per_flavor, ClusterSpec, ConfigExtras, Flavor, TestCluster};

per_flavor!(
    acknowledged_writes_only_the_dead_master_held_are_salvaged_from_its_binlog,
    a_file_position_cluster_gets_the_salvaged_writes_on_every_replica,
    a_file_position_replica_that_received_less_ends_level_with_the_new_master,
    with_the_dead_masters_host_gone_a_lagging_replica_is_levelled_from_the_new_masters_relay_log,
    with_the_host_agent_gone_too_the_report_says_from_where_writes_may_be_lost,
    a_transaction_the_replicas_received_only_part_of_is_salvaged_whole,
);

const LONG: Duration = Duration::from_secs(40);
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

struct Setup {
    cluster: TestCluster,
    config: PathBuf,
    host_port: u16,
    /// db2's host agent's port, when db2 has one.
    db2_port: Option<u16>,
}

/// An async cluster (no semi-sync) with salvage configured and db1's
/// host agent at `host_port`. MySQL runs under its own root here, so the
/// binlog index path it reports is not the host's: the host's path is
/// configured (`binlog_index`); MariaDB's is learned from the server.
async fn setup(flavor: Flavor) -> Setup {
    setup_spec(ClusterSpec::new(flavor)).await
}

async fn setup_spec(spec: ClusterSpec) -> Setup {
    setup_with(spec, false).await
}

/// The same; with `db2_agent`, db2 has a host agent too (which serves its
/// relay log).
async fn setup_with(spec: ClusterSpec, db2_agent: bool) -> Setup {
    let flavor = spec.flavor;
    let cluster = TestCluster::start(spec).await.unwrap();
    cluster.create_writer_table(LONG).await.unwrap();
    let token = cluster.dir.join("secrets").join("salvage.token");
    std::fs::create_dir_all(token.parent().unwrap()).unwrap();
    support::cluster::write_secret(&token, TOKEN).unwrap();
    let host_port = support::cluster::free_port().unwrap();
    let mut extras = ConfigExtras {
        cluster_toml: format!(
            "{}\n[cluster.salvage]\ntoken_file = \"{}\"\n",
            cluster.vip_script_toml().unwrap(),
            token.display()
        ),
        agent_toml: cluster.notify_toml().unwrap(),
        ..Default::default()
    };
    let mut db1 = format!("host_agent = \"127.0.0.1:{host_port}\"\n");
    if flavor == Flavor::Mysql {
        let index = cluster.dir.join("db1").join("data").join("mysql-bin.index");
        db1.push_str(&format!("binlog_index = \"{}\"\n", index.display()));
    }
    extras.node_toml.insert("db1".into(), db1);
    let db2_port = db2_agent.then(|| support::cluster::free_port().unwrap());
    if let Some(port) = db2_port {
        let mut db2 = format!("host_agent = \"127.0.0.1:{port}\"\n");
        if flavor == Flavor::Mysql {
            let index = cluster.dir.join("db2").join("data").join("relay-bin.index");
            db2.push_str(&format!("relay_log_index = \"{}\"\n", index.display()));
        }
        extras.node_toml.insert("db2".into(), db2);
    }
    let config = cluster.write_config_with("main", &extras).unwrap();
    Setup {
        cluster,
        config,
        host_port,
        db2_port,
    }
}

fn start_host_agent(s: &Setup) -> Agent {
    start_host_agent_of(s, "db1", s.host_port, "the binlog index is")
}

/// `node`'s host agent on `port`, once its log says `ready`.
fn start_host_agent_of(s: &Setup, node: &str, port: u16, ready: &str) -> Agent {
    let listen = format!("127.0.0.1:{port}");
    let agent = Agent::start_with(
        &support::bin(),
        &s.config,
        &s.cluster.dir,
        None,
        &format!("host-{node}"),
        &["--local-node", node, "--listen", &listen],
        &[],
    );
    agent.wait_for_log(ready, LONG);
    agent
}

fn start_manager(s: &Setup) -> Agent {
    let agent = Agent::start(support::bin().as_ref(), &s.config, &s.cluster.dir);
    agent.wait_for_log("healthy: db1 is the master", LONG);
    agent
}

/// Stops both replicas' IO threads, so that what the master writes next
/// lives only in its binlog; returns once the writer has had `n` more
/// writes acknowledged.
async fn hold_back(c: &TestCluster, writer: &Writer, n: usize) {
    let stop_io = c.spec.flavor.stop_io_thread_sql();
    for node in ["db2", "db3"] {
        c.node(node).exec(&[stop_io]).await.unwrap();
    }
    writer.wait_for_more(n, LONG).await;
}

/// The detail of the report's salvage step.
fn salvage_detail(r: &serde_json::Value) -> String {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "salvage")
        .unwrap_or_else(|| panic!("no salvage step in {r:#}"))["detail"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn acknowledged_writes_only_the_dead_master_held_are_salvaged_from_its_binlog(
    flavor: Flavor,
) {
    salvaged_on_every_node(setup(flavor).await).await;
}

/// A cluster replicating by file and position, salvage set up, db1's
/// host agent and a manager running, every replica caught up.
async fn file_position_cluster(flavor: Flavor) -> (Setup, Agent, Agent) {
    let mut spec = ClusterSpec::new(flavor);
    spec.gtid = false;
    let s = setup_spec(spec).await;
    let host = start_host_agent(&s);
    let manager = start_manager(&s);
    s.cluster.wait_replicated_from("db1", LONG).await.unwrap();
    (s, host, manager)
}

/// The ids of app.w from `from` on, in order.
async fn ids_from(c: &TestCluster, node: &str, from: u64) -> Vec<u64> {
    c.node(node)
        .query_column(&format!(
            "SELECT id FROM app.w WHERE id >= {from} ORDER BY id"
        ))
        .await
        .unwrap()
        .iter()
        .map(|i| i.parse().unwrap())
        .collect()
}

/// Inserts ids `from..from + n` on the master, one transaction each.
async fn insert_on_master(c: &TestCluster, from: u64, n: u64) {
    for id in from..from + n {
        let sql = format!("INSERT INTO app.w VALUES ({id}, 0)");
        c.master().exec(&[&sql]).await.unwrap();
    }
}

/// Waits until `node` holds `n` rows from id `from` on.
async fn wait_rows(c: &TestCluster, node: &str, from: u64, n: usize) {
    let deadline = std::time::Instant::now() + LONG;
    while ids_from(c, node, from).await.len() != n {
        assert!(
            std::time::Instant::now() < deadline,
            "{node} never got the {n} rows"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// db2 (the new master) and db3 hold ids `from..until` and the same table.
async fn db2_and_db3_hold(c: &TestCluster, from: u64, until: u64) {
    c.wait_replicated_from("db2", LONG).await.unwrap();
    let all: Vec<u64> = (from..until).collect();
    for node in ["db2", "db3"] {
        assert_eq!(ids_from(c, node, from).await, all, "{node}");
    }
    let sum = |n: &'static str| c.node(n).query_value("CHECKSUM TABLE app.w", "Checksum");
    assert_eq!(sum("db2").await.unwrap(), sum("db3").await.unwrap());
}

/// Without GTIDs (MySQL gtid_mode=OFF; MariaDB replicating by file and
/// position), both replicas level, the master writing on alone (into a
/// second binlog file halfway): the other
/// replica starts where the candidate stood before the salvage, and so gets
/// the salvaged writes too.
async fn a_file_position_cluster_gets_the_salvaged_writes_on_every_replica(flavor: Flavor) {
    let (mut s, _host, manager) = file_position_cluster(flavor).await;
    let stop_io = flavor.stop_io_thread_sql();
    for node in ["db2", "db3"] {
        s.cluster.node(node).exec(&[stop_io]).await.unwrap();
    }
    let held: Vec<u64> = (0..30).map(|i| 2_000_000 + i).collect();
    for id in &held {
        // Acknowledged: the statement returned.
        s.cluster
            .master()
            .exec(&[&format!("INSERT INTO app.w VALUES ({id}, 0)")])
            .await
            .unwrap();
        // Halfway, a new binlog file: the tail spans two.
        if *id == 2_000_014 {
            s.cluster
                .master()
                .exec(&["FLUSH BINARY LOGS"])
                .await
                .unwrap();
        }
    }
    s.cluster.node_mut("db1").kill9();
    manager.wait_for_log("replaced db1", LONG);
    let new_master = s.cluster.vip_node();
    let other = if new_master == "db2" { "db3" } else { "db2" };
    let r = s.cluster.notified_report(LONG);
    for step in r["steps"].as_array().unwrap() {
        eprintln!(
            "{} ({} ms): {}",
            step["step"], step["elapsed_ms"], step["detail"]
        );
    }
    assert!(
        salvage_detail(&r).contains("salvaged 30 transaction(s)"),
        "{r:#}"
    );
    s.cluster
        .wait_replicated_from(&new_master, LONG)
        .await
        .unwrap();
    for node in [new_master.as_str(), other] {
        assert_eq!(ids_from(&s.cluster, node, 2_000_000).await, held, "{node}");
    }
    let sum = |n: &str| {
        s.cluster
            .node(n)
            .query_value("CHECKSUM TABLE app.w", "Checksum")
    };
    assert_eq!(sum(&new_master).await.unwrap(), sum(other).await.unwrap());
}

/// Held-back acknowledged writes, the master killed with its host agent
/// up: every acknowledged write on the new master and the other replica.
async fn salvaged_on_every_node(mut s: Setup) {
    let host = start_host_agent(&s);
    let manager = start_manager(&s);
    let writer = Writer::start(s.cluster.vip_target());
    writer.wait_for_more(50, LONG).await;
    hold_back(&s.cluster, &writer, 40).await;
    let held = writer.snapshot();
    let before = held.missing_on(s.cluster.node("db2")).await.unwrap();
    assert!(
        before.len() >= 40,
        "the replicas should lack the held-back writes, db2 lacks {}",
        before.len()
    );

    s.cluster.node_mut("db1").kill9();
    manager.wait_for_log("replaced db1", LONG);
    writer.wait_for_more(20, LONG).await;
    let writes = writer.stop().await;

    let new_master = s.cluster.vip_node();
    assert_ne!(new_master, "db1");
    let other = if new_master == "db2" { "db3" } else { "db2" };
    let r = s.cluster.notified_report(LONG);
    let detail = salvage_detail(&r);
    for step in r["steps"].as_array().unwrap() {
        eprintln!(
            "{} ({} ms): {}",
            step["step"], step["elapsed_ms"], step["detail"]
        );
    }
    s.cluster
        .wait_replicated_from(&new_master, LONG)
        .await
        .unwrap();
    // Every acknowledged write, the held-back ones included, on both.
    writes.assert_none_lost(s.cluster.node(&new_master)).await;
    writes.assert_none_lost(s.cluster.node(other)).await;
    assert_eq!(r["outcome"], "success", "{r:#}");
    assert!(
        detail.contains("salvaged") && detail.contains("its mysqld is down"),
        "{detail}"
    );
    // The token is in no log and no report.
    for (what, text) in [
        ("the manager's log", manager.log_text()),
        ("the host agent's log", host.log_text()),
        ("the report", r.to_string()),
    ] {
        assert!(!text.contains(TOKEN), "the salvage token is in {what}");
    }
}

async fn with_the_host_agent_gone_too_the_report_says_from_where_writes_may_be_lost(
    flavor: Flavor,
) {
    let mut s = setup(flavor).await;
    // No host agent runs: the host is as good as gone.
    let manager = start_manager(&s);
    let writer = Writer::start(s.cluster.vip_target());
    writer.wait_for_more(50, LONG).await;
    let stop_io = flavor.stop_io_thread_sql();
    for node in ["db2", "db3"] {
        s.cluster.node(node).exec(&[stop_io]).await.unwrap();
    }
    // Where the replicas stopped in db1's binlog: what follows is at risk.
    let (file, _) = s.cluster.binlog_position(s.cluster.master()).await.unwrap();
    writer.wait_for_more(20, LONG).await;
    // The manager probes db1 once more at least: it knows some of what the
    // replicas lack.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    s.cluster.node_mut("db1").kill9();
    manager.wait_for_log("replaced db1", LONG);
    let writes = writer.stop().await;
    let new_master = s.cluster.vip_node();
    let lost = writes
        .missing_on(s.cluster.node(&new_master))
        .await
        .unwrap();
    assert!(
        !lost.is_empty(),
        "without salvage the held-back writes are lost"
    );

    let r = s.cluster.notified_report(LONG);
    assert_eq!(r["outcome"], "success", "{r:#}");
    let detail = salvage_detail(&r);
    eprintln!("the salvage step: {detail}");
    assert!(
        detail.contains(&format!("what db1 wrote after {file}:"))
            && detail.contains("may be lost; db1 was last seen at ")
            && detail.contains("holding at least these transactions"),
        "{detail}"
    );
}

/// Without GTIDs, db3 stopped receiving before db2, and db2 before the
/// master's last writes: db2 is promoted with the salvaged writes, and db3
/// — which has no position in db2's binlog — is levelled from the dead
/// master's binlog (MySQL) or repointed by GTID (MariaDB keeps GTIDs
/// whatever the replication mode), and ends with the same rows.
async fn a_file_position_replica_that_received_less_ends_level_with_the_new_master(flavor: Flavor) {
    let (mut s, _host, manager) = file_position_cluster(flavor).await;
    let stop_io = flavor.stop_io_thread_sql();
    s.cluster.node("db3").exec(&[stop_io]).await.unwrap();
    insert_on_master(&s.cluster, 3_000_000, 20).await;
    wait_rows(&s.cluster, "db2", 3_000_000, 20).await;
    s.cluster.node("db2").exec(&[stop_io]).await.unwrap();
    insert_on_master(&s.cluster, 3_000_020, 10).await;
    s.cluster.node_mut("db1").kill9();
    manager.wait_for_log("replaced db1", LONG);
    let r = s.cluster.notified_report(LONG);
    for step in r["steps"].as_array().unwrap() {
        eprintln!(
            "{} ({} ms): {}",
            step["step"], step["elapsed_ms"], step["detail"]
        );
    }
    assert_eq!(s.cluster.vip_node(), "db2", "the most advanced");
    assert!(
        salvage_detail(&r).contains("salvaged 10 transaction(s)"),
        "{r:#}"
    );
    let db3 = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] != "wait-applied" && s["node"] == "db3")
        .unwrap_or_else(|| panic!("no step for db3 in {r:#}"))
        .clone();
    match flavor {
        Flavor::Mysql => assert!(
            db3["step"] == "level"
                && db3["detail"]
                    .as_str()
                    .unwrap()
                    .starts_with("levelled with db2: 20 transaction(s)"),
            "{db3}"
        ),
        Flavor::Mariadb => assert!(
            db3["step"] == "repoint" && db3["detail"].as_str().unwrap().contains("by GTID"),
            "{db3}"
        ),
    }
    db2_and_db3_hold(&s.cluster, 3_000_000, 3_000_030).await;
}

/// Without GTIDs, db3 stopped receiving before db2, and db1's host is gone
/// with its mysqld (its host agent never answers): what db3 lacks is read
/// from db2's relay log (through db2's host agent) before db2 is detached,
/// and db3 is levelled from it (MySQL; MariaDB repoints it by GTID). It
/// ends with the same rows and replicates from db2.
async fn with_the_dead_masters_host_gone_a_lagging_replica_is_levelled_from_the_new_masters_relay_log(
    flavor: Flavor,
) {
    let mut spec = ClusterSpec::new(flavor);
    spec.gtid = false;
    let mut s = setup_with(spec, true).await;
    let port = s.db2_port.unwrap();
    let _db2_host = start_host_agent_of(&s, "db2", port, "the relay log index is");
    let manager = start_manager(&s);
    s.cluster.wait_replicated_from("db1", LONG).await.unwrap();
    s.cluster
        .node("db3")
        .exec(&[flavor.stop_io_thread_sql()])
        .await
        .unwrap();
    insert_on_master(&s.cluster, 4_000_000, 20).await;
    wait_rows(&s.cluster, "db2", 4_000_000, 20).await;
    s.cluster.node_mut("db1").kill9();
    manager.wait_for_log("replaced db1", LONG);
    let r = s.cluster.notified_report(LONG);
    let steps = r["steps"].as_array().unwrap();
    for step in steps {
        eprintln!(
            "{} ({} ms): {}",
            step["step"], step["elapsed_ms"], step["detail"]
        );
    }
    assert_eq!(s.cluster.vip_node(), "db2", "the most advanced");
    let db3 = steps
        .iter()
        .find(|s| s["node"] == "db3" && (s["step"] == "level" || s["step"] == "repoint"))
        .unwrap_or_else(|| panic!("db3 was neither levelled nor repointed: {r:#}"));
    match flavor {
        Flavor::Mysql => {
            let read = steps
                .iter()
                .find(|s| s["step"] == "read-relay-log")
                .unwrap_or_else(|| panic!("no read-relay-log step in {r:#}"));
            assert_eq!(read["outcome"], "ok", "{read}");
            assert!(
                db3["step"] == "level"
                    && db3["outcome"] == "ok"
                    && db3["detail"]
                        .as_str()
                        .unwrap()
                        .starts_with("levelled with db2: 20 transaction(s) of db2's relay log"),
                "{db3}"
            );
        }
        Flavor::Mariadb => assert!(
            db3["step"] == "repoint" && db3["detail"].as_str().unwrap().contains("by GTID"),
            "{db3}"
        ),
    }
    // Writes on the new master reach db3 too.
    s.cluster
        .node("db2")
        .exec(&["INSERT INTO app.w VALUES (4000020, 0)"])
        .await
        .unwrap();
    db2_and_db3_hold(&s.cluster, 4_000_000, 4_000_021).await;
}

/// Rows in the one large transaction of the test below (about 7 MB of
/// binlog: long enough in transit to be caught in the middle).
const BIG_ROWS: u64 = 32_768;

/// The master dies after its replicas stopped receiving in the middle of
/// one large, acknowledged transaction: each holds a part of it. MySQL's multi-threaded applier then waits
/// inside that transaction and `STOP REPLICA` would wait 60 s for its end
/// (a CI run saw the failover time out there); the failover instead stops
/// it at once, and the salvage replays the whole transaction from the dead
/// master's binlog: every row of it on the new master and the other
/// replica.
async fn a_transaction_the_replicas_received_only_part_of_is_salvaged_whole(flavor: Flavor) {
    let mut s = setup(flavor).await;
    let c = &s.cluster;
    c.master()
        .exec(&[
            "CREATE TABLE app.seed (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(255))",
            "CREATE TABLE app.big (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(255))",
            "INSERT INTO app.seed (pad) VALUES (REPEAT(SHA2('seed', 256), 3))",
        ])
        .await
        .unwrap();
    while c.row_count_of("db1", "app.seed").await < BIG_ROWS {
        c.master()
            .exec(&["INSERT INTO app.seed (pad) SELECT REPEAT(SHA2(RAND(), 256), 3) FROM app.seed"])
            .await
            .unwrap();
    }
    c.wait_replicated(LONG).await.unwrap();
    // Each relay-log event synced on its own: the transfer of the large
    // transaction takes long enough to stop the master in its middle.
    for node in ["db2", "db3"] {
        c.node(node)
            .exec(&["SET GLOBAL sync_relay_log = 1"])
            .await
            .unwrap();
    }
    let _host = start_host_agent(&s);
    let manager = start_manager(&s);
    caught_in_the_middle(c).await;
    // Every acknowledged row is in db1's binlog only, the replicas each
    // inside the transaction; then db1 dies with its host up.

    s.cluster.node_mut("db1").kill9();
    manager.wait_for_log("replaced db1", LONG);
    let c = &s.cluster;
    let new_master = c.vip_node();
    assert_ne!(new_master, "db1");
    let r = c.notified_report(LONG);
    for step in r["steps"].as_array().unwrap() {
        eprintln!(
            "{} ({} ms): {}",
            step["step"], step["elapsed_ms"], step["detail"]
        );
    }
    assert_eq!(r["outcome"], "success", "{r:#}");
    let detail = salvage_detail(&r);
    assert!(detail.contains("salvaged"), "{detail}");
    c.wait_replicated_from(&new_master, LONG).await.unwrap();
    for node in ["db2", "db3"] {
        assert_eq!(
            c.row_count_of(node, "app.big").await,
            BIG_ROWS,
            "{node} should hold the whole transaction (report: {r:#})"
        );
    }
}

/// Inserts `BIG_ROWS` rows on db1 in one transaction and stops each
/// replica's IO thread while it holds only a part of it (what the kernel
/// buffered for it is dropped with the connection); tries again (the
/// replicas restarted and caught up) when a replica got it whole first.
async fn caught_in_the_middle(c: &TestCluster) {
    let stop_io = c.spec.flavor.stop_io_thread_sql();
    for attempt in 1..=5 {
        let (_, start) = c.binlog_position(c.master()).await.unwrap();
        let mut conn = c.master().root().await.unwrap();
        let insert = tokio::spawn(async move {
            use mysql_async::prelude::Queryable;
            conn.query_drop("INSERT INTO app.big (pad) SELECT pad FROM app.seed LIMIT 32768")
                .await
        });
        let mut stopped = Vec::new();
        let watch = async {
            let (_, end) = loop {
                let at = c.binlog_position(c.master()).await.unwrap();
                if at.1 > start {
                    break at;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            };
            while stopped.len() < 2 {
                for node in ["db2", "db3"] {
                    let got = c.received_position(c.node(node)).await.unwrap();
                    if !stopped.contains(&node) && got.is_some_and(|p| p > start) {
                        c.node(node).exec(&[stop_io]).await.unwrap();
                        stopped.push(node);
                    }
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            end
        };
        let end = tokio::time::timeout(LONG, watch)
            .await
            .expect("the large transaction never reached the replicas");
        insert.await.unwrap().unwrap();
        let mut partial = true;
        for node in ["db2", "db3"] {
            let got = c.received_position(c.node(node)).await.unwrap();
            eprintln!("attempt {attempt}: {node} received {got:?} of {start}..{end}");
            partial &= got.is_some_and(|p| p > start && p < end);
        }
        if partial {
            return;
        }
        let start_io = c.spec.flavor.start_replica_sql();
        for node in ["db2", "db3"] {
            c.node(node).exec(&[start_io]).await.unwrap();
        }
        c.master().exec(&["DELETE FROM app.big"]).await.unwrap();
        c.wait_replicated(LONG).await.unwrap();
    }
    panic!("could not stop the replicas in the middle of receiving the large transaction in 5 attempts");
}

//! `vipkeeper status` through the binary against real clusters: the tree,
//! the JSON, and the faults an operator must see (a broken SQL thread, an
//! errant transaction, a stopped node, a SIGSTOP'd master).

use vipkeeper_harness as support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::probe::probe_server;
use support::{per_flavor, vipkeeper, ClusterSpec, Flavor, TestCluster};

per_flavor!(healthy_cluster_tree_and_json, faults_are_reported);

fn status_json(config: &str) -> (i32, Value) {
    let (code, out, err) = vipkeeper(&["-c", config, "status", "--json"]);
    let doc = serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}): {out}\n{err}"));
    (code, doc)
}

fn node<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["clusters"][0]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap()
}

fn warnings(doc: &Value) -> Vec<(String, String, String)> {
    doc["clusters"][0]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["node"].as_str().unwrap_or("").to_string(),
                w["kind"].as_str().unwrap().to_string(),
                w["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn healthy_cluster_tree_and_json(flavor: Flavor) {
    let cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let config = cluster.write_config("main").unwrap();
    let config = config.to_str().unwrap();
    let (file, pos) = cluster.binlog_position(cluster.master()).await.unwrap();

    let (code, out, err) = vipkeeper(&["-c", config, "status"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("cluster main (") && lines[0].ends_with("master: db1"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("db1  127.0.0.1:") && lines[1].contains("master  writable"),
        "{out}"
    );
    assert!(lines[1].contains(&format!("binlog {file}:{pos}")), "{out}");
    assert!(
        lines[2].starts_with("├── db2")
            && lines[2].contains("replica")
            && lines[2].contains("io:yes sql:yes"),
        "{out}"
    );
    assert!(lines[3].starts_with("└── db3"), "{out}");
    assert!(out.contains("no warnings"), "{out}");

    let (code, doc) = status_json(config);
    assert_eq!(code, 0);
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["clusters"][0]["master"], "db1");
    let db1 = node(&doc, "db1");
    assert_eq!(db1["role"], "master");
    assert_eq!(db1["state"]["binlog"]["file"], file.as_str());
    assert_eq!(db1["state"]["binlog"]["position"], pos);
    assert_eq!(db1["state"]["version"]["flavor"], flavor.name());
    for name in ["db2", "db3"] {
        let n = node(&doc, name);
        assert_eq!(n["role"], "replica");
        assert_eq!(n["source"], "db1");
        assert_eq!(n["state"]["replica"]["executed"]["position"], pos, "{name}");
        assert_eq!(
            n["state"]["gtid"]["executed"], db1["state"]["gtid"]["executed"],
            "{name}"
        );
    }

    // db3 moves under db2, which becomes an intermediate master.
    let (db2, db3) = (cluster.node("db2"), cluster.node("db3"));
    db3.exec(&[flavor.stop_replica_sql()]).await.unwrap();
    cluster.attach(db3, db2, None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = probe_server(db3).await.result.unwrap().replica.unwrap();
        if r.source_port == db2.port && r.source_server_id == Some(2) && r.is_healthy() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "db3 never replicated from db2: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, out, _) = vipkeeper(&["-c", config, "status"]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[2].starts_with("└── db2") && lines[2].contains("intermediate master"),
        "{out}"
    );
    assert!(
        lines[3].starts_with("    └── db3") && lines[3].contains("replica"),
        "{out}"
    );
    let (_, doc) = status_json(config);
    assert_eq!(node(&doc, "db2")["role"], "intermediate-master");
    assert_eq!(node(&doc, "db3")["source"], "db2");
}

async fn faults_are_reported(flavor: Flavor) {
    let mut cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let config = cluster.write_config("main").unwrap();
    let config = config.to_str().unwrap().to_string();
    let master = cluster.master();
    master
        .exec(&[
            "CREATE TABLE app.t (id INT PRIMARY KEY)",
            "INSERT INTO app.t VALUES (1), (2)",
        ])
        .await
        .unwrap();
    cluster
        .wait_replicated(Duration::from_secs(20))
        .await
        .unwrap();

    // 1. A duplicate key on db2 stops its SQL thread.
    let ro = cluster.spec.flavor.read_only_sql();
    cluster
        .node("db2")
        .exec(&[
            flavor.writable_sql(),
            "SET sql_log_bin=0",
            "INSERT INTO app.t VALUES (3)",
            "SET sql_log_bin=1",
            ro,
        ])
        .await
        .unwrap();
    master
        .exec(&["INSERT INTO app.t VALUES (3)"])
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let p = probe_server(cluster.node("db2")).await;
        if p.result.unwrap().replica.unwrap().last_sql_errno == 1062 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "db2 never stopped on the duplicate key"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 2. An errant transaction on db3 (written there with binary logging on).
    cluster
        .node("db3")
        .exec(&[flavor.writable_sql(), "CREATE DATABASE errant_db", ro])
        .await
        .unwrap();

    let (code, out, _) = vipkeeper(&["-c", &config, "status"]);
    assert_eq!(code, 2, "warnings give exit status 2:\n{out}");
    assert!(
        out.contains("! db2: SQL thread stopped by error 1062"),
        "{out}"
    );
    assert!(
        out.contains("! db3 has transactions the master does not:"),
        "{out}"
    );
    let (_, doc) = status_json(&config);
    let w = warnings(&doc);
    assert!(
        w.iter()
            .any(|(n, k, _)| n == "db2" && k == "replication-broken"),
        "{w:?}"
    );
    let errant = w
        .iter()
        .find(|(n, k, _)| n == "db3" && k == "errant-transactions")
        .unwrap();
    let db3_uuid = node(&doc, "db3")["state"]["server_uuid"]
        .as_str()
        .map(str::to_string);
    match flavor {
        // The errant GTID is db3's own.
        Flavor::Mysql => assert!(
            errant.2.ends_with(&format!("{}:1", db3_uuid.unwrap())),
            "{errant:?}"
        ),
        Flavor::Mariadb => assert!(errant.2.ends_with("domain 0 seq 5"), "{errant:?}"),
    }

    // 3. db3 stopped.
    cluster.node_mut("db3").kill9();
    let (_, doc) = status_json(&config);
    let db3 = node(&doc, "db3");
    assert_eq!(db3["reachable"], false);
    assert_eq!(db3["error"]["kind"], "refused");
    assert_eq!(db3["role"], "unknown");
    assert!(warnings(&doc)
        .iter()
        .any(|(n, k, _)| n == "db3" && k == "unreachable"));

    // 4. The master SIGSTOP'd: status still answers, within the timeouts
    //    (1 s connect + 1 s query by default), naming the master unreachable.
    cluster.master().pause();
    let started = Instant::now();
    let (_, doc) = status_json(&config);
    let took = started.elapsed();
    cluster.master().resume();
    assert!(took < Duration::from_secs(4), "status took {took:?}");
    assert_eq!(node(&doc, "db1")["error"]["kind"], "timeout");
    assert_eq!(
        doc["clusters"][0]["master"], "db1",
        "the replicas still name db1"
    );
    assert!(warnings(&doc)
        .iter()
        .any(|(n, k, _)| n == "db1" && k == "master-unreachable"));
}

//! `vipkeeper switchover` against real 3-node MariaDB 10.11 and MySQL 9
//! clusters with a client writing continuously through the VIP script: no
//! acknowledged write lost, the old master replicating from the new one, and
//! a clean rollback when the candidate dies or the write block runs long.

use vipkeeper_harness as support;

use std::path::PathBuf;
use std::time::Duration;

use mysql_async::prelude::*;
use support::writer::Writer;
use support::{per_flavor, report_of, vipkeeper, ClusterSpec, ConfigExtras, Flavor, TestCluster};

per_flavor!(
    a_switchover_and_back_with_a_client_writing_loses_nothing,
    a_file_position_cluster_switches_over_too,
    the_candidate_killed_during_catch_up_rolls_back,
    a_write_block_past_the_deadline_rolls_back,
    a_vip_backend_failure_moves_the_vip_back_and_reattaches_the_candidate,
    a_candidate_that_dies_after_detach_still_gives_the_writes_back_to_the_old_master,
    a_long_running_transaction_fails_preflight_with_its_id_and_age,
    preflight_names_a_node_the_admin_user_cannot_log_in_to,
);

const LONG: Duration = Duration::from_secs(40);

struct Setup {
    cluster: TestCluster,
    config: PathBuf,
}

async fn setup(flavor: Flavor, gtid: bool, switchover_toml: &str) -> Setup {
    let mut spec = ClusterSpec::new(flavor);
    spec.semi_sync = true;
    spec.gtid = gtid;
    let cluster = TestCluster::start(spec).await.unwrap();
    cluster.create_writer_table(LONG).await.unwrap();
    let extras = ConfigExtras {
        cluster_toml: format!(
            "{}\n[cluster.switchover]\n{switchover_toml}\n",
            cluster.vip_script_toml().unwrap()
        ),
        agent_toml: cluster.notify_toml().unwrap(),
        ..Default::default()
    };
    let config = cluster.write_config_with("main", &extras).unwrap();
    Setup { cluster, config }
}

fn switchover(s: &Setup, extra: &[&str]) -> (i32, String, String) {
    let config = s.config.to_str().unwrap();
    let mut args = vec!["-c", config, "switchover", "main", "--yes"];
    args.extend_from_slice(extra);
    vipkeeper(&args)
}

/// The port `node` replicates from, if its IO and SQL threads both run.
async fn replicating_from(c: &TestCluster, node: &str) -> Option<u16> {
    let row = c
        .node(node)
        .query_row(c.spec.flavor.replica_status_sql())
        .await
        .unwrap()?;
    let get = |names: &[&str]| {
        row.iter()
            .find(|(n, _)| names.contains(&n.as_str()))
            .and_then(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let running = get(&["Slave_IO_Running", "Replica_IO_Running"]) == "Yes"
        && get(&["Slave_SQL_Running", "Replica_SQL_Running"]) == "Yes";
    running
        .then(|| get(&["Master_Port", "Source_Port"]).parse().ok())
        .flatten()
}

/// Waits until `node` replicates (both threads running) from `master`.
async fn wait_replicating(c: &TestCluster, node: &str, master: &str) {
    let want = c.node(master).port;
    let deadline = std::time::Instant::now() + LONG;
    while replicating_from(c, node).await != Some(want) {
        assert!(
            std::time::Instant::now() < deadline,
            "{node} does not replicate from {master}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn vip_port(c: &TestCluster) -> u16 {
    std::fs::read_to_string(c.vip_target())
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Hands the master role from `from` to `to` with the writer running and
/// checks the layout that results.
async fn switch_and_check(s: &Setup, writer: &Writer, from: &str, to: &str) {
    let c = &s.cluster;
    writer.wait_for_more(100, LONG).await;
    let (code, out, err) = switchover(s, &["--to", to]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("switchover main-") && out.contains(&format!("{to} replaced {from}")),
        "{out}"
    );
    // The report names the gate it checked: GTIDs where the servers keep
    // them (MariaDB always), else file and position.
    let gate = if s.cluster.spec.gtid || s.cluster.spec.flavor == Flavor::Mariadb {
        format!("applied all {from} wrote: its executed GTIDs contain all {from} wrote (")
    } else {
        format!("applied all {from} wrote: executed up to {from}'s ")
    };
    assert!(out.contains(&gate), "{out}");
    writer.wait_for_more(100, LONG).await;
    assert_eq!(
        vip_port(c),
        c.node(to).port,
        "the VIP follows the new master"
    );
    assert!(!c.read_only(to).await);
    assert!(c.read_only(from).await);
    for other in ["db1", "db2", "db3"].into_iter().filter(|n| *n != to) {
        wait_replicating(c, other, to).await;
    }
    // The new master keeps the semi-sync guarantee: acknowledged by a replica.
    writer.wait_for_more(100, LONG).await;
    let (_, out, _) = vipkeeper(&["-c", s.config.to_str().unwrap(), "status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    let nodes = status["clusters"][0]["nodes"].as_array().unwrap();
    for n in nodes {
        let semi_sync = &n["state"]["semi_sync"];
        let master = n["name"] == to;
        assert_eq!(
            semi_sync["source_active"], master,
            "{}: {semi_sync}",
            n["name"]
        );
        assert_eq!(
            semi_sync["source_enabled"] == true,
            master || n["name"] != from
        );
    }
}

async fn a_switchover_and_back_with_a_client_writing_loses_nothing(flavor: Flavor) {
    let s = setup(flavor, true, "").await;
    let c = &s.cluster;
    let writer = Writer::start(c.vip_target());
    switch_and_check(&s, &writer, "db1", "db2").await;
    let report = report_json(c);
    assert_eq!(
        (&report["kind"], &report["outcome"]),
        (&"switchover".into(), &"success".into())
    );
    let (summary, svg) = report_of(report["journal"].as_str().unwrap(), &c.dir);
    assert!(
        summary.contains(": success, db2 replaced db1 in "),
        "{summary}"
    );
    assert!(
        svg.contains("replica of db2"),
        "the picture shows db1 repointed"
    );
    switch_and_check(&s, &writer, "db2", "db1").await;
    let writes = writer.stop().await;
    writes.assert_none_lost(c.node("db1")).await;
    let ports: std::collections::BTreeSet<u16> = writes.ack_ports.iter().copied().collect();
    assert!(
        ports.contains(&c.node("db2").port),
        "some writes were acknowledged by db2 while it was master: {ports:?}"
    );
    c.wait_replicated_from("db1", LONG).await.unwrap();
    for n in ["db2", "db3"] {
        assert_eq!(
            c.row_count(n).await,
            c.row_count("db1").await,
            "{n} has every row"
        );
    }
    // Healthy, no errant transaction, the original layout.
    let (code, out, err) = vipkeeper(&["-c", s.config.to_str().unwrap(), "status"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("master: db1"), "{out}");
}

async fn a_file_position_cluster_switches_over_too(flavor: Flavor) {
    let s = setup(flavor, false, "").await;
    let c = &s.cluster;
    let writer = Writer::start(c.vip_target());
    switch_and_check(&s, &writer, "db1", "db3").await;
    let writes = writer.stop().await;
    writes.assert_none_lost(c.node("db3")).await;
    c.wait_replicated_from("db3", LONG).await.unwrap();
    for n in ["db1", "db2"] {
        assert_eq!(
            c.row_count(n).await,
            c.row_count("db3").await,
            "{n} has every row"
        );
    }
}

/// Holds a global read lock on `node`: its SQL thread cannot apply, so the
/// candidate cannot catch up while the lock is held.
async fn block_applier(c: &TestCluster, node: &str) -> mysql_async::Conn {
    let mut conn = c.node(node).root().await.unwrap();
    conn.query_drop("FLUSH TABLES WITH READ LOCK")
        .await
        .unwrap();
    conn
}

fn report_json(c: &TestCluster) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(c.dir.join("notified.json")).unwrap()).unwrap()
}

/// After a rollback: db1 is the writable master behind the VIP, the replicas
/// still replicate from it, and the client's writes land there again.
async fn assert_rolled_back(s: &Setup, writer: &Writer, alive: &[&str]) {
    let c = &s.cluster;
    assert!(!c.read_only("db1").await, "db1 is writable again");
    assert_eq!(vip_port(c), c.node("db1").port, "the VIP never left db1");
    for n in alive {
        wait_replicating(c, n, "db1").await;
    }
    writer.wait_for_more(50, LONG).await;
    let report = report_json(c);
    assert_eq!(report["kind"], "switchover");
    assert_eq!(report["outcome"], "rolled-back", "{report:#}");
    let event = std::fs::read_to_string(c.dir.join("notified.event")).unwrap();
    assert_eq!(
        event.trim(),
        "switchover",
        "the notify command is told what happened"
    );
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps.last(), Some(&"make-writable"), "{steps:?}");
    assert!(!steps.contains(&"move-vip"), "{steps:?}");
    let (summary, svg) = report_of(report["journal"].as_str().unwrap(), &c.dir);
    assert!(summary.starts_with("switchover main-"), "{summary}");
    assert!(summary.contains(": rolled-back (master db1)"), "{summary}");
    assert!(
        svg.contains("master, writable again"),
        "the picture shows db1 restored"
    );
}

async fn the_candidate_killed_during_catch_up_rolls_back(flavor: Flavor) {
    let mut s = setup(flavor, true, "deadline = \"20s\"").await;
    let writer = Writer::start(s.cluster.vip_target());
    writer.wait_for_more(100, LONG).await;
    let _lock = block_applier(&s.cluster, "db2").await;
    writer.wait_for_more(20, LONG).await;
    let config = s.config.clone();
    let run = std::thread::spawn(move || {
        vipkeeper(&[
            "-c",
            config.to_str().unwrap(),
            "switchover",
            "main",
            "--to",
            "db2",
            "--yes",
        ])
    });
    // Writes stop on db1 within the first few hundred milliseconds; the
    // candidate then waits on its read lock until it dies.
    let deadline = std::time::Instant::now() + LONG;
    while !s.cluster.read_only("db1").await {
        assert!(
            std::time::Instant::now() < deadline,
            "db1 never turned read-only"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.cluster.node_mut("db2").kill9();
    let (code, out, err) = run.join().unwrap();
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("ROLLED BACK after step wait-reached on db2"),
        "{out}"
    );
    assert!(out.contains("db1 is the writable master again"), "{out}");
    assert_rolled_back(&s, &writer, &["db3"]).await;
    let writes = writer.stop().await;
    writes.assert_none_lost(s.cluster.node("db1")).await;
}

/// Also: Ctrl-C (SIGINT) while writes are blocked does not stop the command
/// half-way; it still rolls back.
async fn a_write_block_past_the_deadline_rolls_back(flavor: Flavor) {
    let s = setup(flavor, true, "deadline = \"1s\"").await;
    let writer = Writer::start(s.cluster.vip_target());
    writer.wait_for_more(100, LONG).await;
    let lock = block_applier(&s.cluster, "db2").await;
    writer.wait_for_more(20, LONG).await;
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_vipkeeper"))
        .args([
            "-c",
            s.config.to_str().unwrap(),
            "switchover",
            "main",
            "--to",
            "db2",
            "--yes",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + LONG;
    while !s.cluster.read_only("db1").await {
        assert!(
            std::time::Instant::now() < deadline,
            "db1 never turned read-only"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let output = child.wait_with_output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("the switchover is running and will not be interrupted"),
        "{err}"
    );
    assert!(
        out.contains("ROLLED BACK after step wait-reached on db2: writes have been blocked for 1s (switchover.deadline)"),
        "{out}"
    );
    assert_rolled_back(&s, &writer, &["db2", "db3"]).await;
    drop(lock);
    let writes = writer.stop().await;
    writes.assert_none_lost(s.cluster.node("db1")).await;
    s.cluster.wait_replicated(LONG).await.unwrap();
}

async fn a_long_running_transaction_fails_preflight_with_its_id_and_age(flavor: Flavor) {
    let s = setup(flavor, true, "max_transaction_age = \"1s\"").await;
    let mut trx = s.cluster.node("db1").root().await.unwrap();
    let id: u64 = trx
        .query_first("SELECT CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    trx.query_drop("BEGIN").await.unwrap();
    trx.query_drop("INSERT INTO app.w VALUES (-1, 0)")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;

    for extra in [&["--dry-run"][..], &[]] {
        let (code, out, err) = switchover(&s, extra);
        assert_eq!(code, 1, "{out}\n{err}");
        assert!(
            out.contains(&format!(
                "on db1: connection {id} has had a transaction open for "
            )),
            "{out}"
        );
        let age: u64 = out
            .split(&format!("connection {id} has had a transaction open for "))
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!((2..60).contains(&age), "age {age} s: {out}");
        assert!(
            out.contains("switchover refused: nothing was changed"),
            "{out}"
        );
    }
    assert!(!s.cluster.read_only("db1").await);
    assert_eq!(vip_port(&s.cluster), s.cluster.node("db1").port);
    trx.query_drop("ROLLBACK").await.unwrap();
    // INNODB_TRX is a cache InnoDB refreshes at most every 100 ms.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, out, _) = switchover(&s, &["--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("dry run: nothing was changed"), "{out}");
    assert!(
        out.contains("5. make db2 writable"),
        "the plan is shown: {out}"
    );
    // It describes a switchover from a live master, not a failover.
    assert!(
        out.contains("switchover of cluster main: db1 is alive and hands the master role over"),
        "{out}"
    );
    assert!(!out.contains("is dead"), "{out}");

    // Without --yes it asks, and with no terminal to ask on it does nothing.
    let (code, out, _) = vipkeeper(&["-c", s.config.to_str().unwrap(), "switchover", "main"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("not confirmed: standard input is not a terminal (pass --yes"),
        "{out}"
    );
    assert!(!s.cluster.read_only("db1").await);
}

/// Makes the VIP script fail (exit 1: abort) when asked to point at `node`,
/// after running `before` (shell); moving it anywhere else still works.
fn fail_vip_move_to(c: &TestCluster, node: &str, before: &str) {
    let hook = c.dir.join("vip-hook");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncase \"$*\" in *--new_master_port={}*) {before} exit 1;; esac\n",
            c.node(node).port
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// (step, outcome) of each step the report records, undo steps included.
fn steps_of(report: &serde_json::Value) -> Vec<(String, String)> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().into(),
                s["outcome"].as_str().unwrap().into(),
            )
        })
        .collect()
}

async fn a_vip_backend_failure_moves_the_vip_back_and_reattaches_the_candidate(flavor: Flavor) {
    let s = setup(flavor, true, "").await;
    let c = &s.cluster;
    fail_vip_move_to(c, "db2", "");
    let writer = Writer::start(c.vip_target());
    writer.wait_for_more(100, LONG).await;
    let (code, out, err) = switchover(&s, &["--to", "db2"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("ROLLED BACK after step move-vip on db2"),
        "{out}"
    );
    let steps = steps_of(&report_json(c));
    assert_eq!(
        steps
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect::<Vec<_>>(),
        [
            ("stop-writes", "ok"),
            ("wait-reached", "ok"),
            ("detach", "ok"),
            ("move-vip", "failed"),
            ("move-vip", "ok"),
            ("reattach", "ok"),
            ("make-writable", "ok"),
        ]
    );
    assert!(!c.read_only("db1").await, "db1 is writable again");
    assert!(c.read_only("db2").await, "db2 is read-only again");
    assert_eq!(vip_port(c), c.node("db1").port, "the VIP is back on db1");
    for n in ["db2", "db3"] {
        wait_replicating(c, n, "db1").await;
    }
    writer.wait_for_more(100, LONG).await;
    let writes = writer.stop().await;
    writes.assert_none_lost(c.node("db1")).await;
    c.wait_replicated(LONG).await.unwrap();
    assert_eq!(c.row_count("db2").await, c.row_count("db1").await);
    // No errant transaction on the re-attached candidate: the cluster is healthy.
    let (code, out, err) = vipkeeper(&["-c", s.config.to_str().unwrap(), "status"]);
    assert_eq!(code, 0, "{out}\n{err}");
}

async fn a_candidate_that_dies_after_detach_still_gives_the_writes_back_to_the_old_master(
    flavor: Flavor,
) {
    let s = setup(flavor, true, "").await;
    let c = &s.cluster;
    // Asked to point the VIP at db2, the script kills db2 and fails.
    let pid = c.node("db2").pid().unwrap();
    fail_vip_move_to(c, "db2", &format!("kill -9 {pid};"));
    let writer = Writer::start(c.vip_target());
    writer.wait_for_more(100, LONG).await;
    let (code, out, err) = switchover(&s, &["--to", "db2"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("FAILED at step move-vip on db2"), "{out}");
    assert!(
        out.contains("rolled back, except \"make db2 read-only and replicate from db1 again\""),
        "{out}"
    );
    assert!(out.contains("db1 is the writable master again"), "{out}");
    let steps = steps_of(&report_json(c));
    let tail: Vec<(&str, &str)> = steps[3..]
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        tail,
        [
            ("move-vip", "failed"),
            ("move-vip", "ok"),
            ("reattach", "failed"),
            ("make-writable", "ok"),
        ]
    );
    assert!(!c.read_only("db1").await, "db1 is writable again");
    assert_eq!(vip_port(c), c.node("db1").port, "the VIP is back on db1");
    wait_replicating(c, "db3", "db1").await;
    writer.wait_for_more(100, LONG).await;
    let writes = writer.stop().await;
    writes.assert_none_lost(c.node("db1")).await;
}

/// A switchover acts on every node: an admin login that fails on one of
/// them (here db3's account is locked) refuses it before anything changes.
async fn preflight_names_a_node_the_admin_user_cannot_log_in_to(flavor: Flavor) {
    let s = setup(flavor, true, "").await;
    let (open, close) = match flavor {
        Flavor::Mariadb => ("DO 0", "DO 0"),
        Flavor::Mysql => (
            "SET GLOBAL super_read_only=OFF",
            "SET GLOBAL super_read_only=ON",
        ),
    };
    s.cluster
        .node("db3")
        .exec(&[
            open,
            "SET sql_log_bin=0",
            &format!(
                "ALTER USER '{}'@'%' ACCOUNT LOCK",
                support::cluster::ADMIN_USER
            ),
            "SET sql_log_bin=1",
            close,
        ])
        .await
        .unwrap();
    let (code, out, err) = switchover(&s, &["--to", "db2"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "FAIL admin         the admin user {} cannot log in on db3:",
            support::cluster::ADMIN_USER
        )),
        "{out}"
    );
    assert!(
        out.contains("switchover refused: nothing was changed"),
        "{out}"
    );
    assert!(!s.cluster.read_only("db1").await);
    assert!(s.cluster.read_only("db2").await);
}

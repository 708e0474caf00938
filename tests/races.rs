//! Never two writers, never none: races between two actors on one cluster
//! (two managers on two hosts, two switchovers, the agent and a switchover),
//! each with a poller reading `@@read_only` on every node every ~2 ms.
//! Each race runs `VIPKEEPER_RACE_ROUNDS` times (default 3) on a fresh
//! cluster; `make races RACE_ROUNDS=20` is the longer run.

use vipkeeper_harness as support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::agent::Agent;
use support::poller::{Polled, WritablePoller};
use support::{per_flavor, ClusterSpec, ConfigExtras, Flavor, TestCluster};

per_flavor!(
    two_managers_failing_over_one_dead_master_never_make_two_writers,
    two_switchovers_to_different_targets_never_make_two_writers,
    the_agent_never_fences_the_master_a_switchover_made,
    the_agent_fences_nothing_while_another_actor_holds_the_cluster_lock,
    the_agent_restarts_no_io_thread_and_fails_nothing_over_while_another_actor_holds_the_cluster_lock,
);

const LONG: Duration = Duration::from_secs(40);

fn rounds() -> usize {
    std::env::var("VIPKEEPER_RACE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
}

/// A cluster and two configs, as two managers on two hosts would have them:
/// each its own state directory, `a_toml` / `b_toml` added to the cluster.
struct Two {
    cluster: TestCluster,
    a: PathBuf,
    b: PathBuf,
}

async fn two_managers(flavor: Flavor, a_toml: &str, b_toml: &str) -> Two {
    let mut spec = ClusterSpec::new(flavor);
    spec.semi_sync = true;
    let cluster = TestCluster::start(spec).await.unwrap();
    cluster.create_writer_table(LONG).await.unwrap();
    let vip = cluster.vip_script_toml().unwrap();
    let config = |extra: &str, name: &str| {
        let extras = ConfigExtras {
            cluster_toml: format!("{vip}\n{extra}"),
            ..Default::default()
        };
        let written = cluster.write_config_with("main", &extras).unwrap();
        let state = cluster.dir.join("state");
        let text = std::fs::read_to_string(&written).unwrap().replace(
            &state.display().to_string(),
            &format!("{}-{name}", state.display()),
        );
        let path = cluster.dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    };
    let a = config(a_toml, "a");
    let b = config(b_toml, "b");
    Two { cluster, a, b }
}

/// Runs both commands at once; (exit code, stdout + stderr) of each.
async fn at_once(
    a: (PathBuf, Vec<&'static str>),
    b: (PathBuf, Vec<&'static str>),
) -> [(i32, String); 2] {
    let run = |(config, args): (PathBuf, Vec<&'static str>)| {
        tokio::task::spawn_blocking(move || support::vipkeeper_on(&config, &args, &[]))
    };
    let (x, y) = tokio::join!(run(a), run(b));
    [x.unwrap(), y.unwrap()]
}

fn args(config: &Path, rest: &[&'static str]) -> (PathBuf, Vec<&'static str>) {
    (config.to_path_buf(), rest.to_vec())
}

/// Waits until no replica's IO thread is connected to the (killed) master.
async fn replicas_lost_master(c: &TestCluster) {
    let col = match c.spec.flavor {
        Flavor::Mariadb => "Slave_IO_Running",
        Flavor::Mysql => "Replica_IO_Running",
    };
    let deadline = std::time::Instant::now() + LONG;
    for r in ["db2", "db3"] {
        while c
            .node(r)
            .query_value(c.spec.flavor.replica_status_sql(), col)
            .await
            .unwrap()
            .as_deref()
            == Some("Yes")
        {
            assert!(std::time::Instant::now() < deadline, "{r} still connected");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn assert_one_writer(polled: &Polled, outputs: &[(i32, String)]) {
    assert!(polled.rounds > 10, "the poller hardly ran: {polled:?}");
    assert_eq!(
        polled.two_writer_rounds, 0,
        "two writable nodes ({:?}) in {} of {} polls\n{outputs:#?}",
        polled.first_two, polled.two_writer_rounds, polled.rounds
    );
    assert_eq!(
        polled.last_writable.len(),
        1,
        "writable at the end: {:?}\n{outputs:#?}",
        polled.last_writable
    );
}

/// How the loser was stopped, for the per-round line.
fn stopped_by(output: &str) -> &'static str {
    if output.contains("another vipkeeper holds the lock") {
        "the cluster lock"
    } else if output.contains("the cluster changed since it was looked at") {
        "compare after lock"
    } else if output.contains("left read-only rather than risk two writers") {
        "compare before writable"
    } else if output.contains("not failing over") {
        "saw the new master"
    } else if output.contains("switchover refused") {
        "preflight"
    } else {
        "other"
    }
}

/// One line per round (`--no-capture` shows them; `make races` keeps them).
fn say_round(race: &str, flavor: Flavor, round: usize, polled: &Polled, detail: &str) {
    eprintln!(
        "race {race} {} round {round}: {} polls, {} with two writers, writable at the end {:?}; {detail}",
        flavor.name(),
        polled.rounds,
        polled.two_writer_rounds,
        polled.last_writable
    );
}

/// The loser's output says what it found, in a sentence.
fn assert_says_why(output: &str) {
    let said = [
        "another vipkeeper holds the lock",
        "the cluster changed since it was looked at",
        "not failing over",
        "switchover refused",
        "left read-only rather than risk two writers",
    ];
    assert!(
        said.iter().any(|s| output.contains(s)),
        "no sentence saying why:\n{output}"
    );
}

async fn two_managers_failing_over_one_dead_master_never_make_two_writers(flavor: Flavor) {
    for round in 0..rounds() {
        let mut t = two_managers(
            flavor,
            "[cluster.failover]\nprefer = [\"db2\"]\n",
            "[cluster.failover]\nprefer = [\"db3\"]\n",
        )
        .await;
        let poller = WritablePoller::start(&t.cluster);
        t.cluster.node_mut("db1").kill9();
        replicas_lost_master(&t.cluster).await;
        let outputs = at_once(
            args(&t.a, &["failover", "main"]),
            args(&t.b, &["failover", "main"]),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let polled = poller.stop().await;
        assert_one_writer(&polled, &outputs);
        let winners: Vec<usize> = (0..2).filter(|i| outputs[*i].0 == 0).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outputs:#?}");
        let loser = &outputs[1 - winners[0]];
        assert_ne!(loser.0, 0);
        assert_says_why(&loser.1);
        // Refused, nothing done: no block period starts on the loser's host.
        let loser_state = t.cluster.dir.join(if winners[0] == 0 {
            "state-b"
        } else {
            "state-a"
        });
        assert!(
            !loser_state.join("main/last-failover.json").exists(),
            "a refused failover started a block period"
        );
        let expected = if winners[0] == 0 { "db2" } else { "db3" };
        assert_eq!(polled.last_writable, [expected], "{outputs:#?}");
        say_round(
            "two-managers",
            flavor,
            round,
            &polled,
            &format!(
                "winner promoted {expected}, loser stopped by {}",
                stopped_by(&loser.1)
            ),
        );
        // The winner's new master has every row and the other replica follows it.
        t.cluster
            .wait_replicated_from(expected, LONG)
            .await
            .unwrap();
    }
}

async fn two_switchovers_to_different_targets_never_make_two_writers(flavor: Flavor) {
    for round in 0..rounds() {
        let t = two_managers(flavor, "", "").await;
        let poller = WritablePoller::start(&t.cluster);
        let outputs = at_once(
            args(&t.a, &["switchover", "main", "--yes", "--to", "db2"]),
            args(&t.b, &["switchover", "main", "--yes", "--to", "db3"]),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let polled = poller.stop().await;
        assert_one_writer(&polled, &outputs);
        let winners: Vec<usize> = (0..2).filter(|i| outputs[*i].0 == 0).collect();
        assert!(
            !winners.is_empty(),
            "round {round}: nobody switched: {outputs:#?}"
        );
        for (code, out) in &outputs {
            if *code != 0 {
                assert_says_why(out);
                assert!(
                    !out.contains("ROLLED BACK")
                        || out
                            .contains("db1 is the writable master again; read back: db1 writable"),
                    "a rollback must say what it read back:\n{out}"
                );
            }
        }
        // The one that switched last decides the master.
        let last = if winners.len() == 2 {
            None
        } else if winners[0] == 0 {
            Some("db2")
        } else {
            Some("db3")
        };
        if let Some(m) = last {
            assert_eq!(polled.last_writable, [m], "round {round}: {outputs:#?}");
        }
        let master = polled.last_writable[0].clone();
        let losers: Vec<&str> = outputs
            .iter()
            .filter(|(c, _)| *c != 0)
            .map(|(_, o)| stopped_by(o))
            .collect();
        say_round(
            "two-switchovers",
            flavor,
            round,
            &polled,
            &format!(
                "{} switched, master {master}, other stopped by {losers:?}",
                winners.len()
            ),
        );
        t.cluster.wait_replicated_from(&master, LONG).await.unwrap();
    }
}

async fn the_agent_never_fences_the_master_a_switchover_made(flavor: Flavor) {
    for round in 0..rounds() {
        let mut spec = ClusterSpec::new(flavor);
        spec.semi_sync = true;
        let c = TestCluster::start(spec).await.unwrap();
        c.create_writer_table(LONG).await.unwrap();
        let extras = ConfigExtras {
            cluster_toml: format!(
                "{}\n[cluster.timing]\nprobe_interval = \"50ms\"\n",
                c.vip_script_toml().unwrap()
            ),
            ..Default::default()
        };
        let config = c.write_config_with("main", &extras).unwrap();
        // What an earlier failover away from db2, acknowledged, leaves in
        // the state directory: the agent once fenced db2 for it.
        let state = c.dir.join("state").join("main");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(
            state.join("last-failover.json"),
            r#"{"id":"main-old","at":1,"dead_master":"db2","new_master":"db1","outcome":"success","acked":true}"#,
        )
        .unwrap();
        // A slow VIP step, as an operator's script may be.
        let hook = c.dir.join("vip-hook");
        std::fs::write(&hook, "#!/bin/sh\nsleep 0.9\n").unwrap();
        std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let agent = Agent::start(env!("CARGO_BIN_EXE_vipkeeper").as_ref(), &config, &c.dir);
        agent.wait_for_log("healthy: db1 is the master", LONG);
        let poller = WritablePoller::start(&c);
        let out = at_once(
            args(&config, &["switchover", "main", "--yes", "--to", "db2"]),
            args(&config, &["status", "main"]),
        )
        .await;
        // The agent keeps looking for a while after the switch.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let polled = poller.stop().await;
        assert_eq!(
            out[0].0,
            0,
            "round {round}: {}\nagent log:\n{}",
            out[0].1,
            agent.log_text()
        );
        assert_one_writer(&polled, &out);
        assert_eq!(polled.last_writable, ["db2"], "{}", agent.log_text());
        assert!(
            !agent.log_text().contains("fenced"),
            "round {round}: the agent fenced:\n{}",
            agent.log_text()
        );
        say_round(
            "agent-and-switchover",
            flavor,
            round,
            &polled,
            "switched to db2, nothing fenced",
        );
    }
}

/// A fresh cluster and the agent watching it with `timing` ([cluster.timing] keys).
async fn cluster_with_agent(flavor: Flavor, timing: &str) -> (TestCluster, Agent) {
    let c = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let extras = ConfigExtras {
        cluster_toml: format!("[cluster.timing]\n{timing}"),
        ..Default::default()
    };
    let config = c.write_config_with("main", &extras).unwrap();
    let agent = Agent::start(env!("CARGO_BIN_EXE_vipkeeper").as_ref(), &config, &c.dir);
    agent.wait_for_log("healthy: db1 is the master", LONG);
    (c, agent)
}

/// Another actor's hold of the cluster lock on `node`, for as long as the
/// connection lives.
async fn hold_cluster_lock(c: &TestCluster, node: &str) -> mysql_async::Conn {
    use mysql_async::prelude::*;
    let mut holder = c.node(node).root().await.unwrap();
    let got: Option<u8> = holder
        .query_first("SELECT GET_LOCK('vipkeeper-main', 0)")
        .await
        .unwrap();
    assert_eq!(got, Some(1));
    holder
}

async fn the_agent_fences_nothing_while_another_actor_holds_the_cluster_lock(flavor: Flavor) {
    use mysql_async::prelude::*;
    let (c, agent) = cluster_with_agent(flavor, "probe_interval = \"50ms\"\n").await;
    // Another actor holds the cluster lock on db3 and has made db3 writable.
    let mut holder = hold_cluster_lock(&c, "db3").await;
    holder.query_drop(flavor.writable_sql()).await.unwrap();
    agent.wait_for_log(
        "not fencing now: another vipkeeper holds the lock vipkeeper-main on db3",
        LONG,
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!c.read_only("db3").await, "fenced while the lock was held");

    // Released: db3 is writable beside the master db1, and is fenced.
    holder.disconnect().await.unwrap();
    agent.wait_for_log("db3 was writable beside the master db1: fenced it", LONG);
    assert!(c.read_only("db3").await);
    assert!(
        !c.read_only("db1").await,
        "the master itself is never fenced"
    );
}

/// Found by `make races` under load: a probe of the master that timed out
/// made the agent restart replicas' IO threads in the middle of a
/// switchover's detach. Restarting is an action too: never under another's lock.
async fn the_agent_restarts_no_io_thread_and_fails_nothing_over_while_another_actor_holds_the_cluster_lock(
    flavor: Flavor,
) {
    let (c, agent) = cluster_with_agent(
        flavor,
        "probe_interval = \"300ms\"\nconnect_timeout = \"300ms\"\nquery_timeout = \"300ms\"\n",
    )
    .await;
    // MariaDB's replicas as if pointed by hand, with the server's default
    // heartbeat period (30 s), too rare to tell a silence: theirs would
    // have their IO threads restarted for evidence. MySQL's keep 0.5 s and
    // say they have heard nothing for two periods; the failover that
    // follows must not start either.
    if flavor == Flavor::Mariadb {
        for replica in ["db2", "db3"] {
            let sql = [
                "STOP SLAVE",
                "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=30",
                "START SLAVE",
            ];
            c.node(replica).exec(&sql).await.unwrap();
        }
    }
    let holder = hold_cluster_lock(&c, "db2").await;
    // The master hangs: its replicas hold silent connections.
    c.master().pause();
    let refused = match flavor {
        Flavor::Mariadb => {
            "not restarting IO threads now: another vipkeeper holds the lock vipkeeper-main on db2"
        }
        Flavor::Mysql => "another vipkeeper holds the lock vipkeeper-main on db2",
    };
    agent.wait_for_log(refused, LONG);
    let log = agent.log_text();
    assert!(!log.contains("restarted the IO thread"), "{log}");
    assert!(!log.contains("replaced db1"), "{log}");
    assert!(c.read_only("db2").await && c.read_only("db3").await);
    // The master back before the lock is let go: nothing to act on then.
    c.master().resume();
    agent.wait_for_log("healthy: db1 is the master", LONG);
    holder.disconnect().await.unwrap();
}

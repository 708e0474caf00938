//! Automatic and manual failover against real 3-node MariaDB 10.11 and
//! MySQL 9 clusters, with a client writing continuously and recording every
//! write the server acknowledged.

use vipkeeper_harness as support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use support::agent::Agent;
use support::proxy::Proxy;
use support::writer::Writer;
use support::{per_flavor, report_of, vipkeeper, ClusterSpec, ConfigExtras, Flavor, TestCluster};

per_flavor!(
    crash_with_semi_sync_loses_no_acknowledged_write,
    a_lagging_replica_is_not_chosen,
    a_preferred_replica_that_is_behind_is_caught_up_then_chosen,
    a_manager_cut_off_from_the_master_does_not_fail_over,
    a_manager_cut_off_from_an_idle_master_learns_the_replicas_still_hear_it_and_does_not_fail_over,
    a_sigstopped_master_is_failed_over_and_fenced_when_it_resumes,
    a_black_holed_master_is_confirmed_after_one_probe_timeout,
    a_black_holed_master_of_replicas_with_rare_heartbeats_is_confirmed_by_restarting_them,
    a_replica_with_errant_transactions_is_excluded_and_named,
    an_errant_replica_that_received_the_most_serves_the_catch_up_or_the_failover_is_refused,
    a_second_failure_within_the_block_period_waits_for_ack,
    a_candidate_killed_mid_recovery_fails_that_step_then_a_manual_failover_completes,
    dry_run_prints_the_plan_and_changes_nothing,
    file_position_replicas_are_repointed_to_the_promotion_position,
    a_file_position_failover_with_a_lagging_replica_promotes_the_most_advanced,
    a_replica_in_no_backslash_escapes_mode_is_repointed_with_a_backslash_password,
    a_replica_that_becomes_unreachable_is_logged_once,
    an_observe_only_agent_says_what_it_would_do_and_changes_nothing,
    a_lone_manager_killed_in_the_middle_of_a_failover_finishes_it_when_restarted,
);

const LONG: Duration = Duration::from_secs(40);

/// Short timings keep the timeout-based tests quick; crash detection does
/// not depend on them.
const FAST_TIMING: &str = "[cluster.timing]\nprobe_interval = \"300ms\"\nconnect_timeout = \"300ms\"\nquery_timeout = \"300ms\"\n";

struct Setup {
    cluster: TestCluster,
    config: PathBuf,
}

async fn setup(
    flavor: Flavor,
    semi_sync: bool,
    cluster_toml: &str,
    ports: &[(&str, u16)],
) -> Setup {
    let mut spec = ClusterSpec::new(flavor);
    spec.semi_sync = semi_sync;
    setup_spec(spec, cluster_toml, ports).await
}

async fn setup_spec(spec: ClusterSpec, cluster_toml: &str, ports: &[(&str, u16)]) -> Setup {
    let cluster = TestCluster::start(spec).await.unwrap();
    cluster.create_writer_table(LONG).await.unwrap();
    let extras = ConfigExtras {
        cluster_toml: format!("{}\n{cluster_toml}", cluster.vip_script_toml().unwrap()),
        agent_toml: cluster.notify_toml().unwrap(),
        ports: ports.iter().map(|(n, p)| (n.to_string(), *p)).collect(),
        ..Default::default()
    };
    let config = cluster.write_config_with("main", &extras).unwrap();
    Setup { cluster, config }
}

fn start_agent(s: &Setup) -> Agent {
    let agent = Agent::start(
        env!("CARGO_BIN_EXE_vipkeeper").as_ref(),
        &s.config,
        &s.cluster.dir,
    );
    agent.wait_for_log("healthy: db1 is the master", LONG);
    agent
}

async fn ids(c: &TestCluster, node: &str) -> BTreeSet<u64> {
    c.node(node)
        .query_column("SELECT id FROM app.w")
        .await
        .unwrap()
        .iter()
        .map(|i| i.parse().unwrap())
        .collect()
}

async fn checksum(c: &TestCluster, node: &str) -> String {
    c.node(node)
        .query_value("CHECKSUM TABLE app.w", "Checksum")
        .await
        .unwrap()
        .unwrap()
}

/// Who `node` replicates from, by port.
async fn source_port(c: &TestCluster, node: &str) -> Option<u16> {
    c.source_port(node).await.unwrap()
}

/// The report the notify command received, for a failover.
fn report(c: &TestCluster) -> serde_json::Value {
    let r = c.notified_report(LONG);
    let event = std::fs::read_to_string(c.dir.join("notified.event")).unwrap();
    assert_eq!(event.trim(), "failover", "VIPKEEPER_EVENT");
    r
}

/// `vipkeeper report JOURNAL --svg`: its summary, and the SVG, which must be
/// well-formed XML.
fn other_replica(new_master: &str) -> &'static str {
    if new_master == "db2" {
        "db3"
    } else {
        "db2"
    }
}

async fn crash_with_semi_sync_loses_no_acknowledged_write(flavor: Flavor) {
    let mut s = setup(flavor, true, "", &[]).await;
    let agent = start_agent(&s);
    let writer = Writer::start(s.cluster.vip_target());
    writer.wait_for_more(100, LONG).await;

    s.cluster.node_mut("db1").kill9();
    agent.wait_for_log("replaced db1", LONG);
    writer.wait_for_more(100, LONG).await;
    let writes = writer.stop().await;

    let new_master = s.cluster.vip_node();
    assert_ne!(new_master, "db1");
    assert!(
        !s.cluster.read_only(&new_master).await,
        "{new_master} is writable"
    );
    let other = other_replica(&new_master);
    assert!(s.cluster.read_only(other).await);
    assert_eq!(
        source_port(&s.cluster, other).await,
        Some(s.cluster.node(&new_master).port)
    );
    s.cluster
        .wait_replicated_from(&new_master, LONG)
        .await
        .unwrap();

    writes.assert_none_lost(s.cluster.node(&new_master)).await;
    assert_eq!(
        checksum(&s.cluster, &new_master).await,
        checksum(&s.cluster, other).await
    );

    let r = report(&s.cluster);
    assert_eq!(r["outcome"], "success");
    assert_eq!(r["new_master"], new_master.as_str());
    let journal = PathBuf::from(r["journal"].as_str().unwrap());
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert!(
        lines.lines().count() >= 5 && lines.contains("\"event\":\"end\""),
        "{lines}"
    );
    let (summary, svg) = report_of(journal.to_str().unwrap(), &s.cluster.dir);
    assert!(
        summary.contains(&format!("{new_master} replaced db1")),
        "{summary}"
    );
    // What vipkeeper wrote is its own: 0600 files in 0700 directories.
    let state = s.cluster.dir.join("state").join("main");
    let report_file = state
        .join("reports")
        .join(journal.file_stem().unwrap())
        .with_extension("json");
    for (path, want) in [
        (state.clone(), 0o700),
        (state.join("journal"), 0o700),
        (state.join("reports"), 0o700),
        (journal.clone(), 0o600),
        (report_file, 0o600),
        (state.join("lock"), 0o600),
        (state.join("master.json"), 0o600),
        (state.join("last-failover.json"), 0o600),
    ] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, want, "{} is {mode:o}", path.display());
    }
    for step in [
        format!("make {new_master} writable"),
        "move the VIP from db1".to_string(),
        format!("repoint {other} to {new_master}"),
    ] {
        assert!(svg.contains(&step), "the SVG lacks {step:?}");
    }
}

/// Stops `node`'s IO thread and lets the master write on without it.
async fn leave_behind(c: &TestCluster, node: &str) {
    c.node(node)
        .exec(&[c.spec.flavor.stop_io_thread_sql()])
        .await
        .unwrap();
    for i in 0..30 {
        c.master()
            .exec(&[&format!("INSERT INTO app.w VALUES ({}, 0)", 1_000_000 + i)])
            .await
            .unwrap();
    }
    // The other replica has everything.
    let (file, pos) = c.binlog_position(c.master()).await.unwrap();
    let keep = other_replica(node);
    for _ in 0..2000 {
        if c.executed_position(c.node(keep)).await.unwrap() == Some((file.clone(), pos)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{keep} did not receive the writes");
}

async fn a_lagging_replica_is_not_chosen(flavor: Flavor) {
    let mut s = setup(flavor, false, "", &[]).await;
    leave_behind(&s.cluster, "db2").await;
    let agent = start_agent(&s);
    s.cluster.node_mut("db1").kill9();
    agent.wait_for_log("replaced db1", LONG);
    assert_eq!(s.cluster.vip_node(), "db3");
    assert!(!s.cluster.read_only("db3").await);
    // db2 was repointed and caught up from db3.
    s.cluster.wait_replicated_from("db3", LONG).await.unwrap();
    assert_eq!(ids(&s.cluster, "db2").await.len(), 30);
    let r = report(&s.cluster);
    let db2 = r["considered"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "db2")
        .unwrap();
    assert_eq!(db2["verdict"], "eligible");
    assert_eq!(db2["behind"], true);
}

async fn a_preferred_replica_that_is_behind_is_caught_up_then_chosen(flavor: Flavor) {
    let mut s = setup(
        flavor,
        false,
        "[cluster.failover]\nprefer = [\"db2\"]\n",
        &[],
    )
    .await;
    leave_behind(&s.cluster, "db2").await;
    let agent = start_agent(&s);
    s.cluster.node_mut("db1").kill9();
    agent.wait_for_log("replaced db1", LONG);
    assert_eq!(s.cluster.vip_node(), "db2");
    assert!(!s.cluster.read_only("db2").await);
    assert_eq!(
        ids(&s.cluster, "db2").await.len(),
        30,
        "db2 caught up before promotion"
    );
    assert_eq!(
        source_port(&s.cluster, "db3").await,
        Some(s.cluster.node("db2").port)
    );
    let r = report(&s.cluster);
    assert!(
        r["why"]
            .as_str()
            .unwrap()
            .starts_with("preferred; first caught up from db3"),
        "{r}"
    );
    let steps: Vec<&str> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps[..3], ["fence-old-master", "wait-applied", "catch-up"]);
}

/// A cluster whose agent reaches db1 only through a proxy; the replicas go
/// direct.
async fn behind_a_proxy(flavor: Flavor) -> (Setup, Proxy) {
    let s = setup(flavor, false, FAST_TIMING, &[]).await;
    let proxy = Proxy::start(s.cluster.master().port).await;
    let extras = ConfigExtras {
        cluster_toml: format!("{}\n{FAST_TIMING}", s.cluster.vip_script_toml().unwrap()),
        agent_toml: s.cluster.notify_toml().unwrap(),
        ports: [("db1".to_string(), proxy.port)].into_iter().collect(),
        ..Default::default()
    };
    let config = s.cluster.write_config_with("main", &extras).unwrap();
    let s = Setup {
        cluster: s.cluster,
        config,
    };
    (s, proxy)
}

async fn a_manager_cut_off_from_the_master_does_not_fail_over(flavor: Flavor) {
    let (s, proxy) = behind_a_proxy(flavor).await;
    let agent = start_agent(&s);
    let writer = Writer::start(s.cluster.vip_target());
    writer.wait_for_more(20, LONG).await;

    proxy.partition();
    agent.wait_for_log("the manager may be the one cut off", LONG);
    // Keep watching for a while: it must say so every tick and never act.
    let before = agent.count_in_log("the manager may be the one cut off");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        agent.count_in_log("the manager may be the one cut off") > before,
        "{}",
        agent.log_text()
    );
    assert!(
        !agent.log_text().contains("failover plan"),
        "{}",
        agent.log_text()
    );
    assert!(!s.cluster.read_only("db1").await);
    assert!(s.cluster.read_only("db2").await && s.cluster.read_only("db3").await);
    writer.wait_for_more(20, LONG).await;

    proxy.heal();
    let healthy = agent.count_in_log("healthy: db1 is the master");
    for _ in 0..200 {
        if agent.count_in_log("healthy: db1 is the master") > healthy {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        agent.count_in_log("healthy: db1 is the master") > healthy,
        "{}",
        agent.log_text()
    );
    writer.stop().await;
}

/// The same with no client writing: the replicas receive no events either,
/// but they still hear db1's heartbeats (every 0.5 s: MySQL says when it
/// last heard one, MariaDB's count keeps moving), so nothing is restarted
/// and the agent does not act.
async fn a_manager_cut_off_from_an_idle_master_learns_the_replicas_still_hear_it_and_does_not_fail_over(
    flavor: Flavor,
) {
    let (s, proxy) = behind_a_proxy(flavor).await;
    let agent = start_agent(&s);
    let poller = support::poller::WritablePoller::start(&s.cluster);
    proxy.partition();
    agent.wait_for_log("the manager may be the one cut off", LONG);
    // Several probe intervals later: never acted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = agent.log_text();
    assert!(!log.contains("failover plan"), "{log}");
    assert!(log.contains("db2, db3 still receive(s) from it"), "{log}");
    assert!(!log.contains("restarted the IO thread"), "{log}");
    for replica in ["db2", "db3"] {
        assert_eq!(
            source_port(&s.cluster, replica).await,
            Some(s.cluster.node("db1").port),
            "{replica}"
        );
    }
    let polled = poller.stop().await;
    assert_eq!(polled.two_writer_rounds, 0, "{polled:?}");
    assert_eq!(polled.last_writable, ["db1".to_string()], "{polled:?}");
    proxy.heal();
}

/// Everything reaches db1 through one proxy (manager, replicas, client),
/// which stops forwarding: one failed probe and the replicas' fresh
/// evidence confirm the death: they have heard nothing from db1 for two
/// heartbeat periods (MySQL says when it last heard; MariaDB's count of
/// heartbeats stood still), and no IO thread was restarted.
async fn a_black_holed_master_is_confirmed_after_one_probe_timeout(flavor: Flavor) {
    let (_cluster, log) = black_holed(flavor, None).await;
    let dead = dead_line(&log);
    assert!(
        dead.contains("no replica has heard from it for two heartbeat periods"),
        "{log}"
    );
    assert!(!log.contains("restarted the IO thread"), "{log}");
}

/// Replicas pointed by hand keep the servers' default heartbeat period
/// (30 s), too rare to tell a silence: their IO threads are restarted, and
/// none connecting again is the evidence.
async fn a_black_holed_master_of_replicas_with_rare_heartbeats_is_confirmed_by_restarting_them(
    flavor: Flavor,
) {
    let (_cluster, log) = black_holed(flavor, Some(30)).await;
    let dead = dead_line(&log);
    assert!(
        dead.contains("no replica could connect to it again after its IO thread was restarted"),
        "{dead}"
    );
    for replica in ["db2", "db3"] {
        assert!(
            log.contains(&format!("restarted the IO thread of {replica}")),
            "{log}"
        );
    }
}

fn dead_line(log: &str) -> String {
    log.lines()
        .find(|l| l.contains("master db1 is dead"))
        .unwrap_or_else(|| panic!("{log}"))
        .to_string()
}

/// db1 black-holed behind a proxy (replicas, manager and client all reach
/// it through it, the replicas with `heartbeat` seconds between
/// heartbeats when given) with a client writing: the agent replaces db1
/// after one failed probe, no acknowledged write is lost; the agent's log.
async fn black_holed(flavor: Flavor, heartbeat: Option<u32>) -> (Setup, String) {
    let s = setup(flavor, true, "", &[]).await;
    let proxy = Proxy::start(s.cluster.master().port).await;
    let mut extras = ConfigExtras {
        cluster_toml: s.cluster.vip_script_toml().unwrap(),
        agent_toml: s.cluster.notify_toml().unwrap(),
        ..Default::default()
    };
    s.cluster
        .master_through(proxy.port, &mut extras)
        .await
        .unwrap();
    let config = s.cluster.write_config_with("main", &extras).unwrap();
    let s = Setup {
        cluster: s.cluster,
        config,
    };
    if let Some(period) = heartbeat {
        let change = match flavor {
            Flavor::Mariadb => format!("CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD={period}"),
            Flavor::Mysql => {
                format!("CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD={period}")
            }
        };
        for replica in ["db2", "db3"] {
            let sql = [
                flavor.stop_replica_sql(),
                &change,
                flavor.start_replica_sql(),
            ];
            s.cluster.node(replica).exec(&sql).await.unwrap();
        }
    }
    let agent = start_agent(&s);
    let writer = Writer::start(s.cluster.vip_target());
    writer.wait_for_more(50, LONG).await;
    s.cluster.wait_replicated(LONG).await.unwrap();

    proxy.partition();
    agent.wait_for_log("replaced db1", LONG);
    writer.wait_for_more(20, LONG).await;
    let log = agent.log_text();
    let new_master = s.cluster.vip_node();
    let writes = writer.stop().await;
    writes.assert_none_lost(s.cluster.node(&new_master)).await;
    proxy.heal();
    if flavor == Flavor::Mariadb {
        // Lowered around each stop of a semi-sync replica (its kill of the
        // dead source's connection), then put back to the server default.
        for node in ["db2", "db3"] {
            let sql = "SELECT @@GLOBAL.rpl_semi_sync_slave_kill_conn_timeout AS t";
            let t = s.cluster.node(node).query_value(sql, "t").await.unwrap();
            assert_eq!(t.as_deref(), Some("5"), "{node}");
        }
    }
    (s, log)
}

async fn a_sigstopped_master_is_failed_over_and_fenced_when_it_resumes(flavor: Flavor) {
    let s = setup(flavor, true, FAST_TIMING, &[]).await;
    let agent = start_agent(&s);
    let writer = Writer::start(s.cluster.vip_target());
    writer.wait_for_more(50, LONG).await;

    s.cluster.master().pause();
    agent.wait_for_log("replaced db1", LONG);
    writer.wait_for_more(50, LONG).await;
    let new_master = s.cluster.vip_node();
    assert_ne!(new_master, "db1");

    s.cluster.master().resume();
    agent.wait_for_log(
        &format!("db1 was writable beside the master {new_master}: fenced it"),
        LONG,
    );
    assert!(
        s.cluster.read_only("db1").await,
        "the old master is read-only"
    );
    let writes = writer.stop().await;
    writes.assert_none_lost(s.cluster.node(&new_master)).await;
}

async fn a_replica_with_errant_transactions_is_excluded_and_named(flavor: Flavor) {
    let mut s = setup(flavor, false, "", &[]).await;
    let writable = flavor.writable_sql();
    s.cluster
        .node("db2")
        .exec(&[
            writable,
            "CREATE DATABASE errant_db",
            flavor.read_only_sql(),
        ])
        .await
        .unwrap();
    let agent = start_agent(&s);
    s.cluster.node_mut("db1").kill9();
    agent.wait_for_log("replaced db1", LONG);
    assert_eq!(s.cluster.vip_node(), "db3");
    let r = report(&s.cluster);
    let db2 = r["considered"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "db2")
        .unwrap();
    assert_eq!(db2["verdict"], "excluded");
    assert!(
        db2["reason"]
            .as_str()
            .unwrap()
            .starts_with("has errant transactions"),
        "{db2}"
    );
    let not_repointed = r["not_repointed"].as_array().unwrap();
    assert_eq!(not_repointed[0][0], "db2", "{r}");
    // Left alone: still pointing at the dead master.
    assert_eq!(
        source_port(&s.cluster, "db2").await,
        Some(s.cluster.node("db1").port)
    );
}

/// The errant replica is also the one that received the most (the other's
/// IO thread stopped while the client wrote, under semi-sync). MySQL: db3
/// is caught up from db2 — db2's errant transaction marked done (empty) on
/// db3 first, so it is not copied — and promoted: every acknowledged
/// write is on it, the errant database nowhere new. MariaDB cannot mark
/// another server's transaction done (and its strict GTID mode has
/// stopped db2's SQL thread): the failover is refused, and says why,
/// rather than promote a replica that lacks acknowledged writes.
async fn an_errant_replica_that_received_the_most_serves_the_catch_up_or_the_failover_is_refused(
    flavor: Flavor,
) {
    let mut s = setup(flavor, true, "", &[]).await;
    let db2 = s.cluster.node("db2");
    db2.exec(&[
        flavor.writable_sql(),
        "CREATE DATABASE errant_db",
        flavor.read_only_sql(),
    ])
    .await
    .unwrap();
    s.cluster
        .node("db3")
        .exec(&[flavor.stop_io_thread_sql()])
        .await
        .unwrap();
    let agent = start_agent(&s);
    let writer = Writer::start(s.cluster.vip_target());
    writer.wait_for_more(50, LONG).await;
    s.cluster.node_mut("db1").kill9();
    match flavor {
        Flavor::Mysql => {
            agent.wait_for_log("replaced db1", LONG);
            assert_eq!(s.cluster.vip_node(), "db3");
            writer.wait_for_more(20, LONG).await;
            let writes = writer.stop().await;
            writes.assert_none_lost(s.cluster.node("db3")).await;
            let log = agent.log_text();
            assert!(
                log.contains("errant transactions")
                    && log.contains("marked done (empty) on db3 first"),
                "{log}"
            );
            let errant = s
                .cluster
                .node("db3")
                .query_column("SHOW DATABASES LIKE 'errant_db'")
                .await
                .unwrap();
            assert!(errant.is_empty(), "the errant database was copied to db3");
        }
        Flavor::Mariadb => {
            agent.wait_for_log(
                "db2 received the most but cannot be promoted nor serve as catch-up source",
                LONG,
            );
            let _ = writer.stop().await;
            for node in ["db2", "db3"] {
                assert!(s.cluster.read_only(node).await, "{node} made writable");
            }
        }
    }
}

async fn a_second_failure_within_the_block_period_waits_for_ack(flavor: Flavor) {
    let mut s = setup(flavor, false, "", &[]).await;
    let agent = start_agent(&s);
    s.cluster.node_mut("db1").kill9();
    agent.wait_for_log("replaced db1", LONG);
    let first = s.cluster.vip_node();
    let last = other_replica(&first);
    agent.wait_for_log(&format!("healthy: {first} is the master"), LONG);

    s.cluster.node_mut(&first).kill9();
    agent.wait_for_log("within the block period", LONG);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        s.cluster.read_only(last).await,
        "no automatic failover before ack"
    );
    assert!(!agent.log_text().contains(&format!("replaced {first}")));

    let (code, out, err) = vipkeeper(&["-c", s.config.to_str().unwrap(), "ack", "main"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("acknowledged failover main-"), "{out}");
    agent.wait_for_log(&format!("replaced {first}"), LONG);
    assert!(!s.cluster.read_only(last).await);
    assert_eq!(s.cluster.vip_node(), last);
}

async fn a_candidate_killed_mid_recovery_fails_that_step_then_a_manual_failover_completes(
    flavor: Flavor,
) {
    let mut s = setup(flavor, false, "", &[]).await;
    // The VIP step runs after the candidate was detached, before it is made
    // writable: kill the candidate there, once.
    let pids: String = s
        .cluster
        .servers
        .iter()
        .map(|x| format!("{} {}\n", x.port, x.pid().unwrap()))
        .collect();
    let d = s.cluster.dir.display().to_string();
    std::fs::write(format!("{d}/pids"), pids).unwrap();
    let hook = format!(
        "#!/bin/sh\n[ -e {d}/hook-done ] && exit 0\ntouch {d}/hook-done\n\
         for a in \"$@\"; do case \"$a\" in --new_master_port=*) port=\"${{a#*=}}\";; esac; done\n\
         kill -9 $(awk -v p=\"$port\" '$1 == p {{print $2}}' {d}/pids)\n"
    );
    std::fs::write(format!("{d}/vip-hook"), hook).unwrap();
    std::fs::set_permissions(
        format!("{d}/vip-hook"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    s.cluster.node_mut("db1").kill9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let config = s.config.to_str().unwrap().to_string();
    let (code, out, err) = vipkeeper(&["-c", &config, "failover", "main"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("FAILED at step make-writable on db2"), "{out}");
    assert!(out.contains("what to do:"), "{out}");
    let journal = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("journal: "))
        .unwrap()
        .to_string();
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert!(lines.contains("\"outcome\":\"failed\""), "{lines}");
    let (summary, svg) = report_of(&journal, &s.cluster.dir);
    assert!(
        summary.contains(": failed") && summary.contains("at step make-writable on db2"),
        "{summary}"
    );
    assert!(svg.contains("make db2 writable") && svg.contains("detached, read-only"));
    assert!(s.cluster.read_only("db3").await);
    s.cluster.node_mut("db2").kill9(); // reap: the hook killed it

    let (code, out, err) = vipkeeper(&["-c", &config, "failover", "main"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("db3 replaced db1"), "{out}");
    assert!(!s.cluster.read_only("db3").await);
    assert_eq!(s.cluster.vip_node(), "db3");
}

async fn dry_run_prints_the_plan_and_changes_nothing(flavor: Flavor) {
    let mut s = setup(
        flavor,
        false,
        "[cluster.failover]\nnever_promote = [\"db2\"]\n",
        &[],
    )
    .await;
    let config = s.config.to_str().unwrap().to_string();

    let (code, out, err) = vipkeeper(&["-c", &config, "failover", "main", "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("db1 is alive: this is what a failover would do now"),
        "{out}"
    );
    assert!(out.contains("candidate: db3 (received the most)"), "{out}");
    assert!(
        out.contains("excluded: configured never to be promoted"),
        "{out}"
    );
    assert!(out.contains("1. fence db1 if reachable"), "{out}");
    assert!(out.contains("move the VIP from db1 to db3"), "{out}");
    assert!(
        out.contains("repoint db2 to db3 and verify it replicates"),
        "{out}"
    );

    let (code, out, _) = vipkeeper(&["-c", &config, "failover", "main"]);
    assert_eq!(code, 1, "a live master is not failed over: {out}");
    assert!(
        out.contains("not failing over: healthy: db1 is the master") && out.contains("switchover"),
        "{out}"
    );

    s.cluster.node_mut("db1").kill9();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, out, _) = vipkeeper(&["-c", &config, "failover", "main", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("db1 is dead: connection refused"), "{out}");
    assert!(
        out.contains("failover of cluster main: db1 is dead\ncandidate: "),
        "the plan says what kind it is: {out}"
    );
    assert!(
        s.cluster.read_only("db3").await && s.cluster.read_only("db2").await,
        "nothing changed"
    );
    assert_eq!(s.cluster.vip_node(), "db1");

    // db3's SQL thread stops: db2 may not be promoted, db3 cannot be. Refused.
    let stop_sql = match flavor {
        Flavor::Mariadb => "STOP SLAVE SQL_THREAD",
        Flavor::Mysql => "STOP REPLICA SQL_THREAD",
    };
    s.cluster.node("db3").exec(&[stop_sql]).await.unwrap();
    let (code, out, _) = vipkeeper(&["-c", &config, "failover", "main"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("REFUSED (nothing was changed): every reachable replica is excluded"),
        "{out}"
    );
    let journal = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("journal: "))
        .unwrap()
        .to_string();
    let (summary, svg) = report_of(&journal, &s.cluster.dir);
    assert!(
        summary.contains(": refused") && summary.contains("every reachable replica is excluded"),
        "{summary}"
    );
    assert!(svg.contains("unchanged"));
}

async fn file_position_replicas_are_repointed_to_the_promotion_position(flavor: Flavor) {
    let mut spec = ClusterSpec::new(flavor);
    spec.gtid = false;
    let mut s = setup_spec(spec, "", &[]).await;
    for i in 0..20 {
        s.cluster
            .master()
            .exec(&[&format!("INSERT INTO app.w VALUES ({i}, 0)")])
            .await
            .unwrap();
    }
    s.cluster.wait_replicated(LONG).await.unwrap();
    s.cluster.node_mut("db1").kill9();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let config = s.config.to_str().unwrap().to_string();
    let (code, out, err) = vipkeeper(&["-c", &config, "failover", "main"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("db2 replaced db1"), "{out}");
    // db3 replicates from db2 by file and position, and gets new writes.
    assert_eq!(
        source_port(&s.cluster, "db3").await,
        Some(s.cluster.node("db2").port)
    );
    s.cluster
        .node("db2")
        .exec(&["INSERT INTO app.w VALUES (100, 0)"])
        .await
        .unwrap();
    s.cluster.wait_replicated_from("db2", LONG).await.unwrap();
    assert_eq!(ids(&s.cluster, "db3").await.len(), 21);
    assert_eq!(
        checksum(&s.cluster, "db2").await,
        checksum(&s.cluster, "db3").await
    );
}

/// MHA users' layout: file/position replication, one replica's IO thread
/// stopped before the master dies. Promoting the replica that received the
/// most loses nothing, so the failover goes ahead: on MariaDB the lagging
/// replica is repointed exactly by its GTID position; on MySQL without
/// GTIDs it is stopped and named with what to do.
async fn a_file_position_failover_with_a_lagging_replica_promotes_the_most_advanced(
    flavor: Flavor,
) {
    let mut spec = ClusterSpec::new(flavor);
    spec.gtid = false;
    spec.semi_sync = true;
    let mut s = setup_spec(spec, "", &[]).await;
    // db2 stops receiving; db1 and db3 go on (30 rows, then the client's).
    leave_behind(&s.cluster, "db2").await;
    let writer = Writer::start(s.cluster.vip_target());
    writer.wait_for_more(50, LONG).await;
    let agent = start_agent(&s);
    s.cluster.node_mut("db1").kill9();
    agent.wait_for_log("replaced db1", LONG);
    writer.wait_for_more(50, LONG).await;
    let writes = writer.stop().await;

    assert_eq!(
        s.cluster.vip_node(),
        "db3",
        "the one that received the most"
    );
    assert!(!s.cluster.read_only("db3").await);
    writes.assert_none_lost(s.cluster.node("db3")).await;
    let r = report(&s.cluster);
    assert_eq!(r["outcome"], "success", "{r}");
    let db2_step = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["node"] == "db2")
        .cloned()
        .unwrap_or_default();
    match flavor {
        Flavor::Mariadb => {
            assert_eq!(db2_step["step"], "repoint", "{r}");
            assert!(
                db2_step["detail"]
                    .as_str()
                    .unwrap()
                    .contains("by GTID (master_use_gtid=slave_pos"),
                "{db2_step}"
            );
            s.cluster.wait_replicated_from("db3", LONG).await.unwrap();
            assert_eq!(
                checksum(&s.cluster, "db2").await,
                checksum(&s.cluster, "db3").await
            );
        }
        Flavor::Mysql => {
            assert_eq!(db2_step["step"], "stop-replication", "{r}");
            let named = r["not_repointed"].as_array().unwrap();
            assert_eq!(named[0][0], "db2", "{r}");
            assert!(
                named[0][1]
                    .as_str()
                    .unwrap()
                    .starts_with("received less than db3"),
                "{r}"
            );
            assert_eq!(
                s.cluster
                    .node("db2")
                    .query_value(flavor.replica_status_sql(), "Replica_SQL_Running")
                    .await
                    .unwrap()
                    .as_deref(),
                Some("No"),
                "db2 is left stopped"
            );
        }
    }
}

/// A backslash and a quote in the replication password, and a replica whose
/// sql_mode has NO_BACKSLASH_ESCAPES: the repointed replica logs in.
async fn a_replica_in_no_backslash_escapes_mode_is_repointed_with_a_backslash_password(
    flavor: Flavor,
) {
    use mysql_async::prelude::*;
    use vipkeeper::mysql::admin::{quote_in, Quoting};
    let mut s = setup(flavor, false, "", &[]).await;
    let password = "Repl\\pw'x\\0";
    for server in &s.cluster.servers {
        let (open, close) = match (flavor, server.name.as_str()) {
            (Flavor::Mysql, "db2" | "db3") => (
                "SET GLOBAL super_read_only=OFF",
                "SET GLOBAL super_read_only=ON",
            ),
            _ => ("DO 0", "DO 0"),
        };
        server
            .exec(&[
                open,
                "SET sql_log_bin=0",
                &format!(
                    "ALTER USER '{}'@'%' IDENTIFIED BY {}",
                    support::cluster::REPL_USER,
                    quote_in(password, Quoting::Backslash)
                ),
                "SET sql_log_bin=1",
                close,
            ])
            .await
            .unwrap();
        // The quoting reads back as the password in both modes.
        let mut conn = server.root().await.unwrap();
        for (mode, quoting) in [
            ("''", Quoting::Backslash),
            ("'NO_BACKSLASH_ESCAPES'", Quoting::NoBackslashEscapes),
        ] {
            conn.query_drop(format!("SET SESSION sql_mode={mode}"))
                .await
                .unwrap();
            let back: Option<String> = conn
                .query_first(format!("SELECT {}", quote_in(password, quoting)))
                .await
                .unwrap();
            assert_eq!(back.as_deref(), Some(password), "{mode}");
        }
        conn.disconnect().await.unwrap();
    }
    support::cluster::write_secret(
        &s.cluster.dir.join("secrets/replication.password"),
        password,
    )
    .unwrap();
    s.cluster
        .node("db3")
        .exec(&["SET GLOBAL sql_mode=CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')"])
        .await
        .unwrap();
    s.cluster.node_mut("db1").kill9();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let config = s.config.to_str().unwrap().to_string();
    let (code, out, err) = vipkeeper(&["-c", &config, "failover", "main"]);
    assert_eq!(code, 0, "{out}\n{err}");
    s.cluster
        .node("db2")
        .exec(&["INSERT INTO app.w VALUES (7, 0)"])
        .await
        .unwrap();
    s.cluster.wait_replicated_from("db2", LONG).await.unwrap();
    assert_eq!(
        ids(&s.cluster, "db3").await.len(),
        1,
        "db3 logged in to db2"
    );
}

async fn a_replica_that_becomes_unreachable_is_logged_once(flavor: Flavor) {
    let mut s = setup(flavor, false, FAST_TIMING, &[]).await;
    let agent = start_agent(&s);
    s.cluster.node_mut("db3").kill9();
    agent.wait_for_log("unreachable: db3 (connection refused", LONG);
    // Several ticks later: said once, not every tick.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        agent.count_in_log("unreachable: db3"),
        1,
        "{}",
        agent.log_text()
    );
    assert!(!agent.log_text().contains("failover plan"));
}

/// `observe_only = true` (beside another manager, e.g. MHA while
/// migrating): a node writable beside the master and a dead master are each
/// reported with what the agent would do, and nothing changes: no fencing,
/// no promotion, replication and the VIP left where they are.
async fn an_observe_only_agent_says_what_it_would_do_and_changes_nothing(flavor: Flavor) {
    let mut s = setup(flavor, false, "", &[]).await;
    let text = std::fs::read_to_string(&s.config).unwrap();
    let observing = text.replacen(
        "name = \"main\"\n",
        "name = \"main\"\nobserve_only = true\n",
        1,
    );
    assert_ne!(
        text, observing,
        "the cluster's name line is where the harness writes it"
    );
    std::fs::write(&s.config, observing).unwrap();
    let (code, out, err) = vipkeeper(&["-c", s.config.to_str().unwrap(), "check", "--offline"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains("observe-only"), "{out}{err}");
    let agent = start_agent(&s);

    s.cluster
        .node("db3")
        .exec(&["SET GLOBAL read_only=OFF"])
        .await
        .unwrap();
    agent.wait_for_log(
        "observe-only: db3 writable beside the master db1: would fence",
        LONG,
    );
    assert!(!s.cluster.read_only("db3").await, "db3 was left as it was");
    s.cluster
        .node("db3")
        .exec(&[flavor.read_only_sql()])
        .await
        .unwrap();

    let db1 = s.cluster.node("db1").port;
    s.cluster.node_mut("db1").kill9();
    agent.wait_for_log(
        "observe-only: master db1 is dead; would run this plan",
        LONG,
    );
    assert!(
        agent.log_text().contains("candidate: db"),
        "{}",
        agent.log_text()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    for replica in ["db2", "db3"] {
        assert!(
            s.cluster.read_only(replica).await,
            "{replica} was made writable"
        );
        assert_eq!(
            source_port(&s.cluster, replica).await,
            Some(db1),
            "{replica} was repointed"
        );
    }
    assert_eq!(s.cluster.vip_node(), "db1", "the VIP was moved");
    assert!(!agent.log_text().contains("replaced db1"));
}

/// A lone manager (no etcd) records its failover step by step in its state
/// directory. Killed right after detaching the candidate (a test hook
/// pauses it there) and started again, as systemd would, it finishes that
/// failover from its record: the same candidate, the detachment not done
/// again, exactly one promotion, the VIP on the new master, no
/// acknowledged (semi-sync) write lost, never two writable nodes.
async fn a_lone_manager_killed_in_the_middle_of_a_failover_finishes_it_when_restarted(
    flavor: Flavor,
) {
    let mut s = setup(flavor, true, "", &[]).await;
    let bin: &std::path::Path = env!("CARGO_BIN_EXE_vipkeeper").as_ref();
    let pause = [("VIPKEEPER_TEST_PAUSE_AFTER_STEP", "detach")];
    let first = Agent::start_with(bin, &s.config, &s.cluster.dir, None, "agent", &[], &pause);
    first.wait_for_log("healthy: db1 is the master", LONG);
    let writer = Writer::start(s.cluster.vip_target());
    writer.wait_for_more(100, LONG).await;
    let poller = support::poller::WritablePoller::start(&s.cluster);

    s.cluster.node_mut("db1").kill9();
    first.wait_for_log("test hook: pausing after step detach", LONG);
    let record_path = s.cluster.dir.join("state/main/in-flight.json");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    assert!(record.get("outcome").is_none(), "{record}");
    let done: Vec<&str> = record["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["step"].as_str().unwrap())
        .collect();
    assert_eq!(done.last(), Some(&"detach"), "{record}");
    let mode = std::fs::metadata(&record_path).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077,
        0,
        "private"
    );
    let candidate = record["plan"]["candidate"].as_str().unwrap().to_string();
    assert!(s.cluster.read_only(&candidate).await, "promoted already");

    first.signal(nix::sys::signal::Signal::SIGKILL);
    let next = Agent::start_in(bin, &s.config, &s.cluster.dir, None, "agent-2", &[]);
    next.wait_for_log("finishing failover", LONG);
    next.wait_for_log("replaced db1", LONG);
    writer.wait_for_more(100, LONG).await;
    let log = next.log_text();
    assert!(
        log.contains("stop and reset replication") && log.contains("done by"),
        "the detachment is not done again: {log}"
    );
    let ended: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    assert_eq!(ended["outcome"]["outcome"], "success", "{ended}");
    assert_eq!(ended["plan"]["candidate"], candidate.as_str(), "{ended}");
    let promoted = ended["done"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["step"] == "make-writable")
        .count();
    assert_eq!(promoted, 1, "{ended}");

    let (writes, polled) = (writer.stop().await, poller.stop().await);
    assert_eq!(polled.two_writer_rounds, 0, "{polled:?}");
    assert_eq!(
        polled.last_writable,
        std::slice::from_ref(&candidate),
        "{polled:?}"
    );
    assert_eq!(s.cluster.vip_node(), candidate);
    writes.assert_none_lost(s.cluster.node(&candidate)).await;
    s.cluster
        .wait_replicated_from(&candidate, LONG)
        .await
        .unwrap();
}

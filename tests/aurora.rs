//! Aurora clusters: Aurora promotes its own writer; the vipkeeper agent
//! follows it and moves what clients use. The control plane is the moto
//! emulator (an RDS cluster whose instances db1..db3 stand for the real
//! servers of those names, an NLB target group, a Route 53 zone); the
//! promotion is made real on the SQL side in Aurora's order (the old writer
//! gone, then the new one writable); the router plays the NLB's data
//! plane, and a client writes through it the whole time.

use vipkeeper_harness as support;

use std::time::Duration;

use support::agent::Agent;
use support::fault_proxy::{Fault, FaultProxy};
use support::moto::Moto;
use support::netns::Netns;
use support::vpc::{RouteTables, VpcHosts, VIP};
use support::writer::{WriteTarget, Writer};
use support::{per_flavor, Flavor, TestCluster};

per_flavor!(
    the_agent_follows_auroras_new_writer_and_moves_the_nlb_and_the_record,
    a_switchover_to_a_named_reader_promotes_it_and_moves_clients,
    discovered_instances_a_flapping_answer_and_an_api_that_is_down,
);

const LONG: Duration = Duration::from_secs(40);

/// Aurora's lag query, on the stand-in for its `replica_host_status`.
const LAG_QUERY: &str = "SELECT server_id AS instance, replica_lag_in_milliseconds AS lag_ms FROM aurora_stand_in.replica_host_status WHERE session_id <> 'MASTER_SESSION_ID'";

/// The vipkeeper binary, when namespaces and the emulator are there.
fn available() -> Option<std::path::PathBuf> {
    (support::available_or_skip("the namespace test", Netns::available())
        && support::available_or_skip("the AWS tests", Moto::available()))
    .then(support::bin)
}

/// `node` writable (`on`) or read-only.
async fn writable(c: &TestCluster, node: &str, on: bool, flavor: Flavor) {
    let sql = if on {
        "SET GLOBAL read_only=OFF"
    } else {
        flavor.read_only_sql()
    };
    c.node(node).exec(&[sql]).await.unwrap();
}

/// Runs vipkeeper on the router: (exit code, stdout and stderr).
fn run_on_router(vpc: &support::vpc::Vpc, bin: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = vpc.run_on_router(bin, args).unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The VPC with an Aurora cluster (db1 the writer) and its host agents.
async fn aurora_hosts(flavor: Flavor) -> Option<(std::path::PathBuf, VpcHosts)> {
    let bin = available()?;
    let hosts = VpcHosts::start(flavor, &bin, "main", RouteTables::Aurora)
        .await
        .unwrap();
    Some((bin, hosts))
}

async fn make_writer(c: &TestCluster, node: &str, flavor: Flavor) {
    let reset = match flavor {
        Flavor::Mariadb => "RESET SLAVE ALL",
        Flavor::Mysql => "RESET REPLICA ALL",
    };
    c.node(node)
        .exec(&[flavor.stop_replica_sql(), reset, "SET GLOBAL read_only=OFF"])
        .await
        .unwrap();
}

async fn the_agent_follows_auroras_new_writer_and_moves_the_nlb_and_the_record(flavor: Flavor) {
    let Some((
        bin,
        VpcHosts {
            vpc,
            mut cluster,
            hosts,
            config,
        },
    )) = aurora_hosts(flavor).await
    else {
        return;
    };
    let nlb = vpc.nlb.as_ref().unwrap();
    let ip = |i: usize| vpc.hosts[i].1.clone();
    let dir = cluster.dir.clone();
    let start_manager =
        |config: &std::path::Path, name: &str| vpc.start_manager(&bin, config, &dir, name);
    let manager = start_manager(&config, "manager");
    manager.wait_for_log("healthy: db1 is Aurora's writer and clients go there", LONG);
    // The reader record holds the healthy readers.
    manager.wait_for_log("reader record: A readers.db.example.internal.", LONG);
    assert_eq!(nlb.readers().unwrap(), [ip(1), ip(2)]);
    // Ten looks a second (fast after the start) over one held connection
    // per instance, not a connection per look.
    let connections = || async {
        let v = cluster
            .node("db3")
            .query_value("SHOW GLOBAL STATUS LIKE 'Connections'", "Value")
            .await
            .unwrap()
            .unwrap();
        v.parse::<u64>().unwrap()
    };
    let before = connections().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let opened = connections().await - before;
    // 20 looks; the host agent and this test open a few of their own.
    assert!(opened < 15, "{opened} connections opened on db3 in 2 s");
    let writer = Writer::start_to(
        WriteTarget::Address(VIP.into(), 3306),
        Some(vpc.client.name.clone()),
    );
    writer.wait_for_more(100, LONG).await;

    // A reader claims to be the writer too: reported, nothing moves.
    writable(&cluster, "db3", true, flavor).await;
    manager.wait_for_log("db1 and db3 all answer as the writer: moving nothing", LONG);
    assert_eq!(nlb.targets().unwrap(), [(ip(0), 3306)]);
    writable(&cluster, "db3", false, flavor).await;
    wait_for_count(&manager, "healthy: db1 is Aurora's writer", 2);

    // Aurora promotes db2: the API first, the old writer gone, the new one writable.
    nlb.aurora_fail_over("db2").unwrap();
    cluster.node_mut("db1").kill9();
    let first_kill = writer.started.elapsed();
    make_writer(&cluster, "db2", flavor).await;
    cluster
        .node("db3")
        .exec(&[flavor.stop_replica_sql()])
        .await
        .unwrap();
    cluster
        .attach(cluster.node("db3"), cluster.node("db2"), None)
        .await
        .unwrap();
    manager.wait_for_log("clients now go to db2, Aurora's writer", LONG);
    assert_eq!(nlb.targets().unwrap(), [(ip(1), 3306)]);
    assert_eq!(nlb.record().unwrap(), [ip(1)]);
    // db1 is gone from the readers, db2 is the writer: db3 alone.
    wait_for(
        || nlb.readers().unwrap() == [ip(2)],
        "the readers to be db3 alone",
    );

    // The client resumes through the NLB, on db2.
    hosts[1].wait_for_log(&format!("db2 is the master: VIP {VIP} held on lo"), LONG);
    writer.wait_for_more(100, LONG).await;
    let reports = cluster.dir.join("state/main/reports");
    let r = &report_of_move(&reports, "db2");
    // SQL sees the new writer first; the API (asked once a second) may
    // not have caught up yet: either way SQL decided, within the bound.
    assert!(
        r["basis"] == "sql-and-api" || r["basis"] == "sql-api-lagging",
        "{r}"
    );
    assert_eq!(r["backends"].as_array().unwrap().len(), 3, "{r}");
    assert!(r["move_ms"].as_u64().is_some(), "{r}");
    assert!(
        reports_of_kind(&reports, "aurora-conflict") >= 1,
        "the two writers were reported"
    );

    // The RDS API unreachable: SQL alone moves clients to db3, and the
    // report says on what.
    drop(manager);
    let text = std::fs::read_to_string(&config).unwrap();
    let no_api = cluster.dir.join("no-api.toml");
    std::fs::write(&no_api, with_aurora_endpoint(&text, "http://127.0.0.1:9")).unwrap();
    let manager = start_manager(&no_api, "no-api");
    manager.wait_for_log("healthy: db2 is Aurora's writer", LONG);
    cluster.node_mut("db2").kill9();
    let second_kill = writer.started.elapsed();
    make_writer(&cluster, "db3", flavor).await;
    manager.wait_for_log(
        "clients now go to db3, Aurora's writer (it answers as the writer; the RDS API could not be asked)",
        LONG,
    );
    assert_eq!(nlb.targets().unwrap(), [(ip(2), 3306)]);
    assert_eq!(nlb.record().unwrap(), [ip(2)]);
    assert_eq!(
        report_of_move(&reports, "db3")["basis"],
        "sql-api-unreachable"
    );
    // No reader is healthy: the writer stands in the reader record.
    wait_for(
        || nlb.readers().unwrap() == [ip(2)],
        "the writer db3 as the reader",
    );
    hosts[2].wait_for_log(&format!("db3 is the master: VIP {VIP} held on lo"), LONG);
    writer.wait_for_more(100, LONG).await;
    let writes = writer.stop().await;
    // db2 back, to read what it holds.
    cluster.node_mut("db2").start().unwrap();
    // Every write acknowledged (half a second) after a promotion is on the
    // writer it went to; what an old writer acknowledged last is Aurora's
    // shared storage's business, which the stand-in servers do not have.
    for (node, from, until) in [
        ("db2", first_kill, second_kill),
        ("db3", second_kill, Duration::MAX),
    ] {
        let missing = writes.missing_on(cluster.node(node)).await.unwrap();
        let late: Vec<&u64> = missing
            .iter()
            .filter(|id| {
                let i = writes.acknowledged.iter().position(|a| a == *id).unwrap();
                let at = writes.ack_times[i];
                at > from + Duration::from_millis(500) && at < until
            })
            .collect();
        assert!(
            late.is_empty(),
            "acknowledged on {node}, missing there: {late:?}"
        );
    }

    // No instance answers SQL (the monitor account is refused): the RDS
    // API alone is followed.
    drop(manager);
    let wrong = cluster.dir.join("wrong.password");
    support::cluster::write_secret(&wrong, "not-the-password").unwrap();
    let monitor = cluster.dir.join("secrets/monitor.password");
    let no_sql = cluster.dir.join("no-sql.toml");
    std::fs::write(
        &no_sql,
        text.replace(&monitor.display().to_string(), &wrong.display().to_string()),
    )
    .unwrap();
    let manager = start_manager(&no_sql, "no-sql");
    nlb.aurora_fail_over("db1").unwrap();
    manager.wait_for_log(
        "clients now go to db1, Aurora's writer (the RDS API names it; no instance answered SQL)",
        LONG,
    );
    assert_eq!(nlb.targets().unwrap(), [(ip(0), 3306)]);
    assert_eq!(
        report_of_move(&reports, "db1")["basis"],
        "api-sql-unreachable"
    );
}

/// Until `ok()` holds.
fn wait_for(ok: impl Fn() -> bool, what: &str) {
    wait_for_or(ok, || what.to_string())
}

/// Until `ok()` holds; else fails saying `what()`.
fn wait_for_or(ok: impl Fn() -> bool, what: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + LONG;
    while !ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited in vain for {}",
            what()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Until `text` is in the agent's log `n` times.
fn wait_for_count(agent: &Agent, text: &str, n: usize) {
    let deadline = std::time::Instant::now() + LONG;
    while agent.count_in_log(text) < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{text:?} not {n} times in:\n{}",
            agent.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The config with the RDS API (only) at `endpoint`.
fn with_aurora_endpoint(config: &str, endpoint: &str) -> String {
    let start = config.find("[cluster.aurora]").unwrap();
    let line = start + config[start..].find("endpoint_url = ").unwrap();
    let end = line + config[line..].find('\n').unwrap();
    format!(
        "{}endpoint_url = \"{endpoint}\"{}",
        &config[..line],
        &config[end..]
    )
}

fn reports_in(dir: &std::path::Path) -> Vec<serde_json::Value> {
    // No directory yet: no report yet.
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect()
}

fn reports_of_kind(dir: &std::path::Path, kind: &str) -> usize {
    reports_in(dir).iter().filter(|r| r["kind"] == kind).count()
}

/// The one report of clients moved to `to`.
fn report_of_move(dir: &std::path::Path, to: &str) -> serde_json::Value {
    let moved: Vec<serde_json::Value> = reports_in(dir)
        .into_iter()
        .filter(|r| {
            (r["kind"] == "aurora-writer-change" || r["kind"] == "aurora-switchover")
                && r["to"] == to
        })
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0]["outcome"], "moved", "{}", moved[0]);
    moved[0].clone()
}

/// `vipkeeper switchover CLUSTER --to INSTANCE`: checks, then
/// `FailoverDBCluster`, then the same following as the agent's; the
/// mistakes are refused by name, and `failover` is refused on Aurora.
async fn a_switchover_to_a_named_reader_promotes_it_and_moves_clients(flavor: Flavor) {
    let Some((
        bin,
        VpcHosts {
            vpc,
            cluster,
            hosts: _agents,
            config,
        },
    )) = aurora_hosts(flavor).await
    else {
        return;
    };
    let nlb = vpc.nlb.as_ref().unwrap();
    let c = config.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["-c", c];
        all.extend_from_slice(args);
        run_on_router(&vpc, &bin, &all)
    };
    let (code, out) = run(&["failover", "main"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("is an Aurora cluster: Aurora promotes its own writer"),
        "{out}"
    );
    let (code, out) = run(&["switchover", "main", "--to", "db9", "--yes"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "db9 is not an instance of Aurora cluster orders: the instances are db1, db2, db3"
        ),
        "{out}"
    );
    let (code, out) = run(&["switchover", "main", "--to", "db1", "--yes"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("db1 is already the writer"), "{out}");
    let (code, out) = run(&["switchover", "main", "--to", "db2", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("plan: FailoverDBCluster orders to db2"),
        "{out}"
    );
    assert_eq!(nlb.aurora_writer().unwrap().as_deref(), Some("db1"));

    // The switchover runs while "Aurora" (this test) makes the promotion
    // real on the SQL side once the API has it.
    let router = vpc.router.name.clone();
    let (bin2, c2) = (bin.clone(), c.to_string());
    let switching = std::thread::spawn(move || {
        std::process::Command::new("ip")
            .args(["netns", "exec", &router])
            .arg(&bin2)
            .args(["-c", &c2, "switchover", "main", "--to", "db2", "--yes"])
            .output()
            .unwrap()
    });
    let deadline = std::time::Instant::now() + LONG;
    while nlb.aurora_writer().unwrap().as_deref() != Some("db2") {
        assert!(
            std::time::Instant::now() < deadline,
            "the API never named db2"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    writable(&cluster, "db1", false, flavor).await;
    make_writer(&cluster, "db2", flavor).await;
    let out = switching.join().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("clients now go to db2, Aurora's writer"),
        "{text}"
    );
    let ip2 = vpc.hosts[1].1.clone();
    assert_eq!(nlb.targets().unwrap(), [(ip2.clone(), 3306)]);
    assert_eq!(nlb.record().unwrap(), [ip2]);
    let r = report_of_move(&cluster.dir.join("state/main/reports"), "db2");
    assert_eq!(r["kind"], "aurora-switchover");

    // `check` and `status` show the writer, each instance and where
    // clients go.
    let (code, out) = run(&["check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("check: 0 error(s)"), "{out}");
    let (code, out) = run(&["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("cluster main (Aurora cluster orders): writer db2"),
        "{out}"
    );
    assert!(
        out.contains("db1: reader") && out.contains("RDS API: writer db2"),
        "{out}"
    );
    // The stand-ins have no replica_host_status: the lag is not known, and why.
    assert!(
        out.contains("lag: not known (") && out.to_lowercase().contains("replica_host_status"),
        "{out}"
    );
    assert!(
        out.contains("clients: aws-nlb: ") && out.contains("-> db2"),
        "{out}"
    );
}

/// No instances in the config: the RDS API lists them and their endpoints
/// resolve (here through the router namespace's hosts file) to the
/// servers. A reader that answers as the writer for one look changes
/// nothing (and the journal says so); the RDS API answering 503, then not
/// answering at all, leaves the SQL path working, and the reports say on
/// what they moved. The reader record is one weighted set per reader.
async fn discovered_instances_a_flapping_answer_and_an_api_that_is_down(flavor: Flavor) {
    let Some((
        bin,
        VpcHosts {
            vpc,
            cluster,
            hosts: _agents,
            config,
        },
    )) = aurora_hosts(flavor).await
    else {
        return;
    };
    let nlb = vpc.nlb.as_ref().unwrap();
    let ip = |i: usize| vpc.hosts[i].1.clone();
    let endpoints = nlb.aurora_endpoints().unwrap();
    assert_eq!(endpoints.len(), 3, "{endpoints:?}");
    let _names = vpc
        .router
        .hosts(
            &endpoints
                .iter()
                .enumerate()
                .map(|(i, (_, address))| (ip(i), address.clone()))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let api = FaultProxy::start_in(&vpc.router, nlb.moto.port).unwrap();
    // The manager's config: no nodes, the RDS API through the proxy, a
    // look every 3 s (room to undo a flap between two looks, even on a
    // busy machine), weighted readers.
    let text = std::fs::read_to_string(&config).unwrap();
    let text = with_aurora_endpoint(
        &text[..text.find("[[cluster.node]]").unwrap()],
        &api.endpoint(),
    )
    .replace(
        "[cluster.aurora]\n",
        &format!("[cluster.aurora]\ninterval = \"3s\"\nfast_interval = \"3s\"\nlag_query = \"{LAG_QUERY}\"\n"),
    )
    .replace(
        "[cluster.vip.aws-route53]\n",
        "[cluster.vip.aws-route53]\nreader_routing = \"weighted\"\n",
    );
    let discovering = cluster.dir.join("discovering.toml");
    std::fs::write(&discovering, text).unwrap();
    let manager = vpc.start_manager(&bin, &discovering, &cluster.dir, "discovering");
    manager.wait_for_log(
        &format!(
            "the instances of Aurora cluster orders: db1 ({} = {}:3306), db2 ({} = {}:3306)",
            endpoints[0].1,
            ip(0),
            endpoints[1].1,
            ip(1)
        ),
        LONG,
    );
    manager.wait_for_log("healthy: db1 is Aurora's writer and clients go there", LONG);
    let sets = |readers: &[usize]| -> Vec<(Option<String>, String)> {
        readers
            .iter()
            .map(|i| (Some(format!("db{}", i + 1)), ip(*i)))
            .collect()
    };
    wait_for(
        || nlb.reader_sets().unwrap() == sets(&[1, 2]),
        "a weighted reader set for db2 and for db3",
    );
    let c = discovering.to_str().unwrap();
    // Aurora's replica_host_status, stood in for by a table on the writer.
    cluster
        .node("db1")
        .exec(&[
            "CREATE DATABASE aurora_stand_in",
            "CREATE TABLE aurora_stand_in.replica_host_status (server_id VARCHAR(64), session_id VARCHAR(64), replica_lag_in_milliseconds DOUBLE)",
            "INSERT INTO aurora_stand_in.replica_host_status VALUES ('db1', 'MASTER_SESSION_ID', 0), ('db2', 's-2', 12), ('db3', 's-3', 340.4)",
            "GRANT SELECT ON aurora_stand_in.* TO 'vk_monitor'@'%'",
        ])
        .await
        .unwrap();
    let (_, said) = run_on_router(&vpc, &bin, &["-c", c, "status"]);
    assert!(
        said.contains("writer db1")
            && said.contains("db2: reader, lag 12 ms")
            && said.contains("db3: reader, lag 340 ms"),
        "{said}"
    );

    // db3 answers as the writer (db1 not) until one look has seen it,
    // and no longer: nothing moves.
    let reports = cluster.dir.join("state/main/reports");
    writable(&cluster, "db1", false, flavor).await;
    writable(&cluster, "db3", true, flavor).await;
    manager.wait_for_log("db3 is the new writer", LONG);
    writable(&cluster, "db3", false, flavor).await;
    writable(&cluster, "db1", true, flavor).await;
    wait_for(
        || reports_of_kind(&reports, "aurora-no-change") >= 1,
        "the no-change report",
    );
    assert_eq!(nlb.targets().unwrap(), [(ip(0), 3306)]);
    assert_eq!(reports_of_kind(&reports, "aurora-writer-change"), 0);
    let unchanged = reports_in(&reports)
        .into_iter()
        .find(|r| r["kind"] == "aurora-no-change")
        .unwrap();
    let journal = unchanged["journal"].as_str().unwrap();
    let (code, said) = run_on_router(&vpc, &bin, &["report", journal]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("aurora writer change"), "{said}");
    assert!(said.contains("db3 is the new writer"), "{said}");
    assert!(said.contains("db1 is the writer again"), "{said}");

    // The RDS API answers 503: db3 promoted on the SQL side is followed,
    // and the report says the API could not be asked.
    api.set(Fault::Unavailable);
    writable(&cluster, "db1", false, flavor).await;
    make_writer(&cluster, "db3", flavor).await;
    manager.wait_for_log(
        "clients now go to db3, Aurora's writer (it answers as the writer; the RDS API could not be asked)",
        LONG,
    );
    assert_eq!(nlb.targets().unwrap(), [(ip(2), 3306)]);
    let r = report_of_move(&reports, "db3");
    assert_eq!(r["basis"], "sql-api-unreachable", "{r}");
    assert!(r["evidence"]["api"]["Err"].is_string(), "{r}");
    wait_for(
        || nlb.reader_sets().unwrap() == sets(&[0, 1]),
        "the weighted readers db1 and db2",
    );

    // The RDS API takes requests and never answers: the same, back to db1.
    api.set(Fault::Drop);
    writable(&cluster, "db3", false, flavor).await;
    writable(&cluster, "db1", true, flavor).await;
    manager.wait_for_log(
        "clients now go to db1, Aurora's writer (it answers as the writer; the RDS API could not be asked)",
        LONG,
    );
    assert_eq!(nlb.targets().unwrap(), [(ip(0), 3306)]);
    let r = report_of_move(&reports, "db1");
    assert!(r["evidence"]["api"]["Err"].is_string(), "{r}");
    wait_for_or(
        || nlb.reader_sets().unwrap() == sets(&[1, 2]),
        || {
            format!(
                "the weighted readers db2 and db3 again; {:?}; log:\n{}",
                nlb.reader_sets().unwrap(),
                manager.log_text()
            )
        },
    );
}

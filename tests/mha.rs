//! vipkeeper's hooks driven by the real MHA 0.58 (Debian's packages; see
//! the harness's `mha` module for what it takes to run it here), in network
//! namespaces: a client writes through the VIP, the router (or the route
//! tables in the emulator, which the router follows) sends the VIP to the
//! master, each database host's vipkeeper host agent holds the VIP on `lo`
//! while its server is the master.
//!
//! kill -9 of the master: MHA notices, calls the hook (stop takes the route
//! away, start points it at MHA's new master), and the client's writes
//! resume on the new master. The old master rejoins as a replica, and
//! `masterha_master_switch --master_state=alive` moves the master and the
//! VIP back through the online-change hook while the client writes. A
//! hook whose start fails makes MHA abort as MHA documents: the new master
//! is left read-only.
//!
//! A vipkeeper manager runs beside MHA, observe-only (as when migrating):
//! it sees the death and says what it would do, and changes nothing.
//!
//! MariaDB only: MHA 0.58 cannot drive MySQL 8.4 or later at all (the
//! hooks themselves are tested on both flavors in tests/mha_hooks.rs).

use vipkeeper_harness as support;

use std::time::Duration;

use support::agent::Agent;
use support::cluster::{REPL_PASSWORD, REPL_USER};
use support::mha::{self, Mha};
use support::moto::Moto;
use support::netns::Netns;
use support::vpc::{RouteTables, VpcHosts, VIP};
use support::writer::{WriteTarget, Writer};
use support::{Flavor, TestCluster};

const LONG: Duration = Duration::from_secs(60);
/// MHA detects in ~4 s with ping_interval=1, then sleeps and polls through
/// its phases; on a busy machine it is slower still.
const MHA_FAILOVER: Duration = Duration::from_secs(180);

fn available() -> bool {
    support::require(Flavor::Mariadb)
        && support::available_or_skip("the namespace test", Netns::available())
        && support::available_or_skip("the MHA tests", Mha::available())
}

/// The hooks read vipkeeper's config (the router's route, and the VIP on
/// `lo` by the host agents).
#[tokio::test(flavor = "multi_thread")]
async fn mha_fails_over_and_switches_back_through_the_hooks_with_a_router() {
    if available() {
        fail_over_and_back(RouteTables::Router, Hooks::Config).await
    }
}

/// The hooks run without a vipkeeper config: the VIP, the route tables and
/// each host's ENI are flags on MHA's script lines; the nodes are the
/// servers MHA names (by MHA's host names, the addresses here).
#[tokio::test(flavor = "multi_thread")]
async fn mha_fails_over_and_switches_back_through_config_less_hooks_with_route_tables_in_the_emulator(
) {
    if available() && support::available_or_skip("the AWS tests", Moto::available()) {
        fail_over_and_back(RouteTables::Emulator, Hooks::Flags).await
    }
}

/// How the hooks learn the VIP's backend and the nodes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hooks {
    Config,
    Flags,
}

/// The cluster in the VPC, MHA's account on every server, and MHA set up
/// with vipkeeper's hooks (the binary of this build).
async fn set_up(tables: RouteTables, how: Hooks) -> (VpcHosts, Mha) {
    let bin = support::bin();
    let hosts = VpcHosts::start(Flavor::Mariadb, &bin, "main", tables)
        .await
        .unwrap();
    let sql = Mha::account_sql();
    let refs: Vec<&str> = sql.iter().map(String::as_str).collect();
    for s in &hosts.cluster.servers {
        s.exec(&refs).await.unwrap();
    }
    let mha_hosts: Vec<mha::Host> = hosts
        .vpc
        .hosts
        .iter()
        .zip(&hosts.cluster.servers)
        .map(|((ns, ip), s)| mha::Host {
            netns: ns.name.clone(),
            ip: ip.clone(),
            port: s.port,
            binlog_dir: s.dir.join("data"),
        })
        .collect();
    let hook = |slot: &str| match (how, &hosts.vpc.aws) {
        (Hooks::Config, _) => format!(
            "{} --log info -c {} hook {slot}",
            bin.display(),
            hosts.config.display()
        ),
        (Hooks::Flags, Some(aws)) => {
            let mut line = format!(
                "{} --log info hook {slot} --vip {VIP} --region us-east-1 --endpoint-url {}",
                bin.display(),
                aws.moto.endpoint()
            );
            for t in &aws.seeded.route_tables {
                line.push_str(&format!(" --route-table {t}"));
            }
            for ((_, ip), eni) in hosts.vpc.hosts.iter().zip(&aws.seeded.enis) {
                line.push_str(&format!(" --eni {ip}={eni}"));
            }
            line
        }
        (Hooks::Flags, None) => unreachable!("the flags name route tables in the emulator"),
    };
    let scripts = mha::Scripts {
        failover: hook("master-ip-failover"),
        online_change: hook("master-ip-online-change"),
    };
    let mha = Mha::set_up(
        &hosts.cluster.dir,
        &hosts.vpc.router.name,
        &mha_hosts,
        (REPL_USER, REPL_PASSWORD),
        &scripts,
    )
    .unwrap();
    (hosts, mha)
}

async fn read_only(cluster: &TestCluster, node: &str) -> Option<String> {
    cluster
        .node(node)
        .query_value("SELECT @@GLOBAL.read_only AS ro", "ro")
        .await
        .unwrap()
}

async fn fail_over_and_back(tables: RouteTables, how: Hooks) {
    let (
        VpcHosts {
            vpc,
            mut cluster,
            hosts,
            config,
        },
        mut mha,
    ) = set_up(tables, how).await;
    // Migrating from MHA: a vipkeeper manager runs beside it, observe-only.
    let observing = cluster.dir.join("observe.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &observing,
        text.replacen(
            "name = \"main\"\n",
            "name = \"main\"\nobserve_only = true\n",
            1,
        ),
    )
    .unwrap();
    let observer = Agent::start_in(
        &support::bin(),
        &observing,
        &cluster.dir,
        Some(&vpc.router.name),
        "observer",
        &[],
    );
    observer.wait_for_log("healthy: db1 is the master", LONG);
    // What the hooks call node i: the config's name, or MHA's host name.
    let named = |i: usize| match how {
        Hooks::Config => format!("db{}", i + 1),
        Hooks::Flags => vpc.hosts[i].1.clone(),
    };
    mha.start_manager().unwrap();
    // MHA called the hook's status at start: it found the VIP at db1.
    mha.wait_for_log("Ping(SELECT) succeeded", LONG).unwrap();
    assert!(
        mha.log().contains(&format!("the VIP is at {}", named(0))),
        "{}",
        mha.log()
    );

    let writer = Writer::start_to(
        WriteTarget::Address(VIP.into(), 3306),
        Some(vpc.client.name.clone()),
    );
    writer.wait_for_more(100, LONG).await;

    cluster.node_mut("db1").kill9();
    let status = mha.wait_manager_exit(MHA_FAILOVER).unwrap();
    let log = mha.log();
    assert!(status.success(), "MHA failed over with {status}:\n{log}");
    assert!(log.contains("completed successfully"), "{log}");
    // Both phases went through the hook: the route left db1, then went to
    // MHA's new master.
    assert!(
        log.contains(&format!("the VIP is taken away from {}", named(0))),
        "{log}"
    );
    let new_master = vpc.vip_node().expect("the VIP routes to a host");
    let i: usize = new_master[2..].parse::<usize>().unwrap() - 1;
    assert!(
        log.contains(&format!("the VIP is at {}", named(i))),
        "{log}"
    );
    let (mha_host, file, pos) = mha.new_master_position().unwrap();
    // The observer saw the death and said what it would do; MHA did it.
    observer.wait_for_log("observe-only: master db1 is dead", LONG);
    assert!(!observer.log_text().contains("replaced db1"));
    assert_eq!(
        mha_host, vpc.hosts[i].1,
        "MHA's new master is where the VIP is"
    );
    if let Some(aws) = &vpc.aws {
        let targets = aws.vip_targets().unwrap();
        assert!(
            targets
                .iter()
                .all(|t| t.as_ref() == Some(&aws.seeded.enis[i])),
            "every route table targets {new_master}'s ENI: {targets:?}"
        );
    }
    // The client resumes through the VIP, on the new master; the new
    // master's host agent holds the VIP, the dead one's let it go.
    writer.wait_for_more(100, LONG).await;
    hosts[i].wait_for_log(
        &format!("{new_master} is the master: VIP {VIP} held on lo"),
        LONG,
    );
    hosts[0].wait_for_log(
        &format!("db1 is not the master: VIP {VIP} released from lo"),
        LONG,
    );
    assert_eq!(read_only(&cluster, &new_master).await.as_deref(), Some("0"));

    // db1 comes back read-only and replicates from where MHA said.
    cluster.node_mut("db1").start().unwrap();
    cluster
        .node("db1")
        .exec(&[
            "SET GLOBAL read_only=1",
            &format!(
                "CHANGE MASTER TO MASTER_HOST='{mha_host}', MASTER_PORT=3306, MASTER_USER='{REPL_USER}', \
                 MASTER_PASSWORD='{REPL_PASSWORD}', MASTER_LOG_FILE='{file}', MASTER_LOG_POS={pos}, MASTER_USE_GTID=no"
            ),
            "START SLAVE",
        ])
        .await
        .unwrap();
    let rows_before = writer.snapshot().acknowledged.len();
    writer.wait_for_more(50, LONG).await;
    let caught_up = tokio::time::Instant::now() + LONG;
    while cluster.row_count("db1").await < rows_before {
        assert!(
            tokio::time::Instant::now() < caught_up,
            "db1 did not catch up from {new_master}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Back to db1 online, the client still writing.
    let (status, out) = mha.switch_to(&vpc.hosts[0].1, 3306, LONG * 2).unwrap();
    assert!(status.success(), "masterha_master_switch: {status}\n{out}");
    assert!(out.contains(&format!("{} is read-only", named(i))), "{out}");
    assert!(
        out.contains(&format!("the VIP is at {}", named(0))),
        "{out}"
    );
    assert_eq!(vpc.vip_node().as_deref(), Some("db1"));
    if let Some(aws) = &vpc.aws {
        let targets = aws.vip_targets().unwrap();
        assert!(
            targets
                .iter()
                .all(|t| t.as_ref() == Some(&aws.seeded.enis[0])),
            "every route table targets db1's ENI: {targets:?}"
        );
    }
    hosts[0].wait_for_log(&format!("db1 is the master: VIP {VIP} held on lo"), LONG);
    let at_switch = writer.snapshot().acknowledged.len();
    writer.wait_for_more(100, LONG).await;
    let writes = writer.stop().await;
    assert!(writes.acknowledged.len() >= at_switch + 100);
    assert_eq!(read_only(&cluster, "db1").await.as_deref(), Some("0"));
    assert_eq!(read_only(&cluster, &new_master).await.as_deref(), Some("1"));
    // Every acknowledged write, before and after both moves, is on db1.
    writes.assert_none_lost(cluster.node("db1")).await;
}

/// The start phase fails (the new master's ENI in vipkeeper's config is
/// wrong, so the route cannot move): the hook exits 1, MHA aborts the
/// failover as MasterFailover.pm does — the new master stays read-only, no
/// client can write anywhere — and its log and report say why.
#[tokio::test(flavor = "multi_thread")]
async fn a_hook_failing_at_start_makes_mha_abort() {
    if !(available() && support::available_or_skip("the AWS tests", Moto::available())) {
        return;
    }
    let (
        VpcHosts {
            vpc,
            mut cluster,
            config,
            hosts: _agents,
        },
        mut mha,
    ) = set_up(RouteTables::Emulator, Hooks::Config).await;
    mha.start_manager().unwrap();
    mha.wait_for_log("Ping(SELECT) succeeded", LONG).unwrap();
    // After MHA's start-up check: db2's and db3's interfaces misconfigured.
    let aws = vpc.aws.as_ref().unwrap();
    let mut text = std::fs::read_to_string(&config).unwrap();
    for eni in &aws.seeded.enis[1..] {
        text = text.replace(eni.as_str(), "eni-0000000000000dead");
    }
    std::fs::write(&config, text).unwrap();

    cluster.node_mut("db1").kill9();
    let status = mha.wait_manager_exit(MHA_FAILOVER).unwrap();
    let log = mha.log();
    assert!(!status.success(), "MHA reported success:\n{log}");
    assert!(
        log.contains("Failed to activate master IP address"),
        "{log}"
    );
    assert!(
        log.contains("eni-0000000000000dead"),
        "the hook said why:\n{log}"
    );
    // MHA's failover report ends on the failure.
    let report = &log[log
        .rfind("----- Failover Report -----")
        .expect("MHA's report")..];
    assert!(
        report.contains("Failed to activate master IP address")
            && report.contains("Got Error so couldn't continue failover from here"),
        "{report}"
    );
    assert!(!report.contains("completed successfully"), "{report}");
    // MHA stopped before clearing read_only: no node takes writes.
    for node in ["db2", "db3"] {
        assert_eq!(
            read_only(&cluster, node).await.as_deref(),
            Some("1"),
            "{node} was made writable after the VIP failed to move"
        );
    }
    // The route was taken away from the dead master, and went nowhere else.
    let targets = aws.vip_targets().unwrap();
    assert!(targets.iter().all(Option::is_none), "{targets:?}");
}

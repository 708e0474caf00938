//! The aws-route-table VIP backend against the moto EC2 emulator over HTTP:
//! a VPC with subnets in three AZs, three instances, 3 and 50 route tables.

use vipkeeper_harness as support;

use std::time::{Duration, Instant};

use support::fault_proxy::FaultProxy;
use support::moto::{seed, source_dest_check, vip_targets, Moto, SeededVpc};
use vipkeeper::config::{AwsRouteTableConfig, BackendConfig, NodeConfig, VipConfig};
use vipkeeper::vip::{move_vip, Moved};

const VIP: &str = "10.254.0.10";

/// A config for the command line: three nodes (nothing listens at their
/// addresses), the aws-route-table backend at `endpoint` with `tables`.
fn cli_config(
    dir: &std::path::Path,
    endpoint: &str,
    enis: &[String],
    tables: &[String],
    deadline: &str,
) -> std::path::PathBuf {
    let secret = dir.join("pw");
    support::cluster::write_secret(&secret, "pw").unwrap();
    let s = secret.display();
    let tables: Vec<String> = tables.iter().map(|t| format!("\"{t}\"")).collect();
    let mut text = format!(
        "[agent]\nstate_dir = \"{d}/state\"\n\n[[cluster]]\nname = \"main\"\n\
         [cluster.users.monitor]\nuser = \"m\"\npassword_file = \"{s}\"\n\
         [cluster.users.admin]\nuser = \"a\"\npassword_file = \"{s}\"\n\
         [cluster.users.replication]\nuser = \"r\"\npassword_file = \"{s}\"\n\
         [cluster.timing]\nconnect_timeout = \"200ms\"\nquery_timeout = \"200ms\"\n\
         [cluster.vip]\naddress = \"{VIP}\"\nbackends = [\"aws-route-table\"]\n\
         [cluster.vip.aws-route-table]\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\n\
         deadline = \"{deadline}\"\nroute_tables = [{}]\n",
        tables.join(", "),
        d = dir.display(),
    );
    for (i, eni) in enis.iter().enumerate() {
        text.push_str(&format!("[[cluster.node]]\nname = \"db{}\"\nhost = \"127.0.0.{}\"\nport = 9\neni_id = \"{eni}\"\n", i + 1, i + 2));
    }
    let config = dir.join("vipkeeper.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// The binary with the emulator's dummy credentials; (code, stdout+stderr, time taken).
fn vk_aws(config: &std::path::Path, args: &[&str]) -> (i32, String, Duration) {
    let started = Instant::now();
    let (code, out) = support::vipkeeper_on(
        config,
        args,
        &[
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    (code, out, started.elapsed())
}

#[test]
fn a_silent_endpoint_ends_every_vip_command_within_its_deadline_with_a_sentence() {
    // Accepts connections, never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let dir = tempfile::tempdir().unwrap();
    let enis: Vec<String> = (1..=3)
        .map(|i| format!("eni-0{i}23456789abcdef0"))
        .collect();
    let tables: Vec<String> = (0..50).map(|i| format!("rtb-{i:017x}")).collect();
    let config = cli_config(dir.path(), &endpoint, &enis, &tables, "2s");
    let deadline = Duration::from_secs(2);
    let slack = Duration::from_millis(1500);
    for (args, bound) in [
        (&["vip", "status"][..], deadline + slack),
        (
            &["vip", "move", "--to", "db2", "--force", "--dry-run"][..],
            deadline + slack,
        ),
        // Where it points now, then the move: each within the deadline.
        (
            &["vip", "move", "--to", "db2", "--force"][..],
            deadline * 2 + slack,
        ),
    ] {
        let (code, out, took) = vk_aws(&config, args);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(took < bound, "{args:?} took {took:?}:\n{out}");
        assert!(out.contains("aws-route-table"), "{args:?}: {out}");
        for dump in [
            "DispatchFailure(",
            "ConnectorError {",
            "TimeoutError(",
            "Some(",
        ] {
            assert!(!out.contains(dump), "{args:?}: a debug dump:\n{out}");
        }
    }
    drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn vip_status_exit_codes_say_the_truth_about_missing_tables_and_routes() {
    let Some(moto) = moto() else { return };
    let v = seed(&moto, 3, VIP).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bogus = "rtb-0123456789abcdef0".to_string();
    let mut tables = v.route_tables.clone();
    tables.push(bogus.clone());
    let config = cli_config(dir.path(), &moto.endpoint(), &v.enis, &tables, "10s");
    let (code, out, _) = vk_aws(&config, &["vip", "status"]);
    assert_eq!(code, 1, "a table that does not exist is an error:\n{out}");
    assert!(
        out.contains(&format!("route table {bogus}: DescribeRouteTables")),
        "{out}"
    );
    let (code, out, _) = vk_aws(
        &config,
        &["vip", "move", "--to", "db1", "--force", "--dry-run"],
    );
    assert_eq!(code, 1, "{out}");

    // A table without the VIP route: clients of that subnet reach nobody.
    let client = vipkeeper::aws::ec2(&moto.target()).await;
    client
        .delete_route()
        .route_table_id(&v.route_tables[0])
        .destination_cidr_block(format!("{VIP}/32"))
        .send()
        .await
        .unwrap();
    let config = cli_config(
        dir.path(),
        &moto.endpoint(),
        &v.enis,
        &v.route_tables,
        "10s",
    );
    let (code, out, _) = vk_aws(&config, &["vip", "status"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!(
            "{}: {VIP}/32 -> no route -> no node: NOT the master",
            v.route_tables[0]
        )),
        "{out}"
    );

    // A table listed twice is a config error, not counted twice.
    let twice = vec![v.route_tables[1].clone(), v.route_tables[1].clone()];
    let config = cli_config(dir.path(), &moto.endpoint(), &v.enis, &twice, "10s");
    let (code, out, _) = vk_aws(&config, &["check", "--offline"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "route table {} is listed twice",
            v.route_tables[1]
        )),
        "{out}"
    );
}

fn moto() -> Option<Moto> {
    support::available_or_skip("the AWS tests", Moto::available())
        .then(|| Moto::start().expect("starting the emulator"))
}

/// Every table's VIP route targets `eni`, read straight from the emulator.
async fn assert_all_target(moto: &Moto, tables: &[String], eni: &str) {
    let targets = vip_targets(moto, tables, VIP).await.unwrap();
    assert!(
        targets.iter().all(|t| t.as_deref() == Some(eni)),
        "expected {eni}: {targets:?}"
    );
}

/// db1 and db3 by ENI, db2 by instance id only (its ENI is looked up).
fn nodes(v: &SeededVpc) -> Vec<NodeConfig> {
    (0..3)
        .map(|i| NodeConfig {
            name: format!("db{}", i + 1),
            host: format!("10.0.{}.10", i + 1),
            port: 3306,
            instance_id: Some(v.instances[i].clone()),
            eni_id: (i != 1).then(|| v.enis[i].clone()),
            az: None,
            ipv4: None,
            host_agent: None,
            binlog_index: None,
            relay_log_index: None,
        })
        .collect()
}

fn vip(endpoint: String, tables: Vec<String>, deadline: Duration) -> VipConfig {
    VipConfig {
        address: VIP.parse().unwrap(),
        backends: vec![BackendConfig::AwsRouteTable(AwsRouteTableConfig {
            route_tables: tables,
            vpc_id: None,
            region: Some("us-east-1".into()),
            endpoint_url: Some(endpoint),
            deadline,
            concurrency: None,
        })],
        retry_for: vipkeeper::config::vip::RETRY_FOR,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_table_targets_the_new_master_and_source_dest_check_is_off() {
    let Some(moto) = moto() else { return };
    let v = seed(&moto, 3, VIP).await.unwrap();
    let nodes = nodes(&v);
    let cfg = vip(
        moto.endpoint(),
        v.route_tables.clone(),
        Duration::from_secs(10),
    );
    assert_eq!(
        source_dest_check(&moto, &v.enis[1]).await.unwrap(),
        Some(true)
    );

    let done = move_vip(&cfg, &nodes, Some(&nodes[0]), &nodes[1])
        .await
        .unwrap();
    match &done[0].1 {
        Moved::Done(d) => assert!(
            d.contains(&format!("-> {} (db2): 3 switched", v.enis[1])),
            "{d}"
        ),
        other => panic!("{other:?}"),
    }
    assert_all_target(&moto, &v.route_tables, &v.enis[1]).await;
    assert_eq!(
        source_dest_check(&moto, &v.enis[1]).await.unwrap(),
        Some(false)
    );

    // Moving to where it already points changes nothing.
    let again = move_vip(&cfg, &nodes, Some(&nodes[0]), &nodes[1])
        .await
        .unwrap();
    assert!(
        matches!(&again[0].1, Moved::AlreadyThere(d) if d.contains("0 switched, 3 already there")),
        "{again:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_discovered_tables_are_switched() {
    let Some(moto) = moto() else { return };
    let v = seed(&moto, 50, VIP).await.unwrap();
    let nodes = nodes(&v);
    // No table ids configured: every table of the ENI's VPC with a VIP route.
    let cfg = vip(moto.endpoint(), Vec::new(), Duration::from_secs(20));
    let done = move_vip(&cfg, &nodes, Some(&nodes[0]), &nodes[2])
        .await
        .unwrap();
    assert!(
        matches!(&done[0].1, Moved::Done(d) if d.contains(": 50 switched")),
        "{done:?}"
    );
    assert_all_target(&moto, &v.route_tables, &v.enis[2]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_table_id_is_named_and_every_other_table_is_switched() {
    let Some(moto) = moto() else { return };
    let v = seed(&moto, 3, VIP).await.unwrap();
    let nodes = nodes(&v);
    let bogus = "rtb-0123456789abcdef0".to_string();
    let mut tables = v.route_tables.clone();
    tables.insert(1, bogus.clone());
    let cfg = vip(moto.endpoint(), tables, Duration::from_secs(10));
    let failed = move_vip(&cfg, &nodes, Some(&nodes[0]), &nodes[2])
        .await
        .unwrap_err();
    // The AWS code survives for the remedy to choose by.
    assert_eq!(
        failed.error.aws_code.as_deref(),
        Some("InvalidRouteTableID.NotFound")
    );
    let err = failed.to_string();
    assert!(err.starts_with("VIP backend aws-route-table: "), "{err}");
    assert!(err.contains(": 3 switched"), "{err}");
    assert!(
        err.contains(&format!(
            "FAILED: {bogus}: DescribeRouteTables: InvalidRouteTableID.NotFound"
        )),
        "{err}"
    );
    assert_all_target(&moto, &v.route_tables, &v.enis[2]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_eni_is_named_and_nothing_moves() {
    let Some(moto) = moto() else { return };
    let v = seed(&moto, 3, VIP).await.unwrap();
    let mut nodes = nodes(&v);
    nodes[2].eni_id = Some("eni-0123456789abcdef0".into());
    let cfg = vip(
        moto.endpoint(),
        v.route_tables.clone(),
        Duration::from_secs(10),
    );
    let err = move_vip(&cfg, &nodes, Some(&nodes[0]), &nodes[2])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node db3: DescribeNetworkInterfaces eni-0123456789abcdef0: InvalidNetworkInterfaceID.NotFound"),
        "{err}"
    );
    assert_all_target(&moto, &v.route_tables, &v.enis[0]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_within_the_deadline() {
    let Some(moto) = moto() else { return };
    let v = seed(&moto, 3, VIP).await.unwrap();
    let nodes = nodes(&v);
    let proxy = FaultProxy::start(moto.port, "ReplaceRoute", 4).await;
    let cfg = vip(
        format!("http://127.0.0.1:{}", proxy.port),
        v.route_tables.clone(),
        Duration::from_secs(10),
    );
    let done = move_vip(&cfg, &nodes, Some(&nodes[0]), &nodes[1])
        .await
        .unwrap();
    assert!(
        matches!(&done[0].1, Moved::Done(d) if d.contains(": 3 switched")),
        "{done:?}"
    );
    assert!(proxy.throttled.load(std::sync::atomic::Ordering::SeqCst) >= 4);
    assert_all_target(&moto, &v.route_tables, &v.enis[1]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_emulator_fails_within_the_deadline() {
    // A listener that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let node = NodeConfig {
        name: "db2".into(),
        host: "10.0.2.10".into(),
        port: 3306,
        instance_id: None,
        eni_id: Some("eni-0123456789abcdef0".into()),
        az: None,
        ipv4: None,
        host_agent: None,
        binlog_index: None,
        relay_log_index: None,
    };
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        // SAFETY: the same values in every test of this binary.
        unsafe { std::env::set_var(k, v) };
    }
    let deadline = Duration::from_secs(2);
    let cfg = vip(
        format!("http://127.0.0.1:{port}"),
        vec!["rtb-0a1b2c3d".into()],
        deadline,
    );
    let started = Instant::now();
    let err = move_vip(&cfg, std::slice::from_ref(&node), None, &node)
        .await
        .unwrap_err()
        .to_string();
    let took = started.elapsed();
    assert!(took < deadline + Duration::from_secs(2), "took {took:?}");
    assert!(err.contains("aws-route-table"), "{err}");
    drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn vip_status_and_move_through_the_command_line() {
    let Some(moto) = moto() else { return };
    let v = seed(&moto, 3, VIP).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // No route_tables: every table of the VPC that routes the VIP.
    let config = cli_config(dir.path(), &moto.endpoint(), &v.enis, &[], "5s");
    let cfg = config.to_str().unwrap();

    // This host plays db2's instance for the metadata service.
    let mac = "0a:00:00:00:00:02";
    let imds = support::imds::Imds::start(
        [
            ("meta-data/instance-id".to_string(), v.instances[1].clone()),
            ("meta-data/mac".to_string(), mac.to_string()),
            (
                format!("meta-data/network/interfaces/macs/{mac}/interface-id"),
                v.enis[1].clone(),
            ),
        ]
        .into_iter()
        .collect(),
    )
    .await;
    // SAFETY: only this test of this binary sets it.
    unsafe { std::env::set_var("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint()) };
    let (code, out, err) = support::vipkeeper(&["-c", cfg, "vip", "status"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains(&format!(
            "this host (IMDSv2): instance {}, ENI {}, node db2",
            v.instances[1], v.enis[1]
        )),
        "{out}"
    );
    for t in &v.route_tables {
        assert!(
            out.contains(&format!(
                "aws-route-table: {t}: {VIP}/32 -> {} -> db1, NOT the master",
                v.enis[0]
            )),
            "{out}"
        );
    }
    assert!(
        out.contains(&format!("db2 {}: source/dest check ON", v.enis[1])),
        "{out}"
    );

    let (code, out, err) =
        support::vipkeeper(&["-c", cfg, "vip", "move", "--to", "db2", "--force"]);
    assert_eq!(code, 0, "{out}{err}");
    // It says that it turned db2's source/dest check off.
    assert!(
        out.contains(&format!(
            "aws-route-table: turned the source/dest check of {} (db2) off, so that it accepts VIP traffic; {VIP}/32 -> {} (db2): 3 switched",
            v.enis[1], v.enis[1]
        )),
        "{out}"
    );
    let (_, out, _) = support::vipkeeper(&["-c", cfg, "vip", "status"]);
    assert!(
        out.contains(&format!("db2 {}: source/dest check off", v.enis[1])),
        "{out}"
    );
    assert_eq!(out.matches("-> db2, NOT the master").count(), 3, "{out}");
}

//! The `aws-nlb` and `aws-route53` backends against the moto emulator,
//! driven through the MHA hook (which needs no database): status reads
//! both, stop takes the old master's target out of the group, start leaves
//! the group holding the new master alone and the writer record naming it;
//! `vip status` shows both; `check` names the target group settings that
//! slow clients down; a wrong target group is named.

use vipkeeper_harness as support;

use support::moto::Moto;
use support::nlb_dns;

fn config(
    dir: &std::path::Path,
    moto: &Moto,
    seeded: &nlb_dns::Seeded,
    arn: &str,
) -> std::path::PathBuf {
    let secret = dir.join("pw");
    support::cluster::write_secret(&secret, "pw").unwrap();
    let mut text = format!(
        "[agent]\nstate_dir = \"{d}/state\"\nlisten = \"\"\n\n[[cluster]]\nname = \"main\"\n\
         [cluster.timing]\nconnect_timeout = \"300ms\"\nquery_timeout = \"300ms\"\n\
         [cluster.users.monitor]\nuser = \"m\"\npassword_file = \"{s}\"\n\
         [cluster.users.admin]\nuser = \"a\"\npassword_file = \"{s}\"\n\
         [cluster.users.replication]\nuser = \"r\"\npassword_file = \"{s}\"\n",
        d = dir.display(),
        s = secret.display(),
    );
    let seeded = nlb_dns::Seeded {
        target_group_arn: arn.to_string(),
        zone_id: seeded.zone_id.clone(),
    };
    text.push_str(&nlb_dns::vip_toml(
        &moto.endpoint(),
        &seeded,
        &["aws-nlb", "aws-route53"],
    ));
    for n in 1..=3 {
        text.push_str(&format!(
            "[[cluster.node]]\nname = \"db{n}\"\nhost = \"10.0.{n}.10\"\n"
        ));
    }
    let path = dir.join("vipkeeper.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hook_moves_the_target_group_and_the_writer_record() {
    let Some(moto) = support::available_or_skip("the AWS tests", Moto::available())
        .then(|| Moto::start().expect("starting the emulator"))
    else {
        return;
    };
    let at = moto.target();
    // AWS's default target group settings: check names them.
    let seeded = nlb_dns::seed(&at, "10.0.1.10", 3306, false).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &moto, &seeded, &seeded.target_group_arn);
    let hook = |line: &str| {
        let mut args = vec!["hook".to_string(), "master-ip-failover".to_string()];
        args.extend(line.split_whitespace().map(String::from));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        support::vipkeeper_on(&config, &refs, &[])
    };
    let orig = "--orig_master_host=10.0.1.10 --orig_master_ip=10.0.1.10 --orig_master_port=3306";

    let (code, out) = hook(&format!("--command=status {orig}"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the VIP is at db1"), "{out}");

    let (code, out) = hook(&format!("--command=stop {orig}"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("10.0.1.10:3306 (db1) deregistered"), "{out}");
    assert!(nlb_dns::targets(&at, &seeded.target_group_arn)
        .await
        .unwrap()
        .is_empty());

    let (code, out) = hook(&format!(
        "--command=start {orig} --new_master_host=10.0.2.10 --new_master_ip=10.0.2.10 --new_master_port=3306"
    ));
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        nlb_dns::targets(&at, &seeded.target_group_arn)
            .await
            .unwrap(),
        [("10.0.2.10".to_string(), 3306)]
    );
    assert_eq!(
        nlb_dns::record(&at, &seeded.zone_id).await.unwrap(),
        ["10.0.2.10"]
    );
    assert!(
        out.contains("A writer.db.example.internal. -> 10.0.2.10 (db2)"),
        "{out}"
    );

    // MHA's old master is no longer where the VIP is.
    let (code, out) = hook(&format!("--command=status {orig}"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("points at db2"), "{out}");

    // (No server answers here, so `vip status` knows no master: exit 2.)
    let (_, out) = support::vipkeeper_on(&config, &["vip", "status"], &[]);
    assert!(
        out.contains("aws-nlb: arn:aws:elasticloadbalancing:")
            && out.contains("10.0.2.10:3306 (db2) -> db2"),
        "{out}"
    );
    assert!(
        out.contains("aws-route53: A writer.db.example.internal. -> 10.0.2.10 -> db2"),
        "{out}"
    );

    // The target group's defaults slow clients down: check says which.
    let (_, out) = support::vipkeeper_on(&config, &["check"], &[]);
    assert!(
        out.contains("deregistration_delay.timeout_seconds = 300"),
        "{out}"
    );
    assert!(
        out.contains("connection_termination.enabled is off"),
        "{out}"
    );

    // A target group that does not exist is named, and nothing moves.
    let wrong = config_with_arn(dir.path(), &moto, &seeded);
    let (code, out) = support::vipkeeper_on(
        &wrong,
        &[
            "hook",
            "master-ip-failover",
            "--command=status",
            "--orig_master_host=10.0.2.10",
            "--orig_master_port=3306",
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DescribeTargetHealth arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0123456789abcdef"), "{out}");
    assert!(!out.contains("panicked"), "{out}");
}

fn config_with_arn(
    dir: &std::path::Path,
    moto: &Moto,
    seeded: &nlb_dns::Seeded,
) -> std::path::PathBuf {
    let sub = dir.join("wrong");
    std::fs::create_dir_all(&sub).unwrap();
    config(
        &sub,
        moto,
        seeded,
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0123456789abcdef",
    )
}

/// Aurora's reader record as a set per reader: multivalue, then weighted
/// (switching policy replaces every set); readers that stop answering are
/// deleted, the writer stands in when none is left, and a call that
/// changes nothing writes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn reader_record_sets_follow_the_healthy_readers() {
    use vipkeeper::config::{AwsRoute53Config, NodeConfig, ReaderRouting, RecordType};
    use vipkeeper::vip::aws_route53_readers::set_readers;
    let Some(moto) = support::available_or_skip("the AWS tests", Moto::available())
        .then(|| Moto::start().expect("starting the emulator"))
    else {
        return;
    };
    let at = moto.target();
    let seeded = nlb_dns::seed(&at, "10.0.1.10", 3306, true).await.unwrap();
    let node = |n: u8| NodeConfig {
        name: format!("db{n}"),
        host: format!("10.0.{n}.10"),
        port: 3306,
        instance_id: None,
        eni_id: None,
        az: None,
        ipv4: None,
        host_agent: None,
        binlog_index: None,
        relay_log_index: None,
    };
    let (db1, db2, db3) = (node(1), node(2), node(3));
    let mut s = AwsRoute53Config {
        hosted_zone_id: seeded.zone_id.clone(),
        record_name: nlb_dns::RECORD.into(),
        record_type: RecordType::A,
        reader_record_name: Some(nlb_dns::READERS.into()),
        reader_routing: ReaderRouting::Multivalue,
        ttl: 1,
        region: Some("us-east-1".into()),
        endpoint_url: Some(moto.endpoint()),
        deadline: std::time::Duration::from_secs(10),
    };
    let sets = || nlb_dns::record_sets(&at, &seeded.zone_id, nlb_dns::READERS);
    let set = |n: u8| (Some(format!("db{n}")), format!("10.0.{n}.10"));

    let said = set_readers(&s, &[&db2, &db3], &db1).await.unwrap();
    assert!(said
        .unwrap()
        .contains("(multivalue) -> 10.0.2.10 (db2), 10.0.3.10 (db3)"));
    assert_eq!(sets().await.unwrap(), [set(2), set(3)]);
    assert_eq!(set_readers(&s, &[&db2, &db3], &db1).await.unwrap(), None);

    let said = set_readers(&s, &[&db3], &db1).await.unwrap().unwrap();
    assert!(said.contains("-> 10.0.3.10 (db3)"), "{said}");
    assert_eq!(sets().await.unwrap(), [set(3)]);

    let said = set_readers(&s, &[], &db1).await.unwrap().unwrap();
    assert!(
        said.contains("(no reader is healthy: the writer db1)"),
        "{said}"
    );
    assert_eq!(sets().await.unwrap(), [set(1)]);

    s.reader_routing = ReaderRouting::Weighted;
    set_readers(&s, &[&db2, &db3], &db1).await.unwrap().unwrap();
    assert_eq!(sets().await.unwrap(), [set(2), set(3)]);
    assert_eq!(set_readers(&s, &[&db2, &db3], &db1).await.unwrap(), None);
}

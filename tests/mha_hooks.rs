//! The MHA hooks, called as MHA 0.58 calls them (its exact argument lists),
//! against real servers and real VIP backends: the online change stops
//! writes on the old master and moves the VIP; a start moves every route
//! table in the emulator to the new master's ENI; `status` refuses a VIP
//! that is not at MHA's master; the exit codes are the ones MHA reads.
//! (The same hooks under the real MHA: tests/mha.rs.)

use vipkeeper_harness as support;

use support::moto::{seed, vip_targets, Moto};
use support::{per_flavor, vipkeeper_on, ClusterSpec, ConfigExtras, Flavor, TestCluster};

const VIP: &str = "10.254.0.10";

per_flavor!(an_online_change_stops_writes_and_moves_the_vip);

fn vip_port(c: &TestCluster) -> u16 {
    std::fs::read_to_string(c.vip_target())
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

async fn an_online_change_stops_writes_and_moves_the_vip(flavor: Flavor) {
    let c = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let extras = ConfigExtras {
        cluster_toml: c.vip_script_toml().unwrap(),
        ..Default::default()
    };
    let config = c.write_config_with("main", &extras).unwrap();
    let (db1, db2) = (c.node("db1").port, c.node("db2").port);
    // MasterRotate.pm's list, passwords included.
    let common = format!(
        "--orig_master_host=127.0.0.1 --orig_master_ip=127.0.0.1 --orig_master_port={db1} --orig_master_user=mha --orig_master_password=Orig-Pw-42 \
         --new_master_host=127.0.0.1 --new_master_ip=127.0.0.1 --new_master_port={db2} --new_master_user=mha --new_master_password=New-Pw-42 \
         --orig_master_ssh_user=root --new_master_ssh_user=root --orig_master_is_new_slave"
    );
    let hook = |command: &str| {
        let mut args = vec!["hook".to_string(), "master-ip-online-change".to_string()];
        args.push(format!("--command={command}"));
        args.extend(shell_words::split(&common).unwrap());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        vipkeeper_on(&config, &refs, &[])
    };

    let (code, out) = hook("stop");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("db1 is read-only"), "{out}");
    let ro = c
        .node("db1")
        .query_value("SELECT @@global.read_only AS ro", "ro")
        .await
        .unwrap();
    assert_eq!(ro.as_deref(), Some("1"));

    let (code, out) = hook("start");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the VIP is at db2"), "{out}");
    assert_eq!(vip_port(&c), db2);
    assert!(!out.contains("Pw-42"), "{out}");
    let calls = std::fs::read_to_string(c.dir.join("vip-calls")).unwrap();
    assert!(
        !calls.contains("Pw-42"),
        "a password reached the VIP script: {calls}"
    );

    // The failover slot's stop hands the script MHA's own stop.
    let (code, out) = vipkeeper_on(
        &config,
        &[
            "hook",
            "master-ip-failover",
            "--command=stop",
            "--orig_master_host=127.0.0.1",
            &format!("--orig_master_port={db2}"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("took the VIP away from db2"), "{out}");
    let calls = std::fs::read_to_string(c.dir.join("vip-calls")).unwrap();
    assert!(
        calls
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("--command=stop --orig_master_host=127.0.0.1")),
        "{calls}"
    );

    // A backend whose script says "failed, proceed" (10) gives MHA 10; any
    // other failure aborts (1).
    let fail = |status: u8| {
        let hook_path = c.dir.join("vip-hook");
        std::fs::write(&hook_path, format!("#!/bin/sh\nexit {status}\n")).unwrap();
        std::fs::set_permissions(
            &hook_path,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    };
    fail(10);
    let (code, out) = hook("start");
    assert_eq!(code, 10, "{out}");
    fail(3);
    let (code, out) = hook("start");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error: VIP backend script"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_status_and_start_move_every_route_table() {
    let Some(moto) = support::available_or_skip("the AWS tests", Moto::available())
        .then(|| Moto::start().expect("starting the emulator"))
    else {
        return;
    };
    let v = seed(&moto, 3, VIP).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config =
        support::moto::route_table_config(dir.path(), &moto.endpoint(), &v, VIP, "10s").unwrap();
    let hook = |line: &str| {
        let mut args = vec!["hook".to_string(), "master-ip-failover".to_string()];
        args.extend(shell_words::split(line).unwrap());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        vipkeeper_on(&config, &refs, &[])
    };
    let orig = "--orig_master_host=db1.example --orig_master_ip=10.0.1.10 --orig_master_port=3306";

    // MasterMonitor.pm at start: the tables point at db1 (seeded so).
    let (code, out) = hook(&format!("--command=status --ssh_user=root {orig}"));
    assert_eq!(code, 0, "{out}");
    // MasterFailover.pm: stop (no SSH) takes the route away from db1 in
    // every table, then start routes it to the new master.
    let (code, out) = hook(&format!("--command=stop {orig}"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the VIP is taken away from db1"), "{out}");
    let targets = vip_targets(&moto, &v.route_tables, VIP).await.unwrap();
    assert!(targets.iter().all(Option::is_none), "{targets:?}");
    // Again: nothing left to take away.
    let (code, out) = hook(&format!("--command=stop {orig}"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to take away"), "{out}");
    let (code, out) = hook(&format!(
        "--command=start --ssh_user=root {orig} --new_master_host=db2.example --new_master_ip=10.0.2.10 --new_master_port=3306 --new_master_user=mha --new_master_password=Pw-42"
    ));
    assert_eq!(code, 0, "{out}");
    let targets = vip_targets(&moto, &v.route_tables, VIP).await.unwrap();
    assert!(
        targets
            .iter()
            .all(|t| t.as_deref() == Some(v.enis[1].as_str())),
        "{targets:?}"
    );
    // Now a status for db1 is refused, naming where the VIP is.
    let (code, out) = hook(&format!("--command=status --ssh_user=root {orig}"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("points at db2"), "{out}");
    // A node MHA names that vipkeeper does not know: abort, with the nodes.
    let (code, out) = hook("--command=status --orig_master_host=10.9.9.9 --orig_master_port=3306");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no node of cluster main is 10.9.9.9"), "{out}");
}

/// `mha import` on three MHA configs of different shapes: each gives a
/// config `check --offline` accepts, with the passwords in files of their
/// own and never in the config or the output.
#[test]
fn mha_import_gives_configs_that_check_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("master_ip_failover");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let shapes = [
        // Two servers, nothing but the essentials.
        (
            "plain",
            "[server default]\nuser=mha\npassword=Secret-A1\nrepl_user=repl\nrepl_password=Secret-A2\n\n[server1]\nhostname=10.0.1.10\n\n[server2]\nhostname=10.0.2.10\n".to_string(),
            None,
        ),
        // A candidate master, a no_master, ports, SSH and workdirs.
        (
            "app1",
            "[server default]\nmanager_workdir=/var/log/masterha/app1\nmanager_log=/var/log/masterha/app1/manager.log\nremote_workdir=/tmp\nuser=mha\npassword=Secret-B1\nrepl_user=repl\nrepl_password=Secret-B2\nssh_user=root\nping_interval=3\nmaster_binlog_dir=/var/lib/mysql\n\n[server1]\nhostname=db1.example.internal\ncandidate_master=1\n\n[server2]\nhostname=db2.example.internal\nport=3307\ncandidate_master=1\n\n[server3]\nhostname=db3.example.internal\nno_master=1\n".to_string(),
            None,
        ),
        // Several sections with their own settings, the VIP script kept.
        (
            "shop",
            format!("[server default]\nuser=mha\npassword=Secret-C1\nrepl_user=repl\nrepl_password=Secret-C2\nmaster_ip_failover_script={}\nmaster_ip_online_change_script=/usr/local/bin/online_change\nreport_script=/usr/local/bin/report\n\n[server1]\nhostname=10.1.0.1\nport=3306\n\n[server2]\nhostname=10.1.0.2\nport=3306\nignore_fail=1\n\n[server3]\nhostname=10.1.0.3\nport=3306\n\n[server4]\nhostname=10.1.0.4\nno_master=1\n", script.display()),
            Some("10.254.0.10"),
        ),
    ];
    for (name, text, vip) in shapes {
        let mha = dir.path().join(format!("{name}.cnf"));
        std::fs::write(&mha, &text).unwrap();
        let out = dir.path().join(format!("{name}.toml"));
        let mut args = vec![
            "mha".to_string(),
            "import".into(),
            mha.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ];
        if let Some(v) = vip {
            args.extend(["--vip".into(), v.into()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, said) = support::vipkeeper_on(&out, &refs, &[]);
        assert_eq!(code, 0, "{name}: {said}");
        assert!(!said.contains("Secret-"), "{said}");
        let config = std::fs::read_to_string(&out).unwrap();
        assert!(!config.contains("Secret-"), "{config}");
        let (code, checked) = support::vipkeeper_on(&out, &["check", "--offline"], &[]);
        assert_eq!(code, 0, "{name}:\n{config}\n{checked}");
        match name {
            "app1" => {
                assert!(
                    config.contains("prefer = [\"server1\", \"server2\"]"),
                    "{config}"
                );
                assert!(config.contains("never_promote = [\"server3\"]"), "{config}");
                assert!(said.contains("not mapped: ssh_user"), "{said}");
            }
            "shop" => {
                assert!(config.contains("backends = [\"script\"]"), "{config}");
                assert!(said.contains("not mapped: report_script"), "{said}");
                assert_eq!(config.matches("[[cluster.node]]").count(), 4);
            }
            _ => {}
        }
    }
}

/// Without a config, the flags are checked before anything moves: each
/// wrong one is named, with what to give instead, and MHA gets 1.
#[test]
fn config_less_hook_flags_are_checked() {
    let run = |args: &[&str]| {
        let mut all = vec!["hook", "master-ip-failover"];
        all.extend_from_slice(args);
        support::vipkeeper(&all)
    };
    let mha = [
        "--command=status",
        "--orig_master_host=db1",
        "--orig_master_ip=10.0.1.10",
        "--orig_master_port=3306",
    ];
    let with = |flags: &[&'static str]| {
        let mut v = flags.to_vec();
        v.extend_from_slice(&mha);
        run(&v)
    };
    let (code, _, err) = with(&["--vip", "10.254.0.10"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--backend aws-route-table|linux-route is needed"),
        "{err}"
    );
    let (code, _, err) = with(&["--vip", "10.254.0.10", "--route-table", "rtb-1"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no --eni for db1 (MHA's original master)"),
        "{err}"
    );
    let (code, _, err) = with(&["--vip", "10.254.0.10", "--eni", "db1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--eni db1: give HOST=eni-"), "{err}");
    // A flag of the config-less form without --vip is refused by name.
    let (code, _, err) = with(&["--eni", "db1=eni-1"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("--vip"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

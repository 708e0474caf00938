//! No configured secret in any output, log, journal, report or child
//! environment — even when a server echoes part of one: a replication
//! password over the server's limit (MariaDB error 1470 quotes its first
//! 64 characters), a monitor password from the environment.

use vipkeeper_harness as support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use support::cluster::write_secret;
use support::{per_flavor, ClusterSpec, ConfigExtras, Flavor, TestCluster};

per_flavor!(no_secret_reaches_any_output_even_when_a_server_echoes_one);

const LONG: Duration = Duration::from_secs(40);
const MONITOR_ENV: &str = "VK_TEST_MONITOR_PASSWORD";

fn run(config: &std::path::Path, args: &[&str]) -> (i32, String) {
    support::vipkeeper_on(
        config,
        args,
        &[(MONITOR_ENV, support::cluster::MONITOR_PASSWORD)],
    )
}

/// Every run of 8 characters of `secret` found in `text`.
fn leaks(text: &str, secret: &str) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(8.min(chars.len()))
        .map(|w| w.iter().collect::<String>())
        .filter(|w| text.contains(w.as_str()))
        .collect()
}

async fn no_secret_reaches_any_output_even_when_a_server_echoes_one(flavor: Flavor) {
    let cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    cluster.create_writer_table(LONG).await.unwrap();
    let d = cluster.dir.clone();
    let notify = d.join("notify.sh");
    std::fs::write(
        &notify,
        format!(
            "#!/bin/sh\nenv > {d}/notify.env\ncat > {d}/notified.json\n",
            d = d.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&notify, std::fs::Permissions::from_mode(0o755)).unwrap();
    let extras = ConfigExtras {
        cluster_toml: cluster.vip_script_toml().unwrap(),
        agent_toml: format!("notify = \"{}\"", notify.display()),
        ..Default::default()
    };
    let config = cluster.write_config_with("main", &extras).unwrap();
    // The monitor password from the environment; the replication password
    // misconfigured: 137 characters, over every server's limit.
    let monitor_file = format!(
        "password_file = \"{}\"",
        d.join("secrets/monitor.password").display()
    );
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&monitor_file, &format!("password_env = \"{MONITOR_ENV}\""));
    std::fs::write(&config, text).unwrap();
    let long: String = (0..137)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect::<String>()
        + "";
    let long = format!("Repl-{}", &long[5..]);
    write_secret(&d.join("secrets/replication.password"), &long).unwrap();

    let (code, check_out) = run(&config, &["check"]);
    assert_eq!(code, 1, "{check_out}");
    assert!(
        check_out.contains("the replication password is 137 characters long"),
        "{check_out}"
    );

    let mut cluster = cluster;
    cluster.node_mut("db1").kill9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (code, failover_out) = run(&config, &["failover", "main"]);
    // Promoted; repointing failed, and the exit status says so.
    assert_eq!(code, 2, "{failover_out}");
    assert!(failover_out.contains("db2 replaced db1"), "{failover_out}");
    assert!(
        failover_out.contains("its previous source was kept and replication restarted"),
        "{failover_out}"
    );
    assert!(!cluster.read_only("db2").await);
    // db3 kept its source and replicates (or retries) again, not stopped.
    let sql_running = match flavor {
        Flavor::Mariadb => "Slave_SQL_Running",
        Flavor::Mysql => "Replica_SQL_Running",
    };
    assert_eq!(
        cluster
            .node("db3")
            .query_value(flavor.replica_status_sql(), sql_running)
            .await
            .unwrap()
            .as_deref(),
        Some("Yes")
    );

    // Everything vipkeeper wrote or handed on.
    let state = d.join("state").join("main");
    let mut everything = vec![
        ("check output", check_out),
        ("failover output", failover_out),
    ];
    for sub in ["journal", "reports"] {
        for f in std::fs::read_dir(state.join(sub)).unwrap() {
            let p = f.unwrap().path();
            everything.push(("a state file", std::fs::read_to_string(&p).unwrap()));
        }
    }
    for f in ["notified.json", "notify.env"] {
        everything.push((f, std::fs::read_to_string(d.join(f)).unwrap()));
    }
    for (what, text) in &everything {
        for secret in [long.as_str(), support::cluster::MONITOR_PASSWORD] {
            let found = leaks(text, secret);
            assert!(found.is_empty(), "{what} holds {found:?}:\n{text}");
        }
        assert!(
            !text.contains(MONITOR_ENV),
            "{what} names {MONITOR_ENV}:\n{text}"
        );
    }
}

//! `vipkeeper check` through the binary: a broken config file, and the live
//! checks (reachability, settings, privileges) against real clusters.

use vipkeeper_harness as support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use support::cluster::{write_secret, ADMIN_USER, REPL_USER};
use support::{per_flavor, vipkeeper, ClusterSpec, Flavor, TestCluster};

per_flavor!(
    check_passes_then_names_a_missing_privilege_and_a_bad_password,
    check_names_file_position_replicas_and_writable_replicas_with_the_fix,
);

/// A file/position cluster whose servers keep GTIDs (every MariaDB; MySQL
/// here runs gtid_mode=OFF, so only the writable replica is named there).
async fn check_names_file_position_replicas_and_writable_replicas_with_the_fix(flavor: Flavor) {
    let mut spec = ClusterSpec::new(flavor);
    spec.gtid = false;
    let cluster = TestCluster::start(spec).await.unwrap();
    let config = cluster.write_config("main").unwrap();
    let config = config.to_str().unwrap();
    let writable = flavor.writable_sql();
    cluster.node("db3").exec(&[writable]).await.unwrap();

    let (code, out, err) = vipkeeper(&["-c", config, "check"]);
    assert_eq!(code, 0, "warnings only:\n{out}\n{err}");
    let db2 = out
        .lines()
        .find(|l| l.trim_start().starts_with("db2 "))
        .unwrap();
    assert!(db2.contains("(replicates by file/position)"), "{db2}");
    let file_pos = "db2: replicates by binlog file and position although the servers keep GTIDs";
    match flavor {
        Flavor::Mariadb => {
            assert!(out.contains(file_pos), "{out}");
            assert!(
                out.contains(
                    "(STOP SLAVE; CHANGE MASTER TO master_use_gtid=slave_pos; START SLAVE)"
                ),
                "{out}"
            );
        }
        Flavor::Mysql => assert!(!out.contains(file_pos), "gtid_mode is OFF:\n{out}"),
    }
    assert!(
        out.contains(
            "warning: db3: a replica with read_only off: clients can write to it beside the master"
        ),
        "{out}"
    );
    assert!(
        out.contains("in every node's my.cnf so a restarted old master comes back read-only"),
        "{out}"
    );
    assert!(
        out.contains("managers: with several vipkeeper managers"),
        "{out}"
    );
}

async fn check_passes_then_names_a_missing_privilege_and_a_bad_password(flavor: Flavor) {
    let cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let config = cluster.write_config("main").unwrap();
    let config = config.to_str().unwrap();

    let (code, out, err) = vipkeeper(&["-c", config, "check"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("configuration ok (1 cluster(s), 3 node(s))"),
        "{out}"
    );
    for (name, role) in [("db1", "master"), ("db2", "replica"), ("db3", "replica")] {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap();
        assert!(
            line.contains("reachable") && line.contains(role) && line.contains(flavor.name()),
            "{line}"
        );
    }
    assert!(out.contains("check: 0 error(s), 0 warning(s)"), "{out}");

    // Revoked on the master, replicated everywhere.
    let privilege = match flavor {
        Flavor::Mysql => "CONNECTION_ADMIN",
        Flavor::Mariadb => "CONNECTION ADMIN",
    };
    cluster
        .master()
        .exec(&[&format!(
            "REVOKE {privilege} ON *.* FROM '{ADMIN_USER}'@'%'"
        )])
        .await
        .unwrap();
    // Recommended only: a warning, not an error.
    if flavor == Flavor::Mysql {
        cluster
            .master()
            .exec(&[&format!(
                "REVOKE SYSTEM_USER ON *.* FROM '{ADMIN_USER}'@'%'"
            )])
            .await
            .unwrap();
    }
    cluster
        .wait_replicated(Duration::from_secs(20))
        .await
        .unwrap();
    // The replication user's password file now holds a wrong password.
    write_secret(
        &cluster.dir.join("secrets/replication.password"),
        "wrong-password",
    )
    .unwrap();

    let (code, out, _) = vipkeeper(&["-c", config, "check"]);
    assert_eq!(code, 1, "{out}");
    for name in ["db1", "db2", "db3"] {
        let lacks = format!(
            "error: {name}: user {ADMIN_USER} (admin) lacks {privilege} (needed for: KILL client connections when fencing) (GRANT {privilege} ON *.* TO '{ADMIN_USER}'@'%')"
        );
        assert!(out.contains(&lacks), "missing {lacks:?} in\n{out}");
        let denied = format!("error: {name}: user {REPL_USER} (replication): access denied while connecting (error 1045)");
        assert!(out.contains(&denied), "missing {denied:?} in\n{out}");
        let recommended = format!("warning: {name}: user {ADMIN_USER} (admin) lacks SYSTEM_USER (recommended: KILL a replica's applier stuck");
        assert_eq!(
            out.contains(&recommended),
            flavor == Flavor::Mysql,
            "{recommended:?} in\n{out}"
        );
    }
    assert!(
        !out.contains("wrong-password") && !out.contains("Secret-"),
        "a password leaked:\n{out}"
    );
    assert!(out.contains("check: 6 error(s)"), "{out}");
}

#[test]
fn a_broken_config_gets_one_located_line_per_problem() {
    let dir = tempfile::tempdir().unwrap();
    let loose = dir.path().join("loose.password");
    std::fs::write(&loose, "pw\n").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let text = format!(
        r#"[[cluster]]
name = "main"
[cluster.users.monitor]
user = "m"
password_file = "{loose}"
[cluster.users.admin]
user = "a"
password_file = "{dir}/missing.password"
[cluster.users.replication]
user = "r"
password_file = "{loose}"
retries = 3

[[cluster.node]]
name = "db1"
host = "10.0.0.1"
port = 99999

[[cluster.node]]
name = "db1"
host = "10.0.0.2"
"#,
        loose = loose.display(),
        dir = dir.path().display()
    );
    let config = dir.path().join("vipkeeper.toml");
    std::fs::write(&config, text).unwrap();
    let path = config.to_str().unwrap();
    let (code, out, _) = vipkeeper(&["-c", path, "check"]);
    assert_eq!(code, 1, "{out}");
    let expected = [
        format!("{path}:5:17: warning: users.monitor: password file {} is readable by group/others (mode 0644) (chmod 600 {})", loose.display(), loose.display()),
        format!("{path}:8:17: error: users.admin: cannot read password file {}/missing.password: No such file or directory (os error 2) (create it with the password on its first line, mode 0600)", dir.path().display()),
        format!("{path}:12:1: error: unknown field `retries`, expected one of `user`, `password`, `password_file`, `password_env` (fix the spelling or remove the key)"),
        format!("{path}:17:8: error: node `db1`: port 99999 is out of range (use a TCP port from 1 to 65535)"),
        format!("{path}:20:8: error: duplicate node name `db1` (first defined at line 15) (give every node of a cluster its own name)"),
        format!("check: 4 error(s), 1 warning(s) in {path}"),
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "\n{out}"
    );
}

#[test]
fn offline_check_of_a_good_config_and_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("pw");
    write_secret(&secret, "pw").unwrap();
    let s = secret.display();
    let text = format!(
        "[[cluster]]\nname = \"main\"\n\
         [cluster.users.monitor]\nuser = \"m\"\npassword_file = \"{s}\"\n\
         [cluster.users.admin]\nuser = \"a\"\npassword_file = \"{s}\"\n\
         [cluster.users.replication]\nuser = \"r\"\npassword_file = \"{s}\"\n\
         [[cluster.node]]\nname = \"db1\"\nhost = \"10.0.0.1\"\n\
         [[cluster.node]]\nname = \"db2\"\nhost = \"10.0.0.2\"\n"
    );
    let config = dir.path().join("vipkeeper.toml");
    std::fs::write(&config, text).unwrap();
    let (code, out, _) = vipkeeper(&["-c", config.to_str().unwrap(), "check", "--offline"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("configuration ok (1 cluster(s), 2 node(s))"),
        "{out}"
    );

    let missing = dir.path().join("nope.toml");
    let (code, out, _) = vipkeeper(&["-c", missing.to_str().unwrap(), "check"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("error: cannot read the config file") && out.contains("--config PATH"),
        "{out}"
    );
}

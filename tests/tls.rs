//! TLS to MySQL and MariaDB servers that refuse clear text
//! (`require_secure_transport=ON`, certificates of a CA the test makes):
//! `disabled` is refused with an error naming the node; `required` probes,
//! switches over and fails over (replication over TLS too);
//! `verify-identity` checks the chain and the name, refuses a certificate
//! for another name, and accepts it when told that name (`server_name`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vipkeeper_harness as support;

use support::agent::Agent;
use support::{per_flavor, vipkeeper_on, ClusterSpec, ConfigExtras, Flavor, TestCluster};

const LONG: Duration = Duration::from_secs(40);

per_flavor!(servers_that_require_tls);

fn config(cluster: &TestCluster, name: &str, tls_toml: &str) -> PathBuf {
    let extras = ConfigExtras {
        cluster_toml: format!("{}\n{tls_toml}", cluster.vip_script_toml().unwrap()),
        ..Default::default()
    };
    let path = cluster.write_config_with("main", &extras).unwrap();
    let renamed = cluster.dir.join(format!("{name}.toml"));
    std::fs::rename(&path, &renamed).unwrap();
    renamed
}

/// The same config with every node reached as `localhost` (the name in
/// the servers' certificate) instead of 127.0.0.1.
fn by_name(config: &Path) -> PathBuf {
    let text = std::fs::read_to_string(config)
        .unwrap()
        .replace("host = \"127.0.0.1\"", "host = \"localhost\"");
    let path = config.with_extension("by-name.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path
}

/// Whether `node` replicates over TLS, both threads running.
async fn replicates_over_tls(c: &TestCluster, node: &str) -> bool {
    let Some(row) = c
        .node(node)
        .query_row(c.spec.flavor.replica_status_sql())
        .await
        .unwrap()
    else {
        return false;
    };
    let get = |names: &[&str]| {
        row.iter()
            .find(|(n, _)| names.contains(&n.as_str()))
            .and_then(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    get(&["Slave_IO_Running", "Replica_IO_Running"]) == "Yes"
        && get(&["Slave_SQL_Running", "Replica_SQL_Running"]) == "Yes"
        && get(&["Master_SSL_Allowed", "Source_SSL_Allowed"]) == "Yes"
}

async fn writable(c: &TestCluster, node: &str) -> bool {
    c.node(node)
        .query_value("SELECT @@global.read_only AS ro", "ro")
        .await
        .ok()
        .flatten()
        .as_deref()
        == Some("0")
}

async fn servers_that_require_tls(flavor: Flavor) {
    let mut spec = ClusterSpec::new(flavor);
    spec.tls = true;
    let mut cluster = TestCluster::start(spec).await.unwrap();
    let files = cluster.tls.clone().unwrap();
    let ca = files.ca.display().to_string();

    // Clear text: refused by the servers, and said so per node.
    let clear = config(&cluster, "clear", "[cluster.tls]\nmode = \"disabled\"");
    let (code, out) = vipkeeper_on(&clear, &["check"], &[]);
    assert_eq!(code, 1, "{out}");
    // MySQL says why (secure transport required); MariaDB says "access
    // denied". Both name the node and point at [cluster.tls].
    let said = match flavor {
        Flavor::Mysql => "TLS failed",
        Flavor::Mariadb => "access denied",
    };
    assert!(
        out.contains("error: db1: cannot probe") && out.contains(said),
        "{out}"
    );
    assert!(out.contains("require_secure_transport"), "{out}");

    // required: every node probed over TLS, check says so.
    let required = config(&cluster, "required", "[cluster.tls]\nmode = \"required\"");
    let (code, out) = vipkeeper_on(&required, &["check"], &[]);
    assert_eq!(out.matches("TLS: encrypted").count(), 3, "{out}");
    assert!(!out.contains("cannot probe"), "{out}");
    assert_eq!(code, 0, "{out}");

    // A switchover: db2 takes over, db1 and db3 replicate from it over TLS.
    let (code, out) = vipkeeper_on(
        &required,
        &["switchover", "main", "--to", "db2", "--yes"],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert!(writable(&cluster, "db2").await);
    assert!(
        replicates_over_tls(&cluster, "db1").await,
        "db1 after the switchover"
    );
    assert!(
        replicates_over_tls(&cluster, "db3").await,
        "db3 after the switchover"
    );

    // A failover by the agent: db2 killed, one of the others promoted.
    let agent = Agent::start(
        env!("CARGO_BIN_EXE_vipkeeper").as_ref(),
        &required,
        &cluster.dir,
    );
    agent.wait_for_log("healthy: db2 is the master", LONG);
    cluster.node_mut("db2").kill9();
    agent.wait_for_log("replaced db2", LONG);
    let deadline = Instant::now() + LONG;
    let (new, other) = loop {
        if writable(&cluster, "db1").await {
            break ("db1", "db3");
        }
        if writable(&cluster, "db3").await {
            break ("db3", "db1");
        }
        assert!(Instant::now() < deadline, "{}", agent.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        replicates_over_tls(&cluster, other).await,
        "{other} replicates from {new}"
    );
    drop(agent);

    // verify-identity by the name in the certificate, then verify-ca.
    let identity = by_name(&config(
        &cluster,
        "identity",
        &format!("[cluster.tls]\nmode = \"verify-identity\"\nca_file = \"{ca}\""),
    ));
    // (db2, killed above, is the one unreachable node.)
    let (code, out) = vipkeeper_on(&identity, &["status"], &[]);
    assert!(code == 0 || code == 2, "{out}");
    assert_eq!(out.matches("UNREACHABLE").count(), 1, "{out}");
    assert!(
        out.contains(&format!("master: {new}")) && !out.contains("TLS failed"),
        "{out}"
    );

    // The servers now show a certificate for another name: verify-identity
    // refuses it; told the name the certificate carries, it connects.
    for name in [new, other] {
        let server = cluster.node(name);
        std::fs::copy(&files.other_cert, &files.cert).unwrap();
        std::fs::copy(&files.other_key, &files.key).unwrap();
        let reload = match flavor {
            Flavor::Mariadb => "FLUSH SSL",
            Flavor::Mysql => "ALTER INSTANCE RELOAD TLS",
        };
        server.exec(&[reload]).await.unwrap();
    }
    let (_, out) = vipkeeper_on(&identity, &["status"], &[]);
    assert_eq!(out.matches("UNREACHABLE: TLS failed").count(), 2, "{out}");
    assert!(
        out.contains("certificate not valid for name \"localhost\""),
        "{out}"
    );
    let named = config(
        &cluster,
        "named",
        &format!(
            "[cluster.tls]\nmode = \"verify-identity\"\nca_file = \"{ca}\"\nserver_name = \"db.example.invalid\""
        ),
    );
    let (code, out) = vipkeeper_on(&named, &["status"], &[]);
    assert!(code == 0 || code == 2, "{out}");
    assert!(
        out.contains(&format!("master: {new}")) && !out.contains("TLS failed"),
        "{out}"
    );
}

/// verify-identity cannot check a name where the config gives an address
/// (unless told the name to expect); verify-ca is refused with the reason.
#[test]
fn verify_identity_with_an_address_as_host_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.toml");
    let text = format!(
        "[agent]\nstate_dir = \"{d}/state\"\nlisten = \"\"\n\n[[cluster]]\nname = \"main\"\n\
         [cluster.users.monitor]\nuser = \"m\"\npassword = \"x\"\n\
         [cluster.users.admin]\nuser = \"a\"\npassword = \"x\"\n\
         [cluster.users.replication]\nuser = \"r\"\npassword = \"x\"\n\
         [cluster.tls]\nmode = \"verify-identity\"\n\
         [[cluster.node]]\nname = \"db1\"\nhost = \"10.0.0.1\"\n\
         [[cluster.node]]\nname = \"db2\"\nhost = \"db2.example.internal\"\n",
        d = dir.path().display()
    );
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let (code, out) = vipkeeper_on(&path, &["check", "--offline"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("node `db1` has the IP address 10.0.0.1 as host"),
        "{out}"
    );
    assert!(!out.contains("db2` has the IP"), "{out}");

    let named = std::fs::read_to_string(&path).unwrap().replace(
        "mode = \"verify-identity\"",
        "mode = \"verify-identity\"\nserver_name = \"db.example.internal\"",
    );
    std::fs::write(&path, named).unwrap();
    let (code, out) = vipkeeper_on(&path, &["check", "--offline"], &[]);
    assert_eq!(code, 0, "{out}");

    let ca = std::fs::read_to_string(&path)
        .unwrap()
        .replace("mode = \"verify-identity\"", "mode = \"verify-ca\"");
    std::fs::write(&path, ca).unwrap();
    let (code, out) = vipkeeper_on(&path, &["check", "--offline"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"verify-ca\" is not available"), "{out}");
}

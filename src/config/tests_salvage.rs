//! `[cluster.salvage]` and the nodes' `host_agent` / `binlog_index`: read,
//! defaulted, and their mistakes named.

use std::os::unix::fs::PermissionsExt;

use super::tests::{good_config, Fixture};
use super::*;

#[test]
fn salvage_settings_and_their_mistakes() {
    let f = Fixture::new();
    let secret = f.secret("pw", 0o600);
    let token = |name: &str, text: &str, mode: u32| {
        let path = f.secret(name, mode);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    };
    let good = token("token", "0123456789abcdef0123\n", 0o600);
    let with = |salvage: &str, db1: &str| {
        good_config(&secret)
            .replacen(
                "[[cluster.node]]",
                &format!("{salvage}\n[[cluster.node]]"),
                1,
            )
            .replacen(
                "eni_id = \"eni-0a1b2c3d4e5f60718\"",
                &format!("eni_id = \"eni-0a1b2c3d4e5f60718\"\n{db1}"),
                1,
            )
    };
    let c = load(&f.config(
        &with(
            &format!("[cluster.salvage]\ntoken_file = \"{}\"\n", good.display()),
            "host_agent = \"10.0.1.10:9107\"\nbinlog_index = \"/data/mysql/binlog.index\"\nrelay_log_index = \"/data/mysql/relay-bin.index\"\n",
        ),
        0o600,
    ))
    .unwrap()
    .config;
    let cluster = &c.clusters[0];
    let s = cluster.salvage.as_ref().unwrap();
    assert_eq!(s.token.expose(), "0123456789abcdef0123");
    assert_eq!(s.deadline, salvage::DEFAULT_DEADLINE);
    assert_eq!(s.max_bytes, salvage::DEFAULT_MAX_BYTES);
    let db1 = cluster.node("db1").unwrap();
    assert_eq!(db1.host_agent.as_deref(), Some("10.0.1.10:9107"));
    assert_eq!(
        db1.binlog_index.as_deref(),
        Some(std::path::Path::new("/data/mysql/binlog.index"))
    );
    assert_eq!(
        db1.relay_log_index.as_deref(),
        Some(std::path::Path::new("/data/mysql/relay-bin.index"))
    );
    assert_eq!(cluster.node("db2").unwrap().host_agent, None);

    let open = token("open", "0123456789abcdef0123\n", 0o644);
    let short = token("short", "tiny\n", 0o600);
    let first = |salvage: &str, db1: &str| -> String {
        load(&f.config(&with(salvage, db1), 0o600))
            .unwrap_err()
            .problems
            .first()
            .map(|p| p.message.clone())
            .unwrap()
    };
    let at = |p: &std::path::Path| format!("[cluster.salvage]\ntoken_file = \"{}\"\n", p.display());
    for (salvage, db1, expected) in [
        (at(&open), "", "is readable by group/others (mode 0644)"),
        (at(&short), "", "is shorter than 16 characters"),
        (
            "[cluster.salvage]\ntoken_file = \"salvage.token\"\n".to_string(),
            "",
            "salvage.token_file salvage.token is not an absolute path",
        ),
        (
            at(&good),
            "host_agent = \"10.0.1.10\"\n",
            "node `db1`: host_agent `10.0.1.10` is not host:port",
        ),
        (
            at(&good),
            "binlog_index = \"binlog.index\"\n",
            "node `db1`: binlog_index `binlog.index` is not an absolute path",
        ),
        (
            at(&good),
            "relay_log_index = \"relay-bin.index\"\n",
            "node `db1`: relay_log_index `relay-bin.index` is not an absolute path",
        ),
        (
            format!("{}max_bytes = 10\n", at(&good)),
            "",
            "salvage.max_bytes 10 is too small",
        ),
    ] {
        let got = first(&salvage, db1);
        assert!(got.contains(expected), "{got:?} lacks {expected:?}");
    }
}

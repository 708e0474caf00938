//! `[coordination]`: read, defaulted, and its mistakes named.

use super::tests::{good_config, Fixture};
use super::*;

#[test]
fn coordination_through_etcd_and_its_mistakes() {
    let f = Fixture::new();
    let secret = f.secret("pw", 0o600);
    let with = |coordination: &str| {
        good_config(&secret).replacen("[[cluster]]", &format!("{coordination}\n[[cluster]]"), 1)
    };
    let c = load(&f.config(&good_config(&secret), 0o600))
        .unwrap()
        .config;
    assert_eq!(c.coordination, None);
    let c = load(&f.config(
        &with("[coordination]\netcd = [\"http://127.0.0.1:2379\"]\nname = \"m1\"\n"),
        0o600,
    ))
    .unwrap()
    .config;
    let co = c.coordination.unwrap();
    assert_eq!(co.name, "m1");
    assert_eq!(co.prefix, "/vipkeeper");
    assert_eq!(co.lease_ttl, std::time::Duration::from_secs(10));
    assert_eq!((co.auth, co.tls), (None, None));
    let c = load(&f.config(
        &with(&format!(
            "[coordination]\netcd = [\"https://10.0.1.5:2379\"]\n\
             [coordination.tls]\nca_file = \"/etc/vipkeeper/etcd-ca.pem\"\n\
             [coordination.auth]\nuser = \"vk\"\npassword_file = \"{}\"\n",
            secret.display()
        )),
        0o600,
    ))
    .unwrap()
    .config;
    let co = c.coordination.unwrap();
    assert_eq!(co.auth.unwrap().user, "vk");
    assert_eq!(
        co.tls.unwrap().ca_file,
        std::path::PathBuf::from("/etc/vipkeeper/etcd-ca.pem")
    );
    let messages = |coordination: &str| -> Vec<String> {
        load(&f.config(&with(coordination), 0o600))
            .unwrap_err()
            .problems
            .iter()
            .map(|p| p.message.clone())
            .collect()
    };
    for (coordination, expected) in [
        ("[coordination]\netcd = []\n", "coordination.etcd lists no endpoint"),
        (
            "[coordination]\netcd = [\"127.0.0.1:2379\"]\n",
            "coordination.etcd `127.0.0.1:2379` is not an http:// or https:// URL",
        ),
        (
            "[coordination]\netcd = [\"https://10.0.1.5:2379\"]\n",
            "the etcd endpoints are https:// but coordination.tls is missing",
        ),
        (
            "[coordination]\netcd = [\"http://10.0.1.5:2379\"]\nlease_ttl = \"1500ms\"\n",
            "coordination.lease_ttl must be whole seconds, at least 2",
        ),
        (
            "[coordination]\netcd = [\"http://10.0.1.5:2379\"]\nname = \"a b\"\n",
            "coordination.name `a b` is not a manager name",
        ),
        (
            "[coordination]\netcd = [\"http://10.0.1.5:2379\"]\n[coordination.auth]\nuser = \"vk\"\n",
            "coordination.auth: no password given",
        ),
    ] {
        let found = messages(coordination);
        assert!(
            found.iter().any(|m| m.starts_with(expected)),
            "missing {expected:?} in {found:#?}"
        );
    }
}

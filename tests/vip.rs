//! `vipkeeper vip move` and `vip status` with the linux-route and
//! local-address backends, run inside a fresh network namespace that plays
//! the router (as root; the host's own network is never touched).

use vipkeeper_harness as support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::cluster::write_secret;
use support::netns::Netns;

fn namespace(tag: &str) -> Option<Netns> {
    support::available_or_skip("the VIP tests", Netns::available())
        .then(|| Netns::create(tag).expect("creating a network namespace"))
}

/// A router namespace on 10.77.0.1/24 (the DB hosts would be .11-.13).
fn router() -> Option<Netns> {
    let ns = namespace("vip")?;
    ns.ip(&[
        "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
    ])
    .unwrap();
    ns.ip(&["addr", "add", "10.77.0.1/24", "dev", "veth0"])
        .unwrap();
    ns.ip(&["link", "set", "veth0", "up"]).unwrap();
    ns.ip(&["link", "set", "veth1", "up"]).unwrap();
    Some(ns)
}

fn config(dir: &Path, backends: &str, hosts: [&str; 3]) -> PathBuf {
    let secret = dir.join("pw");
    write_secret(&secret, "pw").unwrap();
    let s = secret.display();
    let mut text = format!(
        "[agent]\nstate_dir = \"{d}/state\"\n\n[[cluster]]\nname = \"main\"\n\
         [cluster.users.monitor]\nuser = \"m\"\npassword_file = \"{s}\"\n\
         [cluster.users.admin]\nuser = \"a\"\npassword_file = \"{s}\"\n\
         [cluster.users.replication]\nuser = \"r\"\npassword_file = \"{s}\"\n\
         [cluster.timing]\nconnect_timeout = \"200ms\"\nquery_timeout = \"200ms\"\n\
         [cluster.vip]\naddress = \"10.254.0.10\"\nbackends = [{backends}]\n",
        d = dir.display()
    );
    for (i, h) in hosts.iter().enumerate() {
        text.push_str(&format!(
            "[[cluster.node]]\nname = \"db{}\"\nhost = \"{h}\"\n",
            i + 1
        ));
    }
    let path = dir.join("vipkeeper.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs vipkeeper inside the namespace: (exit code, stdout + stderr).
fn vk(ns: &Netns, config: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            env!("CARGO_BIN_EXE_vipkeeper"),
            "-c",
        ])
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn linux_route_moves_reads_back_and_refuses_a_non_master() {
    let Some(ns) = router() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "\"linux-route\"",
        ["10.77.0.11", "10.77.0.12", "10.77.0.13"],
    );

    // Nothing answers at the DB addresses: no node is the master, so a move
    // needs --force (and is refused without it).
    let (code, out) = vk(&ns, &cfg, &["vip", "move", "--to", "db2"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error: db2 is not the writable master (the master is unknown)")
            && out.contains("--force"),
        "{out}"
    );

    let (code, out) = vk(
        &ns,
        &cfg,
        &["vip", "move", "--to", "db2", "--force", "--dry-run"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("linux-route: now no route for 10.254.0.10/32 in table 254"),
        "{out}"
    );
    assert!(
        ns.ip(&["route", "show", "10.254.0.10/32"])
            .unwrap()
            .trim()
            .is_empty(),
        "dry run changed nothing"
    );

    let (code, out) = vk(&ns, &cfg, &["vip", "move", "--to", "db2", "--force"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "linux-route: 10.254.0.10/32 now via 10.77.0.12 (db2) in table 254, was nowhere"
        ),
        "{out}"
    );
    assert!(ns
        .ip(&["route", "show", "10.254.0.10/32"])
        .unwrap()
        .contains("via 10.77.0.12"));

    let (code, out) = vk(&ns, &cfg, &["vip", "move", "--to", "db2", "--force"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("already via 10.77.0.12 (db2)"), "{out}");

    let (code, out) = vk(&ns, &cfg, &["vip", "move", "--to", "db3", "--force"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("now via 10.77.0.13 (db3) in table 254, was 10.77.0.12 (db2)"),
        "{out}"
    );

    let (code, out) = vk(&ns, &cfg, &["vip", "status"]);
    assert_eq!(code, 2, "pointing at a node that is not the master: {out}");
    assert!(
        out.contains(
            "linux-route: 10.254.0.10/32 via 10.77.0.13 in table 254 -> db3, NOT the master"
        ),
        "{out}"
    );
}

#[test]
fn local_address_is_held_only_by_the_host_that_is_the_node() {
    let Some(ns) = router() else { return };
    let dir = tempfile::tempdir().unwrap();
    // This namespace is "db2" (it holds 10.77.0.1).
    let cfg = config(
        dir.path(),
        "\"local-address\"",
        ["10.77.0.11", "10.77.0.1", "10.77.0.13"],
    );

    let (code, out) = vk(&ns, &cfg, &["vip", "move", "--to", "db3", "--force"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("local-address: this host is neither db3 nor the old master"),
        "{out}"
    );

    let (code, out) = vk(&ns, &cfg, &["vip", "move", "--to", "db2", "--force"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("10.254.0.10/32 added to lo of db2 (this host)"),
        "{out}"
    );
    assert!(ns
        .ip(&["-4", "addr", "show", "dev", "lo"])
        .unwrap()
        .contains("10.254.0.10/32"));

    // Moving away: this host was the old master, so it lets the address go.
    let (code, out) = vk(&ns, &cfg, &["vip", "move", "--to", "db1", "--force"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("10.254.0.10/32 removed from lo of db2 (this host)"),
        "{out}"
    );
    assert!(!ns
        .ip(&["-4", "addr", "show", "dev", "lo"])
        .unwrap()
        .contains("10.254.0.10"));
}

#[test]
fn script_exit_status_10_proceeds_and_others_abort() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("move-vip.sh");
    let cfg = config(
        dir.path(),
        "\"script\"",
        ["127.0.0.2", "127.0.0.3", "127.0.0.4"],
    );
    // A table header after the nodes still belongs to the (last) cluster.
    let text = std::fs::read_to_string(&cfg).unwrap()
        + &format!("[cluster.vip.script]\ncommand = \"{}\"\n", script.display());
    std::fs::write(&cfg, text).unwrap();
    let run = |exit: i32| {
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$@\" > {}/args\necho moving >&2\nexit {exit}\n",
                dir.path().display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_vipkeeper"))
            .arg("-c")
            .arg(&cfg)
            .args(["vip", "move", "--to", "db2", "--force"])
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = run(0);
    assert_eq!(code, 0, "{out}");
    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert!(
        args.contains("--command=start")
            && args.contains("--new_master_host=127.0.0.3")
            && args.contains("--vip=10.254.0.10"),
        "{args}"
    );
    let (code, out) = run(10);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("exited 10 (failed, proceed): moving"), "{out}");
    let (code, out) = run(3);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error: VIP backend script:") && out.contains("exited 3: moving"),
        "{out}"
    );
}

//! What vipkeeper leaks, trusts or accepts, tried as an operator would:
//! hooks that outlive their timeout, secrets in children's environments,
//! unusable state directories, files others can write, odd names and
//! hosts, oversized config files. These need no database server: the
//! nodes are closed loopback ports.

use vipkeeper_harness as support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::cluster::write_secret;

/// A config for cluster `main` with three nodes on closed ports and a
/// script VIP backend running `script`; `extra` goes into the cluster.
fn config(dir: &Path, script: &Path, users: &str, extra: &str) -> PathBuf {
    let secret = dir.join("pw");
    write_secret(&secret, "file-Secret-1").unwrap();
    let s = secret.display();
    let users = if users.is_empty() {
        format!(
            "[cluster.users.monitor]\nuser = \"m\"\npassword_file = \"{s}\"\n\
             [cluster.users.admin]\nuser = \"a\"\npassword_file = \"{s}\"\n\
             [cluster.users.replication]\nuser = \"r\"\npassword_file = \"{s}\"\n"
        )
    } else {
        users.to_string()
    };
    let text = format!(
        "[agent]\nstate_dir = \"{d}/state\"\n\n[[cluster]]\nname = \"main\"\n{users}\
         [cluster.timing]\nconnect_timeout = \"200ms\"\nquery_timeout = \"200ms\"\n\
         [cluster.vip]\naddress = \"10.254.0.10\"\nbackends = [\"script\"]\n\
         [cluster.vip.script]\ncommand = \"{script}\"\ntimeout = \"500ms\"\n{extra}\n\
         [[cluster.node]]\nname = \"db1\"\nhost = \"127.0.0.1\"\nport = 1\n\
         [[cluster.node]]\nname = \"db2\"\nhost = \"127.0.0.1\"\nport = 2\n\
         [[cluster.node]]\nname = \"db3\"\nhost = \"127.0.0.1\"\nport = 3\n",
        d = dir.display(),
        script = script.display()
    );
    let path = dir.join("vipkeeper.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("vip.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn run(config: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    support::vipkeeper_on(config, args, env)
}

#[test]
fn a_hook_past_its_timeout_is_killed_with_everything_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let orphan = dir.path().join("orphan-moved-the-vip");
    // A shell wrapper whose slow `aws …` would finish after the timeout.
    let s = script(
        dir.path(),
        &format!(
            "( sleep 1.5; echo late > {} ) &\nsleep 30",
            orphan.display()
        ),
    );
    let c = config(dir.path(), &s, "", "");
    let started = std::time::Instant::now();
    let (code, out) = run(&c, &["vip", "move", "--to", "db2", "--force"], &[]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("did not finish within 500ms: killed it and every process it started"),
        "{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{out}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !orphan.exists(),
        "a process the hook started ran on after it was killed"
    );
}

#[test]
fn secrets_from_the_environment_never_reach_a_hook() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("env-seen-by-hook");
    let s = script(dir.path(), &format!("env > {}", dump.display()));
    let pw = dir.path().join("pw2");
    write_secret(&pw, "file-Secret-1").unwrap();
    let users = format!(
        "[cluster.users.monitor]\nuser = \"m\"\npassword_env = \"VK_MONITOR_PW\"\n\
         [cluster.users.admin]\nuser = \"a\"\npassword_env = \"VK_ADMIN_PW\"\n\
         [cluster.users.replication]\nuser = \"r\"\npassword_file = \"{}\"\n",
        pw.display()
    );
    let c = config(dir.path(), &s, &users, "");
    let (code, out) = run(
        &c,
        &["vip", "move", "--to", "db2", "--force"],
        &[
            ("VK_MONITOR_PW", "env-Secret-monitor"),
            ("VK_ADMIN_PW", "env-Secret-admin"),
            // The same secret under a name vipkeeper was not told about.
            ("SOME_COPY", "env-Secret-admin"),
            ("HARMLESS", "kept"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    let env = std::fs::read_to_string(&dump).unwrap();
    assert!(env.contains("HARMLESS=kept"), "{env}");
    for leaked in ["VK_MONITOR_PW", "VK_ADMIN_PW", "SOME_COPY", "Secret"] {
        assert!(!env.contains(leaked), "{leaked} reached the hook:\n{env}");
    }
}

#[test]
fn an_unusable_state_dir_fails_check_and_the_agent_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = script(dir.path(), "exit 0");
    let c = config(dir.path(), &s, "", "");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let text = std::fs::read_to_string(&c).unwrap().replace(
        &format!("{}/state", dir.path().display()),
        &format!("{}/state", file.display()),
    );
    std::fs::write(&c, text).unwrap();
    let (code, out) = run(&c, &["check", "--offline"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "the state directory {}/state cannot be used",
            file.display()
        )),
        "{out}"
    );
    let started = std::time::Instant::now();
    let (code, out) = run(&c, &["agent"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot be used"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_config_or_hook_others_can_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = script(dir.path(), "exit 0");
    let c = config(dir.path(), &s, "", "");
    let (code, out) = run(&c, &["check", "--offline"], &[]);
    assert_eq!(code, 0, "{out}");
    // The state directory `check` made is private.
    let mode = std::fs::metadata(dir.path().join("state"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);

    std::fs::set_permissions(&c, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, out) = run(&c, &["check", "--offline"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("is writable by group or others (mode 0666), and names commands vipkeeper runs: run `chmod go-w"),
        "{out}"
    );
    let (code, out) = run(&c, &["agent"], &[]);
    assert_eq!(
        code, 1,
        "the agent starts on a config anyone can edit:\n{out}"
    );
    std::fs::set_permissions(&c, std::fs::Permissions::from_mode(0o600)).unwrap();

    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, out) = run(&c, &["vip", "move", "--to", "db2", "--force"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the VIP script"), "{out}");
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).unwrap();

    // Owned by another user (nobody).
    nix::unistd::chown(&c, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let (code, out) = run(&c, &["check", "--offline"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is owned by uid 65534"), "{out}");
}

#[test]
fn names_and_hosts_that_could_escape_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let s = script(dir.path(), "exit 0");
    let c = config(dir.path(), &s, "", "");
    let good = std::fs::read_to_string(&c).unwrap();
    let cases = [
        (
            "name = \"main\"",
            "name = \"..\"",
            "cluster name `..` is not allowed",
        ),
        (
            "name = \"main\"",
            "name = \".\"",
            "cluster name `.` is not allowed",
        ),
        (
            "host = \"127.0.0.1\"\nport = 2",
            "host = \"$(reboot)\"\nport = 2",
            "host `$(reboot)` is not a host name or IP address",
        ),
        (
            "host = \"127.0.0.1\"\nport = 2",
            "host = \"-oProxyCommand=x\"\nport = 2",
            "host `-oProxyCommand=x` is not a host name or IP address",
        ),
        (
            "host = \"127.0.0.1\"\nport = 2",
            "host = \"a\\u0000b\"\nport = 2",
            "host `a\\0b` is not a host name or IP address",
        ),
    ];
    for (from, to, said) in cases {
        std::fs::write(&c, good.replacen(from, to, 1)).unwrap();
        let (code, out) = run(&c, &["check", "--offline"], &[]);
        assert_eq!(code, 1, "{to}: {out}");
        assert!(out.contains(said), "{to}: {out}");
    }
    let long = format!("host = \"{}.example\"\nport = 2", "a".repeat(300));
    std::fs::write(
        &c,
        good.replacen("host = \"127.0.0.1\"\nport = 2", &long, 1),
    )
    .unwrap();
    let (code, out) = run(&c, &["check", "--offline"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not a host name or IP address"), "{out}");
    assert!(
        out.len() < 2000,
        "the error repeats a 300-character host:\n{out}"
    );
    // A port that is not a number: said so, in a config reader's words,
    // and not taken for a missing node.
    std::fs::write(&c, good.replacen("port = 2", "port = \"abc\"", 1)).unwrap();
    let (code, out) = run(&c, &["check", "--offline"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("expected a whole number"), "{out}");
    assert!(out.contains("port = 3306"), "{out}");
    assert!(
        !out.contains("i64") && !out.contains("single node"),
        "{out}"
    );
}

#[test]
fn a_config_path_to_an_endless_file_is_refused_quickly() {
    let started = std::time::Instant::now();
    let (code, out) = run(Path::new("/dev/zero"), &["check", "--offline"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the config file is larger than 4 MiB"),
        "{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A "server" that answers every connection with an error packet whose
/// text carries terminal escape sequences.
fn hostile_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            use std::io::Write;
            let message = b"Host blocked \x1b[2J\x1b]0;owned\x07 now";
            let mut payload = vec![0xff, 0x6a, 0x04]; // error 1130
            payload.extend_from_slice(message);
            let mut packet = vec![payload.len() as u8, 0, 0, 0];
            packet.extend_from_slice(&payload);
            let _ = conn.write_all(&packet);
        }
    });
    port
}

#[test]
fn a_servers_escape_sequences_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let s = script(dir.path(), "exit 0");
    let c = config(dir.path(), &s, "", "");
    let port = hostile_server();
    let text =
        std::fs::read_to_string(&c)
            .unwrap()
            .replacen("port = 1\n", &format!("port = {port}\n"), 1);
    std::fs::write(&c, text).unwrap();
    for args in [&["status"][..], &["check"][..]] {
        let (_, out) = run(&c, args, &[]);
        assert!(
            out.contains("Host blocked"),
            "{args:?}: the error is shown:\n{out}"
        );
        assert!(
            !out.contains('\x1b') && !out.contains('\x07'),
            "{args:?}:\n{out:?}"
        );
        assert!(
            out.contains("\\u{1b}[2J"),
            "{args:?}: shown escaped:\n{out}"
        );
    }
}

#[test]
fn a_quoted_argument_reaches_the_hook_whole() {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("first-argument");
    let s = script(
        dir.path(),
        &format!("printf '%s' \"$1\" > {}", seen.display()),
    );
    let c = config(dir.path(), &s, "", "");
    let text = std::fs::read_to_string(&c).unwrap().replace(
        &format!("command = \"{}\"", s.display()),
        &format!("command = \"{} 'two words'\"", s.display()),
    );
    std::fs::write(&c, text).unwrap();
    let (code, out) = run(&c, &["vip", "move", "--to", "db2", "--force"], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), "two words");
}

//! The .deb and the .rpm, proven by installing them: lintian and rpmlint
//! find no error, both list the same files, the units pass `systemd-analyze
//! verify`, and in a Debian root of its own the .deb installs, upgrades
//! keeping an edited conffile, and is removed and purged leaving nothing
//! behind. Then the same root boots under systemd-nspawn, a real systemd:
//! the service becomes active after READY, a reload with a broken config
//! keeps it running and the journal names the problem, a loop frozen on
//! purpose gets it restarted by the watchdog, and it stops cleanly.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vipkeeper_harness as support;

use support::cluster::free_port;
use support::http::get;
use support::{ClusterSpec, ConfigExtras, Flavor, TestCluster};

const LONG: Duration = Duration::from_secs(60);

fn root_dir() -> PathBuf {
    std::env::var_os("VIPKEEPER_PACKAGE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/vipkeeper-test/debian-root"))
}

/// Whether everything these tests need is here (`make deps` installs it).
fn ready() -> bool {
    let check = || -> Result<(), String> {
        if !nix::unistd::Uid::effective().is_root() {
            return Err("not root (dpkg in a root of its own, systemd-nspawn)".into());
        }
        for tool in [
            "cargo-deb",
            "cargo-generate-rpm",
            "lintian",
            "rpmlint",
            "rpm",
            "systemd-nspawn",
            "systemd-analyze",
        ] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            if !found {
                return Err(format!("{tool} is missing (make deps)"));
            }
        }
        if !root_dir().join("lib/systemd/systemd").exists() {
            return Err(format!(
                "no Debian root at {} (scripts/install-package-root.sh)",
                root_dir().display()
            ));
        }
        Ok(())
    };
    support::available_or_skip("the package tests", check())
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn ok(cmd: &mut Command) -> String {
    let (success, out) = run(cmd);
    assert!(success, "{cmd:?} failed:\n{out}");
    out
}

/// Builds the packages of the test binary, revision `revision`, into `out`.
fn build(out: &Path, revision: u32) -> (PathBuf, PathBuf) {
    ok(Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/packages.sh"))
        .args(["dev", out.to_str().unwrap(), &revision.to_string()])
        .env("VIPKEEPER_BIN", env!("CARGO_BIN_EXE_vipkeeper")));
    let version = env!("CARGO_PKG_VERSION");
    (
        out.join(format!("vipkeeper_{version}-{revision}_amd64.deb")),
        out.join(format!("vipkeeper-{version}-{revision}.x86_64.rpm")),
    )
}

/// A copy of the Debian root, removed when dropped.
struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn copy() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("vk-root-")
            .tempdir_in(root_dir().parent().unwrap())
            .unwrap();
        ok(Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", root_dir().display()))
            .arg(dir.path()));
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn chroot(&self, args: &[&str]) -> (bool, String) {
        run(Command::new("chroot").arg(self.path()).args(args))
    }

    /// `dpkg -i` of a package file from outside the root.
    fn install(&self, deb: &Path) -> String {
        std::fs::copy(deb, self.path().join("tmp/vipkeeper.deb")).unwrap();
        let (success, out) = self.chroot(&["dpkg", "-i", "/tmp/vipkeeper.deb"]);
        assert!(success, "dpkg -i:\n{out}");
        out
    }

    /// Every path in the root, but the logs and dpkg's own records.
    fn paths(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        walk(self.path(), self.path(), &mut out);
        out
    }
}

fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let rel = format!("/{}", p.strip_prefix(base).unwrap().display());
        let skip = ["/var/lib/dpkg", "/var/log", "/var/cache", "/tmp", "/proc", "/run"]
            .iter()
            .any(|s| rel == *s || rel.starts_with(&format!("{s}/")))
            // adduser's and deluser's backups of the account files.
            || rel.ends_with('-');
        if skip {
            continue;
        }
        out.insert(rel);
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(base, &p, out);
        }
    }
}

/// Regular files a .deb installs (its doc files excepted: copyright and
/// changelog are Debian's own).
fn deb_files(deb: &Path) -> BTreeSet<String> {
    ok(Command::new("dpkg-deb").arg("-c").arg(deb))
        .lines()
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| l.split_whitespace().last())
        .map(|p| p.trim_start_matches('.').to_string())
        .filter(|p| !p.ends_with("/copyright") && !p.ends_with("/changelog.Debian.gz"))
        .collect()
}

#[test]
fn packages_build_lint_install_upgrade_and_purge_cleanly() {
    if !ready() {
        return;
    }
    let built = tempfile::tempdir().unwrap();
    let (deb, rpm) = build(built.path(), 1);

    // lintian and rpmlint: no errors (the kept warnings are listed in
    // packaging/README.md and packaging/rpm/rpmlint.toml).
    let (_, lint) = run(Command::new("lintian").arg(&deb));
    assert!(!lint.lines().any(|l| l.starts_with("E:")), "{lint}");
    let (_, lint) = run(Command::new("rpmlint")
        .arg("-c")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/rpm/rpmlint.toml"))
        .arg(&rpm));
    assert!(lint.contains(" 0 errors"), "{lint}");

    // The same files in both.
    let rpm_files: BTreeSet<String> = ok(Command::new("rpm").arg("-qpl").arg(&rpm))
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(deb_files(&deb), rpm_files);

    let root = Root::copy();
    let before = root.paths();
    root.install(&deb);
    let (success, version) = root.chroot(&["vipkeeper", "--version"]);
    assert!(success && version.starts_with("vipkeeper "), "{version}");
    for unit in ["vipkeeper.service", "vipkeeper-host@db1.service"] {
        let (success, out) = root.chroot(&["systemd-analyze", "verify", "--man=no", unit]);
        assert!(success && out.trim().is_empty(), "{unit}:\n{out}");
    }
    // The shipped config checks out but for its documented placeholders:
    // the password files and the environment variable.
    let (success, out) = root.chroot(&["vipkeeper", "check", "--offline"]);
    assert!(!success, "{out}");
    let errors: Vec<&str> = out.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(errors.len(), 3, "{out}");
    for e in &errors {
        assert!(
            e.contains("cannot read password file /etc/vipkeeper/")
                || e.contains("environment variable VIPKEEPER_REPL_PASSWORD is not set"),
            "{e}"
        );
    }
    let conf = root.path().join("etc/vipkeeper/vipkeeper.toml");
    let meta = std::fs::metadata(&conf).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o640
    );
    let (_, group) = root.chroot(&["stat", "-c", "%U:%G", "/etc/vipkeeper/vipkeeper.toml"]);
    assert_eq!(group.trim(), "root:vipkeeper");

    // An upgrade keeps the operator's edit of the conffile.
    let edited = format!(
        "{}\n# edited by the operator\n",
        std::fs::read_to_string(&conf).unwrap()
    );
    std::fs::write(&conf, &edited).unwrap();
    let (deb2, _) = build(built.path(), 2);
    root.install(&deb2);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), edited);
    let (_, status) = root.chroot(&["dpkg-query", "-W", "-f", "${Version}", "vipkeeper"]);
    assert!(status.ends_with("-2"), "{status}");

    // Remove keeps the configuration; purge leaves nothing behind.
    let (success, out) = root.chroot(&["dpkg", "-r", "vipkeeper"]);
    assert!(success, "{out}");
    assert!(!root.path().join("usr/bin/vipkeeper").exists());
    assert!(conf.exists(), "remove keeps the conffile");
    let (success, out) = root.chroot(&["dpkg", "-P", "vipkeeper"]);
    assert!(success, "{out}");
    let (known, _) = root.chroot(&["getent", "passwd", "vipkeeper"]);
    assert!(!known, "the vipkeeper user outlived the purge");
    let after = root.paths();
    let left: Vec<&String> = after.difference(&before).collect();
    assert!(left.is_empty(), "left behind after purge: {left:?}");
}

/// A booted copy of the root under systemd-nspawn (the host's network, so
/// the container reaches the test's servers on loopback).
struct Booted {
    nspawn: Child,
    leader: u32,
}

impl Booted {
    fn boot(root: &Root, name: &str) -> Self {
        // The container's console, kept inside the root (removed with it).
        let log = std::fs::File::create(root.path().join("var/log/nspawn-console.log")).unwrap();
        let nspawn = Command::new("systemd-nspawn")
            .args(["--boot", "--register=no", "--keep-unit", "--quiet"])
            .arg(format!("--machine={name}"))
            .arg("-D")
            .arg(root.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting systemd-nspawn");
        let deadline = Instant::now() + LONG;
        let pid = nspawn.id();
        let leader = loop {
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            if let Some(l) = children.split_whitespace().next() {
                break l.parse().unwrap();
            }
            assert!(Instant::now() < deadline, "the container did not start");
            std::thread::sleep(Duration::from_millis(100));
        };
        let b = Self { nspawn, leader };
        b.wait_for("systemd to finish booting", |b| {
            let (_, s) = b.sh("systemctl is-system-running");
            s.trim() == "running" || s.trim() == "degraded"
        });
        b
    }

    /// A shell command inside the container.
    fn sh(&self, cmd: &str) -> (bool, String) {
        run(Command::new("nsenter")
            .arg("-t")
            .arg(self.leader.to_string())
            .args(["-m", "-u", "-i", "-p", "--", "sh", "-c", cmd]))
    }

    fn show(&self, property: &str) -> String {
        let (_, v) = self.sh(&format!("systemctl show -P {property} vipkeeper"));
        v.trim().to_string()
    }

    fn journal(&self) -> String {
        self.sh("journalctl -u vipkeeper --no-pager").1
    }

    fn wait_for(&self, what: &str, f: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + LONG;
        while !f(self) {
            assert!(
                Instant::now() < deadline,
                "never: {what}\n{}",
                self.journal()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Booted {
    fn drop(&mut self) {
        let _ = self.sh("systemctl poweroff");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.nspawn.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_runs_under_a_real_systemd() {
    if !ready() || !support::require(Flavor::Mariadb) {
        return;
    }
    let cluster = TestCluster::start(ClusterSpec::new(Flavor::Mariadb))
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let (deb, _) = build(out.path(), 1);
    let root = Root::copy();
    root.install(&deb);

    // The sandbox cluster's config, as the package's layout wants it.
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port().unwrap())
        .parse()
        .unwrap();
    let extras = ConfigExtras {
        agent_toml: format!("listen = \"{addr}\""),
        ..Default::default()
    };
    let text =
        std::fs::read_to_string(cluster.write_config_with("main", &extras).unwrap()).unwrap();
    let secrets = cluster.dir.join("secrets");
    let text = text
        .replace(
            &cluster.dir.join("state").display().to_string(),
            "/var/lib/vipkeeper",
        )
        .replace(&secrets.display().to_string(), "/etc/vipkeeper/secrets");
    let etc = root.path().join("etc/vipkeeper");
    ok(Command::new("cp")
        .arg("-a")
        .arg(&secrets)
        .arg(etc.join("secrets")));
    std::fs::write(etc.join("vipkeeper.toml"), &text).unwrap();
    let (success, out) = root.chroot(&["sh", "-c", "chown -R vipkeeper:vipkeeper /etc/vipkeeper/secrets && chmod 0700 /etc/vipkeeper/secrets && chown root:vipkeeper /etc/vipkeeper/vipkeeper.toml && chmod 0640 /etc/vipkeeper/vipkeeper.toml"]);
    assert!(success, "{out}");

    let b = Booted::boot(&root, &format!("vk-{}", std::process::id()));
    let (success, out) = b.sh("systemctl start vipkeeper");
    assert!(success, "{out}\n{}", b.journal());
    assert_eq!(b.show("ActiveState"), "active");
    b.wait_for("the status line", |b| {
        b.show("StatusText").starts_with("main: healthy")
    });
    assert_eq!(get(addr, "/health").0, 200);
    // Under journald the lines carry no timestamp of their own.
    let (_, lines) = b.sh("journalctl -u vipkeeper -o cat --no-pager");
    let ours: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains("vipkeeper::"))
        .collect();
    assert!(!ours.is_empty(), "{lines}");
    assert!(ours.iter().all(|l| !l.starts_with("20")), "{lines}");

    // systemctl reload with a broken file: refused before the agent is
    // asked; the service runs on, and the journal names the problem.
    let conf = etc.join("vipkeeper.toml");
    std::fs::write(
        &conf,
        text.replace("[[cluster]]", "[[cluster]]\nbogus_key = 1"),
    )
    .unwrap();
    let (reloaded, _) = b.sh("systemctl reload vipkeeper");
    assert!(!reloaded, "a broken config must fail the reload");
    assert_eq!(b.show("ActiveState"), "active");
    assert!(b.journal().contains("bogus_key"), "{}", b.journal());
    // The agent itself refuses it too when signalled directly.
    b.sh("systemctl kill -s HUP vipkeeper");
    b.wait_for("the agent's refusal", |b| {
        b.journal().contains("reload refused")
    });
    assert_eq!(get(addr, "/health").0, 200);
    std::fs::write(&conf, &text).unwrap();

    // A loop frozen on purpose: the watchdog restarts the service.
    let dropin = root.path().join("etc/systemd/system/vipkeeper.service.d");
    std::fs::create_dir_all(&dropin).unwrap();
    std::fs::write(
        dropin.join("freeze.conf"),
        "[Service]\nEnvironment=VIPKEEPER_TEST_FREEZE_AFTER_ROUNDS=3\nWatchdogSec=3s\n",
    )
    .unwrap();
    b.sh("systemctl daemon-reload && systemctl restart vipkeeper");
    b.wait_for("a restart by the watchdog", |b| {
        b.show("NRestarts").parse::<u32>().unwrap_or(0) >= 1
    });
    assert!(b.journal().contains("Watchdog timeout"), "{}", b.journal());
    std::fs::remove_dir_all(&dropin).unwrap();
    b.sh("systemctl daemon-reload && systemctl restart vipkeeper");
    b.wait_for("active again", |b| b.show("ActiveState") == "active");

    // A clean stop: exit 0.
    let (success, out) = b.sh("systemctl stop vipkeeper");
    assert!(success, "{out}");
    assert_eq!(b.show("ActiveState"), "inactive");
    assert_eq!(b.show("Result"), "success");
    assert_eq!(b.show("ExecMainStatus"), "0");
    assert!(b
        .journal()
        .contains("stopping after the rounds in progress"));
    drop(b);
}

//! A real etcd cluster (Debian's `etcd-server`) of `n` members on
//! loopback, each with its own data directory under the test's; members
//! can be killed and started again. The managers' coordination store.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::cluster::free_port;

pub struct Member {
    pub name: String,
    pub client_port: u16,
    peer_port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

pub struct Etcd {
    pub members: Vec<Member>,
    initial_cluster: String,
    token: String,
    /// Clients over TLS, with a certificate of this CA.
    tls: Option<super::tls::TlsFiles>,
    /// Authentication on: etcdctl logs in as root with this password.
    root_password: Option<String>,
}

const BIN: &str = "/usr/bin/etcd";

impl Etcd {
    pub fn available() -> Result<(), String> {
        if Path::new(BIN).exists() {
            Ok(())
        } else {
            Err(format!("no etcd at {BIN} (run `make deps`)"))
        }
    }

    /// `n` members under `dir`, started, the cluster answering.
    pub fn start(dir: &Path, n: usize) -> Result<Self> {
        Self::start_with(dir, n, None)
    }

    /// The same, clients reaching it over TLS only and showing a
    /// certificate `tls`'s CA signed.
    pub fn start_tls(dir: &Path, n: usize, tls: &super::tls::TlsFiles) -> Result<Self> {
        Self::start_with(dir, n, Some(tls.clone()))
    }

    fn start_with(dir: &Path, n: usize, tls: Option<super::tls::TlsFiles>) -> Result<Self> {
        let mut members = Vec::new();
        for i in 1..=n {
            let name = format!("etcd{i}");
            let d = dir.join(&name);
            std::fs::create_dir_all(&d)?;
            members.push(Member {
                name,
                client_port: free_port()?,
                peer_port: free_port()?,
                dir: d,
                child: None,
            });
        }
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        let token = format!("vk-{}", std::process::id());
        let mut etcd = Self {
            members,
            initial_cluster,
            token,
            tls,
            root_password: None,
        };
        for i in 0..n {
            etcd.start_member(i)?;
        }
        etcd.wait_healthy(Duration::from_secs(60))?;
        Ok(etcd)
    }

    /// The client URLs, as a TOML array's items.
    pub fn endpoints(&self) -> Vec<String> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        self.members
            .iter()
            .map(|m| format!("{scheme}://127.0.0.1:{}", m.client_port))
            .collect()
    }

    pub fn start_member(&mut self, i: usize) -> Result<()> {
        let (initial_cluster, token) = (self.initial_cluster.clone(), self.token.clone());
        let client_url = self.endpoints()[i].clone();
        let m = &mut self.members[i];
        let log = std::fs::File::create(m.dir.join("etcd.log"))?;
        let mut command = Command::new(BIN);
        if let Some(t) = &self.tls {
            command
                .arg("--cert-file")
                .arg(&t.cert)
                .arg("--key-file")
                .arg(&t.key)
                .arg("--trusted-ca-file")
                .arg(&t.ca)
                .arg("--client-cert-auth");
        }
        let child = command
            .args(["--name", &m.name])
            .arg("--data-dir")
            .arg(m.dir.join("data"))
            .args([
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{}", m.peer_port),
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{}", m.peer_port),
                "--initial-cluster",
                &initial_cluster,
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                &token,
                // Loopback: elections in well under a second.
                "--heartbeat-interval",
                "50",
                "--election-timeout",
                "500",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", m.name))?;
        m.child = Some(child);
        Ok(())
    }

    /// SIGKILL: members may ignore SIGTERM once their peers are gone.
    pub fn kill_member(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Until a write through `etcdctl` succeeds (the cluster has a leader
    /// and a quorum).
    pub fn wait_healthy(&self, bound: Duration) -> Result<()> {
        let deadline = Instant::now() + bound;
        loop {
            let ok = self
                .etcdctl(&["put", "/vipkeeper-test/ready", "1"])
                .is_ok_and(|o| o.status.success());
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("etcd did not become healthy within {bound:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Turns authentication on: a `root` user with `password` (the one
    /// etcd requires before auth can be enabled), able to do anything.
    pub fn enable_auth(&mut self, password: &str) -> Result<()> {
        for args in [
            vec!["user", "add", "root", "--new-user-password", password],
            vec!["auth", "enable"],
        ] {
            let out = self.etcdctl(&args)?;
            if !out.status.success() {
                bail!(
                    "etcdctl {}: {}",
                    args[..2].join(" "),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        self.root_password = Some(password.to_string());
        Ok(())
    }

    /// `etcdctl ARGS` against every member, each command within 2 s.
    fn etcdctl(&self, args: &[&str]) -> std::io::Result<std::process::Output> {
        let mut command = Command::new("/usr/bin/etcdctl");
        if let Some(p) = &self.root_password {
            command.arg("--user").arg(format!("root:{p}"));
        }
        if let Some(t) = &self.tls {
            command
                .arg("--cacert")
                .arg(&t.ca)
                .arg("--cert")
                .arg(&t.other_cert)
                .arg("--key")
                .arg(&t.other_key);
        }
        command
            .env("ETCDCTL_API", "3")
            .args([
                "--endpoints",
                &self.endpoints().join(","),
                "--command-timeout=2s",
            ])
            .args(args)
            .output()
    }

    /// `etcdctl get --prefix KEY` as (key, value) pairs.
    pub fn get_prefix(&self, key: &str) -> Result<Vec<(String, String)>> {
        let out = self.etcdctl(&["get", "--prefix", key])?;
        if !out.status.success() {
            bail!("etcdctl get: {}", String::from_utf8_lossy(&out.stderr));
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        Ok(lines
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].to_string(), c[1].to_string()))
            .collect())
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill_member(i);
        }
    }
}

/// A manager's own config made from `cluster`'s config file `config`:
/// its name, its own state directory (`state-<name>`), its HTTP API on
/// `port`, and `[coordination]` through `endpoints` with `coordination`
/// (TOML lines: lease_ttl, timeout, a TLS table...). Written beside the
/// cluster as `<name>.toml`; returns its path.
pub fn manager_config(
    cluster: &super::TestCluster,
    config: &Path,
    name: &str,
    port: u16,
    endpoints: &[String],
    coordination: &str,
) -> Result<PathBuf> {
    let text = std::fs::read_to_string(config)?;
    let endpoints: Vec<String> = endpoints.iter().map(|e| format!("\"{e}\"")).collect();
    let state = format!("state_dir = \"{}\"", cluster.dir.join("state").display());
    if !text.contains(&state) || !text.contains("listen = \"\"\n") {
        bail!("{} is not a config the harness wrote", config.display());
    }
    let own = text
        .replace(
            &state,
            &format!(
                "state_dir = \"{}\"",
                cluster.dir.join(format!("state-{name}")).display()
            ),
        )
        .replace(
            "listen = \"\"\n",
            &format!(
                "listen = \"127.0.0.1:{port}\"\n\n[coordination]\netcd = [{}]\nname = \"{name}\"\n{coordination}\n",
                endpoints.join(", ")
            ),
        );
    let path = cluster.dir.join(format!("{name}.toml"));
    std::fs::write(&path, own)?;
    Ok(path)
}

//! The real MHA 0.58 (Debian's `mha4mysql-manager` and `mha4mysql-node`)
//! around a test cluster, without touching what the packages installed:
//!
//! * MHA reaches every database host over SSH. Each host (a network
//!   namespace) gets a private `sshd` on its own address, port 22, with a
//!   host key and one authorised key made here; MHA's `ssh_options` carry
//!   that key and a known-hosts file of our own, so `/root/.ssh` is never
//!   read or written. MHA copies binary logs with `scp`, which speaks SFTP
//!   since OpenSSH 9: the sshd serves it (`internal-sftp`).
//! * Stock 0.58 cannot drive MariaDB 10.11: `MHA::NodeUtil` feeds every
//!   number of `10.11.x-MariaDB-0+deb12u1` to a three-field `sprintf` and
//!   dies under FATAL warnings, and `MHA::SlaveUtil` reads
//!   `@@global.super_read_only`, which MariaDB lacks. Patched copies of
//!   those two modules go first on `PERL5LIB`: for the manager through its
//!   environment, for the node tools MHA runs over SSH through `SetEnv` in
//!   the private sshd's config.
//! * MHA 0.58 cannot drive MySQL 8.4 and later at all: `SHOW SLAVE STATUS`,
//!   `CHANGE MASTER`, `SHOW MASTER STATUS` and the `Master_*` columns it
//!   reads are gone. These tests run MariaDB.
//! * The node tools call `mysqlbinlog` and `mysql` in `client_bindir`: a
//!   folder here links them to MariaDB's.
//!
//! Every process started here is stopped by its own PID (its process
//! group, for the manager and the hooks it runs) when this is dropped.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

const MANAGER: &str = "/usr/bin/masterha_manager";
const SWITCH: &str = "/usr/bin/masterha_master_switch";
const SSHD: &str = "/usr/sbin/sshd";
const MODULES: &str = "/usr/share/perl5/MHA";

/// MHA's own account on every server (MHA wants one with every privilege).
pub const USER: &str = "mha";
pub const PASSWORD: &str = "mha-Secret-5";

/// One database host as MHA sees it.
pub struct Host {
    /// The namespace it lives in (its sshd runs there).
    pub netns: String,
    /// Its address: MySQL's and SSH's.
    pub ip: String,
    pub port: u16,
    /// The server's data directory, where its binary logs are.
    pub binlog_dir: PathBuf,
}

/// The scripts MHA calls, as lines of its config (run through the shell).
pub struct Scripts {
    pub failover: String,
    pub online_change: String,
}

pub struct Mha {
    pub dir: PathBuf,
    /// The application config (`--conf`).
    pub conf: PathBuf,
    perl5lib: PathBuf,
    /// Where the manager and the switch command run.
    netns: String,
    sshds: Vec<Child>,
    manager: Option<Child>,
}

impl Mha {
    /// Whether the real MHA and sshd are installed; the reason when not.
    pub fn available() -> Result<(), String> {
        for need in [MANAGER, SWITCH, SSHD, "/usr/bin/save_binary_logs"] {
            if !Path::new(need).exists() {
                return Err(format!(
                    "{need} is missing (Debian mha4mysql-manager, mha4mysql-node, openssh-server: make deps)"
                ));
            }
        }
        Ok(())
    }

    /// Keys, patched modules, one sshd per host, and the application config
    /// with `hosts[0]` first. The manager runs in `netns`; `repl` is the
    /// replication account and its password.
    pub fn set_up(
        dir: &Path,
        netns: &str,
        hosts: &[Host],
        repl: (&str, &str),
        scripts: &Scripts,
    ) -> Result<Self> {
        let dir = dir.join("mha");
        for sub in ["perl5/MHA", "bin", "manager", "remote"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        let perl5lib = dir.join("perl5");
        patch_modules(&perl5lib.join("MHA"))?;
        link_clients(&dir.join("bin"))?;
        let key = dir.join("id");
        for k in ["hostkey", "id"] {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.join(k))
                .output()
                .context("ssh-keygen")?;
            ensure!(
                out.status.success(),
                "ssh-keygen: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        fs::copy(dir.join("id.pub"), dir.join("authorized_keys"))?;
        fs::set_permissions(
            dir.join("authorized_keys"),
            fs::Permissions::from_mode(0o600),
        )?;
        // sshd's privilege-separation directory.
        fs::create_dir_all("/run/sshd")?;
        let mut mha = Self {
            conf: dir.join("app.cnf"),
            perl5lib,
            netns: netns.to_string(),
            sshds: Vec::new(),
            manager: None,
            dir,
        };
        for (i, h) in hosts.iter().enumerate() {
            mha.start_sshd(i, h)?;
        }
        let ssh_options = format!(
            "-i {} -o UserKnownHostsFile={}",
            key.display(),
            mha.dir.join("known_hosts").display()
        );
        for h in hosts {
            mha.wait_for_ssh(&h.ip, &ssh_options)?;
        }
        let mut conf = format!(
            "[server default]\nuser={USER}\npassword={PASSWORD}\nrepl_user={}\nrepl_password={}\n\
             ssh_user=root\nssh_options=\"{ssh_options}\"\n\
             manager_workdir={d}/manager\nmanager_log={d}/manager/manager.log\nremote_workdir={d}/remote\n\
             client_bindir={d}/bin\nping_interval=1\n\
             master_ip_failover_script={}\nmaster_ip_online_change_script={}\n",
            repl.0,
            repl.1,
            scripts.failover,
            scripts.online_change,
            d = mha.dir.display(),
        );
        for (i, h) in hosts.iter().enumerate() {
            conf.push_str(&format!(
                "\n[server{}]\nhostname={}\nport={}\nmaster_binlog_dir={}\n",
                i + 1,
                h.ip,
                h.port,
                h.binlog_dir.display()
            ));
        }
        fs::write(&mha.conf, conf)?;
        fs::set_permissions(&mha.conf, fs::Permissions::from_mode(0o600))?;
        Ok(mha)
    }

    /// The statements that give MHA its account on a server (not
    /// replicated: run them on every server).
    pub fn account_sql() -> Vec<String> {
        vec![
            "SET sql_log_bin=0".into(),
            format!("CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'"),
            format!("GRANT ALL ON *.* TO '{USER}'@'%' WITH GRANT OPTION"),
            "SET sql_log_bin=1".into(),
        ]
    }

    fn start_sshd(&mut self, i: usize, h: &Host) -> Result<()> {
        let d = self.dir.display();
        let config = self.dir.join(format!("sshd-{i}.conf"));
        fs::write(
            &config,
            format!(
                "ListenAddress {ip}\nPort 22\nHostKey {d}/hostkey\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 UsePAM no\nStrictModes no\nPidFile none\nSetEnv PERL5LIB={lib}\n\
                 Subsystem sftp internal-sftp\n",
                ip = h.ip,
                lib = self.perl5lib.display()
            ),
        )?;
        let child = Command::new("ip")
            .args(["netns", "exec", &h.netns, SSHD, "-D", "-f"])
            .arg(&config)
            .arg("-E")
            .arg(self.dir.join(format!("sshd-{i}.log")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting sshd")?;
        self.sshds.push(child);
        Ok(())
    }

    /// Until `ssh root@ip true` answers from the manager's namespace (set-up
    /// is bounded on its own, generously: a busy machine starts sshd slowly).
    fn wait_for_ssh(&self, ip: &str, options: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = Command::new("ip")
                .args(["netns", "exec", &self.netns, "ssh"])
                .args(options.split(' '))
                .args([
                    "-o",
                    "StrictHostKeyChecking=no",
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "ConnectTimeout=5",
                ])
                .arg(format!("root@{ip}"))
                .arg("true")
                .output()?;
            if out.status.success() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "ssh to {ip} did not answer within 60 s: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns, program])
            .env("PERL5LIB", &self.perl5lib)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        c
    }

    /// Starts `masterha_manager` (a failover earlier in the same test does
    /// not block it: `--ignore_last_failover`).
    pub fn start_manager(&mut self) -> Result<()> {
        ensure!(self.manager.is_none(), "the MHA manager is already running");
        let out = fs::File::create(self.dir.join("manager.out"))?;
        let child = self
            .command(MANAGER)
            .arg(format!("--conf={}", self.conf.display()))
            .arg("--ignore_last_failover")
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()
            .context("starting masterha_manager")?;
        self.manager = Some(child);
        Ok(())
    }

    /// Waits until the manager's log has `text` (MHA writes it whole lines).
    pub fn wait_for_log(&self, text: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(text) {
            if Instant::now() > deadline {
                bail!(
                    "MHA's log has no {text:?} after {timeout:?}:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Waits until the manager exits (it does after one failover), and
    /// returns how.
    pub fn wait_manager_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let child = self.manager.as_mut().context("no MHA manager running")?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                self.manager = None;
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!(
                    "masterha_manager still runs after {timeout:?}:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `masterha_master_switch --master_state=alive` to `ip:port`, the old
    /// master becoming a replica of the new one, not interactive. Returns
    /// its exit status and what it printed (MHA logs to its output here).
    pub fn switch_to(
        &self,
        ip: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<(ExitStatus, String)> {
        let log = self.dir.join("switch.out");
        let out = fs::File::create(&log)?;
        let mut child = self
            .command(SWITCH)
            .arg(format!("--conf={}", self.conf.display()))
            .args([
                "--master_state=alive",
                "--orig_master_is_new_slave",
                "--interactive=0",
            ])
            .arg(format!("--new_master_host={ip}"))
            .arg(format!("--new_master_port={port}"))
            .arg("--running_updates_limit=10")
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()
            .context("starting masterha_master_switch")?;
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break s;
            }
            if Instant::now() > deadline {
                stop_group(&mut child);
                bail!(
                    "masterha_master_switch still runs after {timeout:?}:\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Ok((status, fs::read_to_string(&log)?))
    }

    /// The manager's log (`manager_log`).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("manager/manager.log")).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Where MHA says the other replicas should start replicating from the
    /// new master: (host, binlog file, position), from the last failover.
    pub fn new_master_position(&self) -> Result<(String, String, u64)> {
        let log = self.log();
        let line = log
            .lines()
            .rev()
            .find(|l| l.contains("All other slaves should start replication from here"))
            .context("MHA's log has no position for the other replicas")?;
        let value = |key: &str| -> Result<String> {
            let start = line
                .find(key)
                .with_context(|| format!("no {key} in {line}"))?
                + key.len();
            let rest = &line[start..];
            let end = rest.find([',', ';']).unwrap_or(rest.len());
            Ok(rest[..end].trim_matches('\'').to_string())
        };
        Ok((
            value("MASTER_HOST=")?,
            value("MASTER_LOG_FILE=")?,
            value("MASTER_LOG_POS=")?.parse()?,
        ))
    }
}

impl Drop for Mha {
    fn drop(&mut self) {
        if let Some(mut m) = self.manager.take() {
            stop_group(&mut m);
        }
        for s in &mut self.sshds {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

/// Kills the process group this child leads (it and the scripts it ran).
fn stop_group(child: &mut Child) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = child.wait();
}

/// Copies of MHA's two modules that fail on MariaDB, mended; each edit must
/// find its text, so a different MHA version fails here, loudly.
fn patch_modules(into: &Path) -> Result<()> {
    let edits: [(&str, &[(&str, &str)]); 2] = [
        (
            "NodeUtil.pm",
            &[
                // Only major, minor and patch: "10.11.19-MariaDB-0+deb12u1"
                // has more numbers than the format has fields.
                (
                    "sprintf( '%03d%03d%03d', $str =~ m/(\\d+)/g )",
                    "sprintf( '%03d%03d%03d', ( $str =~ m/(\\d+)/g )[ 0 .. 2 ] )",
                ),
                (
                    "sprintf( '%03d%03d', $str =~ m/(\\d+)/g )",
                    "sprintf( '%03d%03d', ( $str =~ m/(\\d+)/g )[ 0 .. 1 ] )",
                ),
            ],
        ),
        (
            "SlaveUtil.pm",
            &[
                // MariaDB has no super_read_only: no row means off.
                (
                    "$dbh->prepare(\"SELECT \\@\\@global.super_read_only as Value\");",
                    "$dbh->prepare(\"SHOW GLOBAL VARIABLES LIKE 'super_read_only'\");",
                ),
                (
                    "if ( $href->{Value} == '1' ) {",
                    "if ( $href && $href->{Value} eq 'ON' ) {",
                ),
            ],
        ),
    ];
    for (module, changes) in edits {
        let from = Path::new(MODULES).join(module);
        let mut text =
            fs::read_to_string(&from).with_context(|| format!("reading {}", from.display()))?;
        for (old, new) in changes {
            ensure!(
                text.contains(old),
                "{} has no `{old}`: not the MHA 0.58 these patches are for",
                from.display()
            );
            text = text.replace(old, new);
        }
        fs::write(into.join(module), text)?;
    }
    Ok(())
}

/// `mysqlbinlog` and `mysql` as the node tools call them.
fn link_clients(bin: &Path) -> Result<()> {
    for (name, candidates) in [
        (
            "mysqlbinlog",
            ["/usr/bin/mysqlbinlog", "/usr/bin/mariadb-binlog"],
        ),
        ("mysql", ["/usr/bin/mysql", "/usr/bin/mariadb"]),
    ] {
        let found = candidates
            .iter()
            .find(|c| Path::new(c).exists())
            .with_context(|| format!("no {name} client ({})", candidates.join(" or ")))?;
        std::os::unix::fs::symlink(found, bin.join(name))?;
    }
    Ok(())
}

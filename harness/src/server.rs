//! One real database server process: its directory, config, PID, and the
//! means to kill, pause, resume and restart it. Dropping a `Server` kills the
//! exact PID it started (never by name) and removes its directory.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql_async::prelude::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::flavor::{CnfOptions, Flavor};
use super::template;

pub struct Server {
    pub flavor: Flavor,
    pub name: String,
    pub server_id: u32,
    pub host: String,
    pub port: u16,
    /// Node directory on the host's filesystem.
    pub dir: PathBuf,
    pid: Option<i32>,
    /// Keep servers running after this value is dropped (the sandbox).
    detached: bool,
    /// The network namespace it runs in, if any.
    pub netns: Option<String>,
}

impl Server {
    /// Creates the node directory from the flavor's template and starts it.
    pub fn create(
        flavor: Flavor,
        parent: &Path,
        name: &str,
        server_id: u32,
        port: u16,
        opts: &CnfOptions,
    ) -> Result<Self> {
        Self::create_in(
            flavor,
            parent,
            name,
            server_id,
            port,
            opts,
            None,
            &opts.bind_address,
        )
    }

    /// As `create`, inside network namespace `netns` (if any), reached at `host`.
    #[allow(clippy::too_many_arguments)]
    pub fn create_in(
        flavor: Flavor,
        parent: &Path,
        name: &str,
        server_id: u32,
        port: u16,
        opts: &CnfOptions,
        netns: Option<&str>,
        host: &str,
    ) -> Result<Self> {
        let dir = parent.join(name);
        fs::create_dir_all(dir.join("tmp"))?;
        let cnf = flavor.my_cnf(&inside(flavor, &dir), server_id, port, opts);
        fs::write(dir.join("my.cnf"), cnf)?;
        template::copy_data_dir(flavor, &dir.join("data"))?;
        let mut server = Server {
            flavor,
            name: name.to_string(),
            server_id,
            host: host.to_string(),
            port,
            dir,
            pid: None,
            detached: false,
            netns: netns.map(str::to_string),
        };
        server.start()?;
        Ok(server)
    }

    /// Starts (or restarts) the server and waits until it answers.
    pub fn start(&mut self) -> Result<()> {
        if self.pid.is_some() {
            bail!("{} is already running", self.name);
        }
        let cnf = inside(self.flavor, &self.dir.join("my.cnf"));
        let mut command = self.flavor.server_command(&cnf);
        if let Some(ns) = &self.netns {
            // `ip netns exec` execs the server: the PID stays the server's.
            let mut wrapped = std::process::Command::new("ip");
            wrapped
                .args(["netns", "exec", ns])
                .arg(command.get_program())
                .args(command.get_args());
            command = wrapped;
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C in the terminal or the end of
            // `make` must not take the sandbox's servers with it.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", self.name))?;
        // Dropping a Child neither waits for nor kills it; `kill9` reaps it.
        self.pid = Some(child.id() as i32);
        self.wait_ready()
    }

    fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let socket = self.socket();
        while Instant::now() < deadline {
            if !self.is_alive() {
                bail!(
                    "{} ({}) exited during start-up; end of its error log:\n{}",
                    self.name,
                    self.flavor.name(),
                    self.error_log_tail()
                );
            }
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "{} did not start within 60 s; end of its error log:\n{}",
            self.name,
            self.error_log_tail()
        )
    }

    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    pub fn is_alive(&self) -> bool {
        match self.pid {
            None => false,
            // A zombie still answers kill(0); look at its state too.
            Some(pid) => fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
                .unwrap_or(false),
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            reap(pid);
        }
    }

    /// SIGSTOP: the TCP port stays open, nothing answers.
    pub fn pause(&self) {
        if let Some(pid) = self.pid {
            let _ = kill(Pid::from_raw(pid), Signal::SIGSTOP);
        }
    }

    pub fn resume(&self) {
        if let Some(pid) = self.pid {
            let _ = kill(Pid::from_raw(pid), Signal::SIGCONT);
        }
    }

    /// Leave the process running when this value is dropped.
    pub fn detach(&mut self) {
        self.detached = true;
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("mysqld.sock")
    }

    /// A root connection over the Unix socket (root authenticates by socket
    /// on MariaDB and has an empty password on a fresh MySQL).
    pub async fn root(&self) -> Result<mysql_async::Conn> {
        let opts = mysql_async::OptsBuilder::default()
            .socket(Some(self.socket().to_string_lossy().to_string()))
            .user(Some("root"));
        tokio::time::timeout(Duration::from_secs(10), mysql_async::Conn::new(opts))
            .await
            .with_context(|| format!("connecting to {} as root: timed out", self.name))?
            .with_context(|| format!("connecting to {} as root", self.name))
    }

    /// Runs statements as root, in order.
    pub async fn exec(&self, statements: &[&str]) -> Result<()> {
        let mut conn = self.root().await?;
        for sql in statements {
            conn.query_drop(*sql)
                .await
                .with_context(|| format!("on {}: {sql}", self.name))?;
        }
        conn.disconnect().await.ok();
        Ok(())
    }

    /// One row as (column name, text value) pairs; `None` if no row.
    pub async fn query_row(&self, sql: &str) -> Result<Option<Vec<(String, Option<String>)>>> {
        let mut conn = self.root().await?;
        let row: Option<mysql_async::Row> = conn
            .query_first(sql)
            .await
            .with_context(|| format!("on {}: {sql}", self.name))?;
        conn.disconnect().await.ok();
        Ok(row.map(|row| {
            let names: Vec<String> = row
                .columns_ref()
                .iter()
                .map(|c| c.name_str().to_string())
                .collect();
            names
                .into_iter()
                .enumerate()
                .map(|(i, name)| (name, text(row.as_ref(i))))
                .collect()
        }))
    }

    /// The first column of every row of `sql`.
    pub async fn query_column(&self, sql: &str) -> Result<Vec<String>> {
        let mut conn = self.root().await?;
        let rows: Vec<mysql_async::Row> = conn
            .query(sql)
            .await
            .with_context(|| format!("on {}: {sql}", self.name))?;
        conn.disconnect().await.ok();
        Ok(rows.iter().filter_map(|r| text(r.as_ref(0))).collect())
    }

    /// The value of one column of the first row of `sql`.
    pub async fn query_value(&self, sql: &str, column: &str) -> Result<Option<String>> {
        let row = self.query_row(sql).await?;
        Ok(row
            .and_then(|r| r.into_iter().find(|(n, _)| n == column))
            .and_then(|(_, v)| v))
    }

    pub fn error_log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        self.resume();
        self.kill9();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A path as the server sees it (inside the MySQL root for MySQL).
pub fn inside(flavor: Flavor, path: &Path) -> PathBuf {
    match path.strip_prefix(flavor.root()) {
        Ok(rest) => Path::new("/").join(rest),
        Err(_) => path.to_path_buf(),
    }
}

fn text(value: Option<&mysql_async::Value>) -> Option<String> {
    match value? {
        mysql_async::Value::NULL => None,
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => Some(other.as_sql(true)),
    }
}

/// Waits (briefly) for a killed child so it does not linger as a zombie.
fn reap(pid: i32) {
    use nix::sys::wait::{waitpid, WaitPidFlag};
    for _ in 0..100 {
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(nix::sys::wait::WaitStatus::StillAlive) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => return,
        }
    }
}

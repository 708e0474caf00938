//! `vipkeeper agent` as a child process; killed by its PID when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Agent {
    child: Child,
    pub log: PathBuf,
}

impl Agent {
    /// Starts the agent on `config`, logging to `<dir>/agent.log`.
    pub fn start(bin: &Path, config: &Path, dir: &Path) -> Self {
        Self::start_in(bin, config, dir, None, "agent", &[])
    }

    /// Starts it inside network namespace `netns` (if any), logging to
    /// `<dir>/<log_name>.log`, with extra arguments after `agent`.
    pub fn start_in(
        bin: &Path,
        config: &Path,
        dir: &Path,
        netns: Option<&str>,
        log_name: &str,
        extra: &[&str],
    ) -> Self {
        Self::start_with(bin, config, dir, netns, log_name, extra, &[])
    }

    /// As `start_in`, with `env` added to the agent's environment.
    pub fn start_with(
        bin: &Path,
        config: &Path,
        dir: &Path,
        netns: Option<&str>,
        log_name: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let log = dir.join(format!("{log_name}.log"));
        let file = std::fs::File::create(&log).expect("agent log");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let child = cmd
            .args(["--log", "info", "-c"])
            .arg(config)
            .arg("agent")
            .args(extra)
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("starting vipkeeper agent");
        Self { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`; panics with the log after `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log_text().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The log first, the reason last: a CI excerpt shows the end.
        eprintln!("--- agent log\n{}", self.log_text());
        panic!("agent log never said {needle:?} in {timeout:?} (the log is above)");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the agent.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signalling the agent");
    }

    /// Waits for the agent to exit; its exit code, or `None` after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn count_in_log(&self, needle: &str) -> usize {
        self.log_text().matches(needle).count()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

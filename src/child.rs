//! Running an operator's command (a VIP script, the notify command): in a
//! process group of its own, without the environment variables secrets
//! came from, and, when it outlives its timeout, killed together with
//! everything it started. A shell wrapper's `aws …` left running would
//! otherwise finish later and undo what came after it.

use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;

/// How a command ended.
#[derive(Debug)]
pub struct Finished {
    /// None when a signal ended it.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChildError {
    #[error("cannot run {program}: {error}")]
    Spawn { program: String, error: String },
    #[error("{program} did not finish within {}: killed it and every process it started (process group {group})", humantime::format_duration(*.timeout))]
    Killed {
        program: String,
        timeout: Duration,
        group: i32,
    },
    #[error("{program}: {error}")]
    Wait { program: String, error: String },
}

/// Runs `cmd` (stdout and stderr captured, `input` on its standard input)
/// for at most `timeout`.
pub async fn run(
    program: &str,
    mut cmd: tokio::process::Command,
    input: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Finished, ChildError> {
    for var in crate::config::redact::secret_env_vars() {
        cmd.env_remove(var);
    }
    cmd.process_group(0)
        .stdin(if input.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| ChildError::Spawn {
        program: program.to_string(),
        error: e.to_string(),
    })?;
    let group = child.id().map(|p| p as i32).unwrap_or(0);
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        // A command that does not read its input is not an error.
        let _ = tokio::time::timeout(timeout, stdin.write_all(&bytes)).await;
    }
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok(Finished {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        }),
        Ok(Err(e)) => Err(ChildError::Wait {
            program: program.to_string(),
            error: e.to_string(),
        }),
        Err(_) => {
            if group > 0 {
                let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
            }
            Err(ChildError::Killed {
                program: program.to_string(),
                timeout,
                group,
            })
        }
    }
}

/// The last non-empty line a command printed, shortened and scrubbed.
pub fn last_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| crate::config::redact::scrub(&l.trim().chars().take(300).collect::<String>()))
}

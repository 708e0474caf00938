//! `[cluster.salvage]`: before a failover promotes, fetch what the dead
//! master's binlog holds beyond the replicas from its host's agent and
//! replay it on the candidate. Each node's agent address is its
//! `host_agent`; the token, shared by the managers and the host agents, is
//! in a file only its owner can read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::fields::duration;
use super::problem::Problems;
use super::secret::{self, Secret};

type S<T> = Spanned<T>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalvageConfig {
    pub token_file: PathBuf,
    pub token: Secret,
    /// Fetching and replaying together.
    pub deadline: Duration,
    /// The most binlog a salvage takes (beyond it: too far behind to
    /// replay within a failover).
    pub max_bytes: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSalvage {
    pub token_file: S<String>,
    pub deadline: Option<S<String>>,
    pub max_bytes: Option<S<i64>>,
}

pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

pub fn validate(raw: &S<RawSalvage>, p: &mut Problems) -> Option<SalvageConfig> {
    let r = raw.get_ref();
    let deadline = duration(&r.deadline, DEFAULT_DEADLINE, "salvage.deadline", p);
    let max_bytes = match &r.max_bytes {
        None => Some(DEFAULT_MAX_BYTES),
        Some(m) if *m.get_ref() >= 4096 => Some(*m.get_ref() as usize),
        Some(m) => {
            p.error(
                Some(m.span()),
                format!("salvage.max_bytes {} is too small", m.get_ref()),
                "give at least 4096 (the default is 64 MiB)".to_string(),
            );
            None
        }
    };
    let path = PathBuf::from(r.token_file.get_ref());
    let token = token(&path, &r.token_file, p);
    Some(SalvageConfig {
        token_file: path,
        token: token?,
        deadline: deadline?,
        max_bytes: max_bytes?,
    })
}

/// The token: the file's first line, in a file no one else can read.
fn token(path: &Path, raw: &S<String>, p: &mut Problems) -> Option<Secret> {
    if !path.is_absolute() {
        p.error(
            Some(raw.span()),
            format!(
                "salvage.token_file {} is not an absolute path",
                path.display()
            ),
            "give the full path, e.g. /etc/vipkeeper/salvage.token".to_string(),
        );
        return None;
    }
    if let Some(mode) = secret::readable_by_others(path) {
        p.error(
            Some(raw.span()),
            format!(
                "salvage.token_file {} is readable by group/others (mode {mode:04o}): anyone who reads it can read the binlogs",
                path.display()
            ),
            format!("chmod 600 {}", path.display()),
        );
        return None;
    }
    match secret::read_password_file(path) {
        Ok(t) if t.expose().len() >= 16 => Some(t),
        Ok(_) => {
            p.error(
                Some(raw.span()),
                format!(
                    "the token in {} is shorter than 16 characters",
                    path.display()
                ),
                "write a long random token, e.g. `openssl rand -hex 32 > FILE`".to_string(),
            );
            None
        }
        Err(e) => {
            p.error(Some(raw.span()), e.message, e.hint);
            None
        }
    }
}

//! The agent's state directory, per cluster: the failover lock, the record
//! of the last failover (for the block period and `ack`), journals and
//! reports.
//!
//!   <state_dir>/<cluster>/lock
//!   <state_dir>/<cluster>/last-failover.json
//!   <state_dir>/<cluster>/master.json      the master the last change made
//!   <state_dir>/<cluster>/in-flight.json   a lone manager's failover, step by step
//!   <state_dir>/<cluster>/journal/<id>.jsonl
//!   <state_dir>/<cluster>/reports/<id>.json

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

pub struct ClusterState {
    dir: PathBuf,
}

const IN_FLIGHT: &str = "in-flight.json";

/// Held while a failover or switchover of the cluster runs; released when dropped.
pub struct FailoverLock {
    _file: File,
}

/// What the block period and `ack` look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastFailover {
    pub id: String,
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub dead_master: String,
    pub new_master: Option<String>,
    pub outcome: String,
    pub acked: bool,
}

impl LastFailover {
    /// Whether it still blocks another automatic failover at `now`:
    /// unacknowledged and within `block_period`.
    pub fn blocks(&self, block_period: Duration, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        !self.acked && now.as_secs().saturating_sub(self.at) < block_period.as_secs()
    }
}

/// The master that this manager's last completed change (failover,
/// switchover, or a switchover's rollback) left behind: the agent's
/// tie-breaker when two nodes are writable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterRecord {
    pub master: String,
    /// Seconds since the Unix epoch.
    pub at: u64,
    /// The failover or switchover that made it master.
    pub by: String,
}

impl ClusterState {
    pub fn new(state_dir: &Path, cluster: &str) -> Self {
        Self {
            dir: state_dir.join(cluster),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory `sub` of the cluster's state, made private (0700).
    fn ensure(&self, sub: &str) -> io::Result<PathBuf> {
        let d = self.dir.join(sub);
        private_dir(&d)?;
        Ok(d)
    }

    /// At most one failover per cluster on this host. Fails at once (never
    /// waits) when another process holds it.
    pub fn lock(&self) -> Result<FailoverLock, String> {
        let path = self.ensure("").map(|d| d.join("lock")).map_err(|e| {
            format!(
                "cannot create the state directory {}: {e}",
                self.dir.display()
            )
        })?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(FailoverLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(format!(
                "a failover or switchover of this cluster is in progress (lock {} is held)",
                path.display()
            )),
            Err(fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }

    pub fn journal_path(&self, id: &str) -> io::Result<PathBuf> {
        Ok(self.ensure("journal")?.join(format!("{id}.jsonl")))
    }

    pub fn report_path(&self, id: &str) -> io::Result<PathBuf> {
        Ok(self.ensure("reports")?.join(format!("{id}.json")))
    }

    pub fn last_failover(&self) -> Option<LastFailover> {
        let text = fs::read_to_string(self.dir.join("last-failover.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn record_failover(&self, last: &LastFailover) -> io::Result<()> {
        self.write_record("last-failover.json", last)
    }

    /// Replaces the record `name` at once (`write_private`).
    fn write_record(&self, name: &str, value: &impl Serialize) -> io::Result<()> {
        let dir = self.ensure("")?;
        write_private(
            &dir.join(name),
            &serde_json::to_vec_pretty(value).expect("serializable"),
        )
    }

    /// The failover a lone manager recorded step by step (`execute::Progress`
    /// as JSON), if any: Ok(None) when there is none.
    pub fn in_flight(&self) -> Result<Option<String>, String> {
        let path = self.dir.join(IN_FLIGHT);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Replaces the failover record at once: a manager killed while writing
    /// leaves the previous step's record, never half of one.
    pub fn record_in_flight(&self, json: &[u8]) -> io::Result<()> {
        let dir = self.ensure("")?;
        write_private(&dir.join(IN_FLIGHT), json)
    }

    pub fn master_record(&self) -> Option<MasterRecord> {
        let text = fs::read_to_string(self.dir.join("master.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn record_master(&self, record: &MasterRecord) -> io::Result<()> {
        self.write_record("master.json", record)
    }

    /// The unacknowledged failover that blocks another automatic one, if any.
    pub fn blocking(&self, block_period: Duration, now: SystemTime) -> Option<LastFailover> {
        self.last_failover()
            .filter(|last| last.blocks(block_period, now))
    }

    /// `vipkeeper ack`: the operator has looked at the last failover.
    pub fn ack(&self) -> Result<Option<LastFailover>, String> {
        let Some(mut last) = self.last_failover() else {
            return Ok(None);
        };
        last.acked = true;
        self.record_failover(&last).map_err(|e| {
            format!(
                "cannot write {}: {e}",
                self.dir.join("last-failover.json").display()
            )
        })?;
        Ok(Some(last))
    }
}

/// Creates `dir` and its missing parents as 0700, whatever the umask.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // An existing directory keeps its mode unless it is too open.
    let mode = fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}

/// Writes `bytes` to `path`, readable by its owner only (0600), whole or
/// not at all: a reader (a monitor picking up reports, the next manager)
/// never sees a half-written file. Written beside it, then renamed over it.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} names no file", path.display())))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Whether the state directory can be used: created (0700) if missing,
/// and written to. Checked before the agent starts and by `check`, so that
/// an unusable one is found before a master dies.
pub fn usable_state_dir(state_dir: &Path) -> Result<(), String> {
    let fail = |e: io::Error| {
        format!(
            "the state directory {} cannot be used: {e} (give [agent] state_dir a directory vipkeeper can create and write, e.g. /var/lib/vipkeeper)",
            state_dir.display()
        )
    };
    private_dir(state_dir).map_err(fail)?;
    // One name per process: agents starting side by side share the directory.
    let probe = state_dir.join(format!(".vipkeeper-write-test.{}", std::process::id()));
    write_private(&probe, b"ok").map_err(fail)?;
    fs::remove_file(&probe).map_err(fail)
}

pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let s = ClusterState::new(dir.path(), "main");
        let held = s.lock().unwrap();
        let err = s.lock().err().unwrap();
        assert!(
            err.starts_with("a failover or switchover of this cluster is in progress"),
            "{err}"
        );
        drop(held);
        assert!(s.lock().is_ok());
    }

    #[test]
    fn block_period_until_ack() {
        let dir = tempfile::tempdir().unwrap();
        let s = ClusterState::new(dir.path(), "main");
        let now = SystemTime::now();
        let period = Duration::from_secs(3600);
        assert!(s.blocking(period, now).is_none());
        s.record_failover(&LastFailover {
            id: "x".into(),
            at: unix_seconds(now) - 60,
            dead_master: "db1".into(),
            new_master: Some("db2".into()),
            outcome: "success".into(),
            acked: false,
        })
        .unwrap();
        assert_eq!(s.blocking(period, now).unwrap().id, "x");
        assert!(
            s.blocking(Duration::from_secs(30), now).is_none(),
            "period over"
        );
        assert!(s.ack().unwrap().unwrap().acked);
        assert!(s.blocking(period, now).is_none());
    }
}

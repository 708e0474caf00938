//! One JSON line per step, written (and flushed) as it happens, so that a
//! failover cut short — by a crash of vipkeeper itself — can be understood
//! and resumed from what the file says.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

pub struct Journal {
    path: PathBuf,
    file: Option<File>,
}

impl Journal {
    /// Opens (appends to) the journal at `path`. A journal that cannot be
    /// written is reported once and then skipped: it must never stop a failover.
    pub fn open(path: &Path) -> Self {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                tracing::error!("cannot write the failover journal {}: {e}", path.display())
            })
            .ok();
        Self {
            path: path.to_path_buf(),
            file,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `{"ts": ..., "event": event, ...fields}`.
    pub fn write(&mut self, event: &str, fields: impl Serialize) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let mut value = serde_json::to_value(fields).unwrap_or(serde_json::Value::Null);
        let ts = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let line = match value.as_object_mut() {
            Some(map) => {
                map.insert("ts".into(), ts.into());
                map.insert("event".into(), event.into());
                serde_json::Value::Object(std::mem::take(map))
            }
            None => serde_json::json!({ "ts": ts, "event": event, "data": value }),
        };
        let ok = writeln!(file, "{line}").and_then(|_| file.sync_data());
        if let Err(e) = ok {
            tracing::error!(
                "cannot write the failover journal {}: {e}",
                self.path.display()
            );
        }
    }
}

//! The binary as a shell user meets it, without servers.

use std::io::Write;
use std::process::{Command, Stdio};

const JOURNAL: &str = r#"{"ts":"2026-11-21T18:18:23.777Z","event":"start","id":"main-1","trigger":"manual","plan":{"kind":"switchover","cluster":"main","old_master":"db1","candidate":"db2","why":"chosen by the operator (--to)","considered":[],"steps":[]}}
{"ts":"2026-11-21T18:18:23.816Z","event":"end","outcome":{"outcome":"success"},"duration_ms":39}
"#;

/// Output piped into a reader that has gone (`| head`) ends the process
/// quietly, as for any Unix tool, rather than with a panic.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let mut journal = tempfile::NamedTempFile::new().unwrap();
    journal.write_all(JOURNAL.as_bytes()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vipkeeper"))
        .arg("report")
        .arg(journal.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

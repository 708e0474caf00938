//! The picture of one failover for the demo and the benchmark: `vipkeeper
//! report`'s summary and SVG timeline of the newest journal in a directory,
//! with the client's writes as the strip along the bottom.

use std::path::Path;

use anyhow::{Context, Result};
use vipkeeper::timeline::{read_journal, render_svg, summary, ClientEvent};

use super::writer::Writes;

/// Writes `svg`, the summary beside it (.txt) and a copy of the journal
/// (.jsonl) for the newest journal in `journal_dir`.
pub fn write_timeline(journal_dir: &Path, svg: &Path, writes: &Writes) -> Result<()> {
    let journal = std::fs::read_dir(journal_dir)
        .with_context(|| format!("reading {}", journal_dir.display()))?
        .filter_map(|e| Some(e.ok()?.path()))
        .max()
        .with_context(|| format!("no failover journal in {}", journal_dir.display()))?;
    let timeline = read_journal(&std::fs::read_to_string(&journal)?).map_err(anyhow::Error::msg)?;
    let client: Vec<ClientEvent> = client_marks(writes)
        .into_iter()
        .map(|(t, ok)| {
            let at = writes.started_at + t;
            let at_ms = match at.duration_since(timeline.started) {
                Ok(d) => d.as_secs_f64() * 1000.0,
                Err(e) => -e.duration().as_secs_f64() * 1000.0,
            };
            ClientEvent { at_ms, ok }
        })
        .filter(|c| c.at_ms > -1500.0)
        .collect();
    if let Some(dir) = svg.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(svg, render_svg(&timeline, &client))?;
    std::fs::write(svg.with_extension("txt"), summary(&timeline))?;
    std::fs::copy(&journal, svg.with_extension("jsonl"))?;
    Ok(())
}

/// The client as one mark per 5 ms: every failure, and a success where
/// there was one (thousands of writes would otherwise bloat the picture).
fn client_marks(writes: &Writes) -> Vec<(std::time::Duration, bool)> {
    let mut marks = Vec::new();
    let mut last_ok_bucket = None;
    for t in &writes.ack_times {
        let bucket = t.as_millis() / 5;
        if last_ok_bucket != Some(bucket) {
            marks.push((*t, true));
            last_ok_bucket = Some(bucket);
        }
    }
    marks.extend(writes.error_times.iter().map(|t| (*t, false)));
    marks
}

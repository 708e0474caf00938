//! The timeline as SVG: lanes on a common time axis. Hand-written (a few
//! rects, lines and texts); every text is XML-escaped.

use std::fmt::Write as _;

use super::{ClientEvent, Timeline};
use crate::execute::report::StepOutcome;
use crate::plan::{Kind, Step};

const WIDTH: f64 = 960.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 20.0;
const LANE: f64 = 28.0;

/// What a lane shows during an interval.
struct Segment {
    from: f64,
    to: f64,
    label: String,
    color: &'static str,
}

/// Least distance between two step numbers at the top of the picture.
const MARK_SPACING: f64 = 18.0;

const MASTER: &str = "#2e7d32";
const REPLICA: &str = "#1565c0";
const DEAD: &str = "#9e9e9e";
const READ_ONLY: &str = "#f9a825";
const LEFT_ALONE: &str = "#bdbdbd";
const FAILED: &str = "#c62828";

pub fn render_svg(t: &Timeline, client: &[ClientEvent]) -> String {
    let t_min = client.iter().map(|c| c.at_ms).fold(0.0_f64, f64::min);
    let t_end = client
        .iter()
        .map(|c| c.at_ms)
        .fold(t.duration_ms.max(1.0), f64::max);
    let span = (t_end - t_min).max(1.0);
    let (t0, t1) = (t_min - span * 0.04, t_end + span * 0.04);
    let x = |ms: f64| LEFT + (ms - t0) / (t1 - t0) * (WIDTH - LEFT - RIGHT);

    let lanes = lanes(t, t0, t1);
    let top = 70.0;
    let lanes_bottom = top + LANE * (lanes.len() as f64 + usize::from(!client.is_empty()) as f64);
    let legend_top = lanes_bottom + 40.0;
    let height = legend_top + 18.0 * (t.steps.len() as f64 + 2.0);

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let title = format!(
        "{} {} of {}: {}{}",
        t.kind.label(),
        t.id,
        t.cluster,
        t.outcome_label(),
        match &t.candidate {
            Some(c) if t.succeeded() => format!(
                " — {c} replaced {} in {:.0} ms",
                t.old_master, t.duration_ms
            ),
            _ => String::new(),
        }
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="22" font-size="15" font-weight="bold">{}</text>"#,
        esc(&title)
    );
    if let Some(d) = &t.outcome_detail {
        let _ = writeln!(
            s,
            r#"<text x="10" y="42" fill="{FAILED}">{}</text>"#,
            esc(d)
        );
    }

    // Time axis.
    let axis_y = lanes_bottom + 14.0;
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#555"/>"##,
        WIDTH - RIGHT
    );
    for tick in ticks(t0, t1) {
        let tx = x(tick);
        let _ = writeln!(
            s,
            r##"<line x1="{tx:.1}" y1="{axis_y}" x2="{tx:.1}" y2="{:.1}" stroke="#555"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#555">{} ms</text>"##,
            axis_y + 4.0,
            axis_y + 16.0,
            if tick.abs() < 1e-9 { 0.0 } else { tick }
        );
    }

    // Lanes.
    for (i, (name, segments)) in lanes.iter().enumerate() {
        let y = top + LANE * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="10" y="{:.1}">{}</text>"#,
            y + 17.0,
            esc(name)
        );
        for seg in segments {
            let (a, b) = (x(seg.from), x(seg.to));
            let _ = writeln!(
                s,
                r#"<rect x="{a:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" opacity="0.85"><title>{}</title></rect>"#,
                y + 4.0,
                (b - a).max(1.0),
                LANE - 8.0,
                seg.color,
                esc(&seg.label)
            );
            if b - a > 60.0 {
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" fill="white" font-size="11">{}</text>"#,
                    a + 4.0,
                    y + 18.0,
                    esc(&clip(&seg.label, ((b - a) / 6.5) as usize))
                );
            }
        }
    }
    if !client.is_empty() {
        let y = top + LANE * lanes.len() as f64;
        let _ = writeln!(
            s,
            r#"<text x="10" y="{:.1}">client writes</text>"#,
            y + 17.0
        );
        for c in client {
            let cx = x(c.at_ms);
            let color = if c.ok { MASTER } else { FAILED };
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="2" height="{:.1}" fill="{color}"/>"#,
                cx - 1.0,
                y + 4.0,
                LANE - 8.0
            );
        }
    }

    // The fault (a failover starts once the master's death is confirmed)
    // or the operator's command: the origin of the time axis.
    let origin = match t.kind {
        Kind::Failover => format!("{} confirmed dead: failover starts", t.old_master),
        Kind::Switchover | Kind::Rollback => format!("{} starts", t.kind.label()),
        Kind::Aurora => "the writer's answers change: vipkeeper follows".to_string(),
    };
    let ox = x(0.0);
    let _ = writeln!(
        s,
        r#"<g id="origin"><line x1="{ox:.1}" y1="{:.1}" x2="{ox:.1}" y2="{lanes_bottom:.1}" stroke="{FAILED}" stroke-width="2"/><text x="{:.1}" y="{:.1}" fill="{FAILED}" font-size="11" text-anchor="end">{}</text></g>"#,
        top - 20.0,
        ox - 4.0,
        top - 22.0,
        esc(&origin)
    );

    // Steps: a numbered mark at each step's end, across every lane. Steps
    // that end within a few pixels of each other get their numbers moved
    // right, one beside the other, so that every number stays readable.
    let mut last_mark = f64::NEG_INFINITY;
    for (i, st) in t.steps.iter().enumerate() {
        let sx = x(st.end_ms);
        let mark = sx.max(last_mark + MARK_SPACING);
        last_mark = mark;
        let color = if st.outcome == StepOutcome::Failed {
            FAILED
        } else {
            "#333"
        };
        let _ = writeln!(
            s,
            r#"<line x1="{sx:.1}" y1="{:.1}" x2="{sx:.1}" y2="{lanes_bottom:.1}" stroke="{color}" stroke-dasharray="3,3"/><line x1="{sx:.1}" y1="{:.1}" x2="{mark:.1}" y2="{:.1}" stroke="{color}"/><circle cx="{mark:.1}" cy="{:.1}" r="8" fill="{color}"/><text x="{mark:.1}" y="{:.1}" text-anchor="middle" fill="white" font-size="10">{}</text>"#,
            top - 4.0,
            top - 4.0,
            top - 12.0,
            top - 12.0,
            top - 8.5,
            i + 1
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="10" y="{legend_top:.1}" font-weight="bold">steps</text>"#
    );
    for (i, st) in t.steps.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="10" y="{:.1}">{}. +{:.0} ms {} — {}: {}</text>"#,
            legend_top + 18.0 * (i as f64 + 1.0),
            i + 1,
            st.end_ms,
            st.outcome.label(),
            esc(&st.text),
            // The picture is 960 px wide: keep each line inside it.
            esc(&clip(
                &st.detail,
                140usize.saturating_sub(st.text.chars().count() + 20)
            ))
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Each node's lane, then the VIP's, from the plan and what the steps did.
fn lanes(t: &Timeline, t0: f64, t1: f64) -> Vec<(String, Vec<Segment>)> {
    // When each step that did not fail ended, by step name and node.
    let ends = |name: &'static str, node: &str| -> Vec<f64> {
        t.steps
            .iter()
            .filter(|s| {
                s.step.name() == name && s.outcome != StepOutcome::Failed && s.step.node() == node
            })
            .map(|s| s.end_ms)
            .collect()
    };
    let old = t.old_master.as_str();
    let mut out = Vec::new();
    for n in &t.nodes {
        let mut changes = Vec::new();
        let first = if n == old && t.kind != Kind::Failover {
            changes.extend(
                ends("stop-writes", n)
                    .into_iter()
                    .map(|e| (e, "read-only".to_string(), READ_ONLY)),
            );
            if let Some(c) = &t.candidate {
                changes.extend(
                    ends("repoint", n)
                        .into_iter()
                        .map(|e| (e, format!("replica of {c}"), REPLICA)),
                );
            }
            changes.extend(
                ends("make-writable", n)
                    .into_iter()
                    .map(|e| (e, "master, writable again".to_string(), MASTER)),
            );
            ("master, writable".to_string(), MASTER)
        } else if n == old {
            // The master until the failover starts (its death confirmed),
            // dead from then on, fenced once fencing reached it.
            changes.push((0.0, "old master: dead".to_string(), DEAD));
            changes.extend(
                t.steps
                    .iter()
                    .filter(|s| {
                        matches!(s.step, Step::FenceOldMaster { .. })
                            && s.outcome == StepOutcome::Ok
                    })
                    .map(|s| (s.end_ms, "old master: fenced".to_string(), DEAD)),
            );
            ("master, until found dead".to_string(), MASTER)
        } else if Some(n) == t.candidate.as_ref() {
            changes.extend(
                ends("detach", n)
                    .into_iter()
                    .map(|e| (e, "detached, read-only".to_string(), READ_ONLY)),
            );
            changes.extend(
                ends("make-writable", n)
                    .into_iter()
                    .map(|e| (e, "master, writable".to_string(), MASTER)),
            );
            changes.extend(
                ends("reattach", n)
                    .into_iter()
                    .map(|e| (e, format!("replica of {old} again"), REPLICA)),
            );
            (format!("replica of {old}"), REPLICA)
        } else {
            match &t.candidate {
                Some(c) if !ends("repoint", n).is_empty() => {
                    changes.extend(
                        ends("repoint", n)
                            .into_iter()
                            .map(|e| (e, format!("replica of {c}"), REPLICA)),
                    );
                    (format!("replica of {old}"), REPLICA)
                }
                _ => ("unchanged".to_string(), LEFT_ALONE),
            }
        };
        out.push((n.clone(), segments(t0, t1, first, changes)));
    }
    if t.has_vip {
        let moves = t
            .steps
            .iter()
            .filter(|s| matches!(s.step, Step::MoveVip { .. }) && s.outcome != StepOutcome::Failed)
            .map(|s| (s.end_ms, format!("VIP → {}", s.step.node()), MASTER));
        // For a failover the address points at a dead master from the
        // moment the failover starts until it moves.
        let dead_from_start =
            (t.kind == Kind::Failover).then(|| (0.0, format!("VIP → {old} (dead)"), DEAD));
        out.push((
            "VIP".into(),
            segments(
                t0,
                t1,
                (format!("VIP → {old}"), MASTER),
                dead_from_start.into_iter().chain(moves).collect(),
            ),
        ));
    }
    out
}

/// A lane from `t0` to `t1` that starts as `first` and changes at each
/// (time, label, colour).
fn segments(
    t0: f64,
    t1: f64,
    first: (String, &'static str),
    mut changes: Vec<(f64, String, &'static str)>,
) -> Vec<Segment> {
    changes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::new();
    let (mut from, mut label, mut color) = (t0, first.0, first.1);
    for (at, next_label, next_color) in changes {
        out.push(Segment {
            from,
            to: at,
            label,
            color,
        });
        (from, label, color) = (at, next_label, next_color);
    }
    out.push(Segment {
        from,
        to: t1,
        label,
        color,
    });
    out
}

/// Round tick values across [t0, t1].
fn ticks(t0: f64, t1: f64) -> Vec<f64> {
    let span = t1 - t0;
    let raw = span / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(magnitude * 10.0);
    let mut v = (t0 / step).ceil() * step;
    let mut out = Vec::new();
    while v <= t1 {
        out.push(v);
        v += step;
    }
    out
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// XML text escaping.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

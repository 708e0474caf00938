//! Journals as the executor writes them: a success, a failure, a refusal.

use super::*;

fn well_formed(svg: &str) {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{svg}"));
}

const SUCCESS: &str = r#"{"ts":"2026-11-21T18:18:23.777Z","event":"start","id":"main-1","trigger":"automatic","plan":{"cluster":"main","dead_master":"db1","candidate":"db2","why":"received the most","catch_up_from":null,"considered":[{"name":"db2","received":null,"executed":null,"verdict":"candidate"},{"name":"db3","received":null,"executed":null,"verdict":"eligible","behind":false}],"positioning":"gtid","not_repointed":[],"steps":[{"step":"fence-old-master","node":"db1"},{"step":"wait-applied","node":"db2"},{"step":"detach","node":"db2"},{"step":"move-vip","from":"db1","to":"db2"},{"step":"make-writable","node":"db2"},{"step":"repoint","node":"db3","to":"db2"}]}}
{"ts":"2026-11-21T18:18:23.781Z","event":"step","step":"fence-old-master","node":"db1","outcome":"skipped","detail":"cannot connect to db1 <refused>","at_ms":2,"elapsed_ms":1}
{"ts":"2026-11-21T18:18:23.782Z","event":"step","step":"wait-applied","node":"db2","outcome":"ok","detail":"applied all it received","at_ms":3,"elapsed_ms":1}
{"ts":"2026-11-21T18:18:23.787Z","event":"step","step":"detach","node":"db2","outcome":"ok","detail":"replication stopped and reset","at_ms":4,"elapsed_ms":5}
{"ts":"2026-11-21T18:18:23.790Z","event":"step","step":"move-vip","from":"db1","to":"db2","outcome":"ok","detail":"linux-route: moved","at_ms":9,"elapsed_ms":3}
{"ts":"2026-11-21T18:18:23.791Z","event":"step","step":"make-writable","node":"db2","outcome":"ok","detail":"read_only off","at_ms":12,"elapsed_ms":2}
{"ts":"2026-11-21T18:18:23.814Z","event":"step","step":"repoint","node":"db3","to":"db2","outcome":"ok","detail":"replicates from db2","at_ms":14,"elapsed_ms":22}
{"ts":"2026-11-21T18:18:23.816Z","event":"end","outcome":{"outcome":"success"},"duration_ms":39}
"#;

#[test]
fn a_successful_failover() {
    let t = read_journal(SUCCESS).unwrap();
    assert_eq!(
        (
            t.cluster.as_str(),
            t.old_master.as_str(),
            t.candidate.as_deref()
        ),
        ("main", "db1", Some("db2"))
    );
    assert_eq!(t.nodes, ["db1", "db2", "db3"]);
    assert_eq!(t.steps.len(), 6);
    assert_eq!(t.steps[4].text, "make db2 writable");
    assert_eq!(t.outcome_label(), "success");
    let text = summary(&t);
    assert!(text.contains("db2 replaced db1 in 39 ms"), "{text}");
    let svg = render_svg(
        &t,
        &[
            ClientEvent {
                at_ms: -50.0,
                ok: true,
            },
            ClientEvent {
                at_ms: 20.0,
                ok: true,
            },
        ],
    );
    well_formed(&svg);
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    for needle in [
        "master, writable",
        "VIP → db2",
        "replica of db2",
        "6. +36 ms ok — repoint db3 to db2",
        "client writes",
        "&lt;refused&gt;",
    ] {
        assert!(svg.contains(needle), "missing {needle:?}");
    }
}

#[test]
fn a_failed_failover_names_the_step() {
    let failed = SUCCESS
        .lines()
        .take(5)
        .chain([
            r#"{"ts":"2026-11-21T18:18:23.791Z","event":"step","step":"make-writable","node":"db2","outcome":"failed","detail":"connection lost","at_ms":12,"elapsed_ms":2}"#,
            r#"{"ts":"2026-11-21T18:18:23.792Z","event":"end","outcome":{"outcome":"failed","step":"make-writable","node":"db2","error":"connection lost","remedy":"..."},"duration_ms":15}"#,
        ])
        .collect::<Vec<_>>()
        .join("\n");
    let t = read_journal(&failed).unwrap();
    assert_eq!(t.outcome_label(), "failed");
    assert_eq!(
        t.outcome_detail.as_deref(),
        Some("at step make-writable on db2: connection lost")
    );
    let svg = render_svg(&t, &[]);
    well_formed(&svg);
    assert!(
        svg.contains("at step make-writable on db2") && !svg.contains("master, writable"),
        "{svg}"
    );
    assert!(svg.contains("detached, read-only"));
}

#[test]
fn a_refused_failover() {
    let refused = r#"{"ts":"2026-11-21T18:18:23.777Z","event":"start","id":"main-2","cluster":"main","trigger":"manual","dead_master":"db1","considered":[{"name":"db2","received":null,"executed":null,"verdict":"excluded","reason":"SQL thread stopped by error 1062"}]}
{"ts":"2026-11-21T18:18:23.777Z","event":"end","outcome":{"outcome":"refused","why":"every reachable replica is excluded"},"duration_ms":0}"#;
    let t = read_journal(refused).unwrap();
    assert_eq!(t.outcome_label(), "refused");
    assert_eq!(
        t.outcome_detail.as_deref(),
        Some("every reachable replica is excluded")
    );
    assert_eq!(t.nodes, ["db1", "db2"]);
    let svg = render_svg(&t, &[]);
    well_formed(&svg);
    assert!(svg.contains("every reachable replica is excluded") && svg.contains("unchanged"));
}

#[test]
fn not_a_journal() {
    assert!(read_journal("{}")
        .unwrap_err()
        .contains("no \"start\" line"));
    assert!(read_journal("nope")
        .unwrap_err()
        .starts_with("line 1: not JSON"));
}

#[test]
fn step_numbers_that_would_overlap_are_set_apart() {
    // Steps 2 and 3 end at the same millisecond.
    let journal = SUCCESS.replace(r#""at_ms":4,"elapsed_ms":5"#, r#""at_ms":3,"elapsed_ms":1"#);
    let svg = render_svg(&read_journal(&journal).unwrap(), &[]);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let marks: Vec<f64> = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .map(|n| n.attribute("cx").unwrap().parse().unwrap())
        .collect();
    assert_eq!(marks.len(), 6);
    for pair in marks.windows(2) {
        assert!(pair[1] - pair[0] >= 17.9, "{marks:?}");
    }
}

/// Where each rect whose tooltip is `label` begins and ends (x).
fn rects(doc: &roxmltree::Document, label: &str) -> Vec<(f64, f64)> {
    doc.descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter(|n| {
            n.children()
                .any(|c| c.has_tag_name("title") && c.text() == Some(label))
        })
        .map(|n| {
            let x: f64 = n.attribute("x").unwrap().parse().unwrap();
            let w: f64 = n.attribute("width").unwrap().parse().unwrap();
            (x, x + w)
        })
        .collect()
}

#[test]
fn each_lane_is_what_it_was_at_each_moment_and_the_fault_is_marked_at_zero() {
    let t = read_journal(SUCCESS).unwrap();
    // Client writes from 50 ms before the failover started.
    let client = [
        ClientEvent {
            at_ms: -50.0,
            ok: true,
        },
        ClientEvent {
            at_ms: 30.0,
            ok: true,
        },
    ];
    let svg = render_svg(&t, &client);
    well_formed(&svg);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let origin = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("origin"))
        .expect("a mark at 0 ms");
    let zero: f64 = origin
        .children()
        .find(|c| c.has_tag_name("line"))
        .unwrap()
        .attribute("x1")
        .unwrap()
        .parse()
        .unwrap();
    assert!(svg.contains("db1 confirmed dead: failover starts"), "{svg}");
    // Before 0 the old master was the master; dead only from 0 on.
    let alive = rects(&doc, "master, until found dead");
    assert_eq!(alive.len(), 1, "{svg}");
    assert!((alive[0].1 - zero).abs() < 0.2, "{alive:?} vs {zero}");
    let dead = rects(&doc, "old master: dead");
    assert!((dead[0].0 - zero).abs() < 0.2, "{dead:?} vs {zero}");
    // The VIP pointed at the master, then at a dead one until it moved.
    let vip_dead = rects(&doc, "VIP → db1 (dead)");
    assert!((vip_dead[0].0 - zero).abs() < 0.2, "{vip_dead:?}");
    assert_eq!(rects(&doc, "VIP → db1").len(), 1);
}

#[test]
fn a_journal_written_today_reads_back_and_later_events_are_passed_over() {
    use crate::execute::report::{StepOutcome, StepRecord};
    use crate::execute::{Journal, JournalEvent, Outcome, Start, Trigger};

    let old = read_journal(SUCCESS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let mut journal = Journal::open(&path);
    let plan: crate::plan::Plan = {
        let start = SUCCESS.lines().next().unwrap();
        let v: serde_json::Value = serde_json::from_str(start).unwrap();
        serde_json::from_value(v["plan"].clone()).unwrap()
    };
    journal.write(JournalEvent::Start(Box::new(Start::of_plan(
        "main-9",
        Trigger::Manual,
        &plan,
    ))));
    journal.write(JournalEvent::Step(StepRecord {
        step: crate::plan::Step::MakeWritable { node: "db2".into() },
        outcome: StepOutcome::Ok,
        detail: "read_only off".into(),
        at_ms: 5,
        elapsed_ms: 2,
    }));
    journal.write(JournalEvent::End {
        outcome: Outcome::Success,
        duration_ms: 9,
    });
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"ts":"2026-11-21T18:18:23.999Z","event":"a-later-kind","x":1}"#);
    let t = read_journal(&text).unwrap();
    assert_eq!((t.id.as_str(), t.trigger), ("main-9", Trigger::Manual));
    assert_eq!(t.nodes, old.nodes);
    assert_eq!(t.steps.len(), 1);
    assert_eq!(t.steps[0].text, "make db2 writable");
    assert!(t.succeeded());
    assert_eq!(t.duration_ms, 9.0);
}

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
    assert_eq!(t.outcome, "success");
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
    assert_eq!(t.outcome, "failed");
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
    assert_eq!(t.outcome, "refused");
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

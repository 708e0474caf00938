use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

const U1: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const U2: &str = "4f2ab8c0-0000-11e1-9e33-c80aa9429562";
const U3: &str = "5a000000-1111-2222-3333-444455556666";

fn set(text: &str) -> MysqlGtidSet {
    MysqlGtidSet::parse(text).unwrap()
}

#[test]
fn mysql_parse_and_display_round_trip() {
    let text = format!("{U1}:1-5:7-9,{U2}:3");
    assert_eq!(set(&text).to_string(), text);
    assert_eq!(set(&text).count(), 9);
}

#[test]
fn mysql_parse_normalises_overlaps_case_and_newlines() {
    // MySQL prints long sets with newlines after commas; uuids may be upper case.
    let text = format!("{}:1-3:2-6:7,\n{U2}:10", U1.to_uppercase());
    assert_eq!(set(&text).to_string(), format!("{U1}:1-7,{U2}:10"));
}

#[test]
fn mysql_tagged_gtids() {
    let text = format!("{U1}:1-5:audit:1-3:7");
    let s = set(&text);
    assert_eq!(s.to_string(), text);
    assert!(s.contains_gtid(
        &GtidSource {
            uuid: U1.into(),
            tag: "audit".into()
        },
        7
    ));
    assert!(!s.contains_gtid(
        &GtidSource {
            uuid: U1.into(),
            tag: String::new()
        },
        7
    ));
}

#[test]
fn mysql_subtract_finds_errant_transactions() {
    let master = set(&format!("{U1}:1-100"));
    let replica = set(&format!("{U1}:1-90,{U2}:1-2"));
    assert_eq!(replica.subtract(&master).to_string(), format!("{U2}:1-2"));
    assert_eq!(
        master.subtract(&replica).to_string(),
        format!("{U1}:91-100")
    );
    assert!(!master.contains(&replica));
}

#[test]
fn mysql_rejects_bad_text_with_reason() {
    for bad in [
        "nope",
        U1,
        &format!("{U1}:0-3"),
        &format!("{U1}:5-3"),
        &format!("{U1}:1-x"),
        &format!("{U1}:9223372036854775808"),
        "3e11fa47-71ca-11e1-9e33:1-3",
    ] {
        let err = MysqlGtidSet::parse(bad).unwrap_err();
        assert!(err.to_string().contains("invalid GTID set"), "{err}");
    }
    assert!(MysqlGtidSet::parse("").unwrap().is_empty());
    assert!(MysqlGtidSet::parse(" \n").unwrap().is_empty());
}

#[test]
fn mariadb_parse_display_and_binlog_state() {
    let pos = MariadbGtidPos::parse("0-1-100,1-2-5").unwrap();
    assert_eq!(pos.to_string(), "0-1-100,1-2-5");
    // gtid_binlog_state names a domain once per server id: the furthest wins.
    let state = MariadbGtidPos::parse("0-2-40,0-1-100").unwrap();
    assert_eq!(state.to_string(), "0-1-100");
    assert!(MariadbGtidPos::parse("").unwrap().is_empty());
    assert!(MariadbGtidPos::parse("0-1").is_err());
    assert!(MariadbGtidPos::parse("a-1-2").is_err());
}

#[test]
fn mariadb_subtract_and_divergence() {
    let master = MariadbGtidPos::parse("0-1-100").unwrap();
    let behind = MariadbGtidPos::parse("0-1-90").unwrap();
    let errant = MariadbGtidPos::parse("0-1-100,5-3-2").unwrap();
    let diverged = MariadbGtidPos::parse("0-3-100").unwrap();
    assert!(master.contains(&behind));
    assert_eq!(
        master.subtract(&behind),
        vec![MissingRange {
            domain: 0,
            from_seq: 91,
            to_seq: 100,
            diverged: false
        }]
    );
    assert!(!master.contains(&errant));
    assert!(!master.contains(&diverged) && !diverged.contains(&master));
    let surplus = GtidSet::Mariadb(diverged).describe_surplus(&GtidSet::Mariadb(master));
    assert_eq!(surplus.as_deref(), Some("domain 0 seq 100 (diverged)"));
}

#[test]
fn flavor_neutral_questions() {
    let a = GtidSet::Mysql(set(&format!("{U1}:1-10")));
    let b = GtidSet::Mysql(set(&format!("{U1}:1-5")));
    assert!(a.contains(&b));
    assert_eq!(b.describe_surplus(&a), None);
    assert_eq!(a.describe_surplus(&b), Some(format!("{U1}:6-10")));
}

#[test]
fn errant_ignores_what_the_master_wrote_after_its_probe() {
    let master = GtidSet::Mysql(set(&format!("{U1}:1-100")));
    let newer = GtidSet::Mysql(set(&format!("{U1}:1-101")));
    assert_eq!(newer.errant(&master, Some(U1), 1), None);
    let errant = GtidSet::Mysql(set(&format!("{U1}:1-101,{U2}:1")));
    assert_eq!(errant.errant(&master, Some(U1), 1), Some(format!("{U2}:1")));

    let master = GtidSet::Mariadb(MariadbGtidPos::parse("0-1-100").unwrap());
    let newer = GtidSet::Mariadb(MariadbGtidPos::parse("0-1-102").unwrap());
    assert_eq!(newer.errant(&master, None, 1), None);
    let local = GtidSet::Mariadb(MariadbGtidPos::parse("0-2-101").unwrap());
    assert_eq!(
        local.errant(&master, None, 1).as_deref(),
        Some("domain 0 seq 101")
    );
}

// ---- property tests: the set operations agree with a naive model ----------

type Model = BTreeSet<(usize, &'static str, u64)>;

const UUIDS: [&str; 3] = [U1, U2, U3];
const TAGS: [&str; 3] = ["", "a", "zz_9"];

fn arb_members() -> impl Strategy<Value = Vec<(usize, usize, u64, u64)>> {
    prop::collection::vec((0..3usize, 0..3usize, 1..60u64, 0..8u64), 0..8)
}

fn build(members: &[(usize, usize, u64, u64)]) -> (MysqlGtidSet, Model) {
    let mut s = MysqlGtidSet::new();
    let mut m = Model::new();
    for &(u, t, start, len) in members {
        s.add_interval(
            GtidSource {
                uuid: UUIDS[u].into(),
                tag: TAGS[t].into(),
            },
            Interval::new(start, start + len).unwrap(),
        );
        for n in start..=start + len {
            m.insert((u, TAGS[t], n));
        }
    }
    (s, m)
}

fn model_of(s: &MysqlGtidSet) -> Model {
    let mut m = Model::new();
    for (source, intervals) in s.iter() {
        let u = UUIDS.iter().position(|x| *x == source.uuid).unwrap();
        let t = *TAGS.iter().find(|x| **x == source.tag).unwrap();
        for i in intervals {
            for n in i.start()..=i.end() {
                m.insert((u, t, n));
            }
        }
    }
    m
}

fn arb_mariadb() -> impl Strategy<Value = MariadbGtidPos> {
    prop::collection::vec((0..3u32, 1..3u32, 1..50u64), 0..5).prop_map(|tips| {
        let mut p = MariadbGtidPos::new();
        for (domain, server_id, seq) in tips {
            p.advance(domain, DomainTip { server_id, seq });
        }
        p
    })
}

proptest! {
    #[test]
    fn mysql_set_matches_model(a in arb_members(), b in arb_members()) {
        let (sa, ma) = build(&a);
        let (sb, mb) = build(&b);
        prop_assert_eq!(model_of(&sa), ma.clone());
        prop_assert_eq!(model_of(&sa.union(&sb)), &ma | &mb);
        prop_assert_eq!(model_of(&sa.subtract(&sb)), &ma - &mb);
        prop_assert_eq!(sa.contains(&sb), mb.is_subset(&ma));
        prop_assert_eq!(sa.count(), ma.len() as u64);
    }

    #[test]
    fn mysql_display_parse_round_trip(a in arb_members()) {
        let (s, _) = build(&a);
        prop_assert_eq!(MysqlGtidSet::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn mysql_union_contains_both_and_subtract_is_disjoint(a in arb_members(), b in arb_members()) {
        let (sa, _) = build(&a);
        let (sb, _) = build(&b);
        let u = sa.union(&sb);
        prop_assert!(u.contains(&sa) && u.contains(&sb));
        let d = sa.subtract(&sb);
        prop_assert!(d.subtract(&sb) == d);
        prop_assert_eq!(d.union(&sb), u);
    }

    #[test]
    fn mariadb_laws(a in arb_mariadb(), b in arb_mariadb()) {
        prop_assert_eq!(MariadbGtidPos::parse(&a.to_string()).unwrap(), a.clone());
        prop_assert!(a.contains(&a));
        prop_assert_eq!(a.contains(&b), b.subtract(&a).is_empty());
        let u = a.union(&b);
        // The union reaches at least as far as either side in every domain.
        for (d, tip) in a.iter().chain(b.iter()) {
            prop_assert!(u.tip(d).unwrap().seq >= tip.seq);
        }
        prop_assert!(u.contains(&a));
    }
}

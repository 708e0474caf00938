//! From a confirmed dead master to the list of steps that replace it.

use crate::analysis::History;
use crate::candidate::{choose, joined, Exclusion, Refusal, Verdict};
use crate::config::ClusterConfig;
use crate::mysql::replica_status::PositionMode;
use crate::topology::{ClusterView, Topology};

use super::{promote, Kind, Plan, Positioning, Step};

/// Plans the replacement of `master`, confirmed dead.
pub fn plan(
    view: &ClusterView,
    topology: &Topology,
    master: &str,
    cluster: &ClusterConfig,
    history: &History,
) -> Result<Plan, Refusal> {
    let replicas: Vec<String> = cluster
        .nodes
        .iter()
        .filter(|n| n.name != master)
        .filter(|n| {
            topology.source.get(&n.name).and_then(|s| s.as_deref()) == Some(master)
                || view.node(&n.name).is_some_and(|v| v.state().is_none())
        })
        .map(|n| n.name.clone())
        .collect();
    let choice = choose(view, master, &replicas, &cluster.failover, history)?;

    let reachable: Vec<&str> = replicas
        .iter()
        .filter(|r| {
            view.node(r)
                .and_then(|n| n.state())
                .is_some_and(|s| s.replica.is_some())
        })
        .map(String::as_str)
        .collect();
    let replica_of = |name: &str| {
        view.node(name)
            .and_then(|n| n.state())
            .and_then(|s| s.replica.as_ref())
    };
    let file_pos = reachable
        .iter()
        .any(|r| replica_of(r).is_some_and(|x| x.position_mode == PositionMode::FilePos));
    // File/position: replicas level with the candidate start at its binlog
    // position as of its promotion. One that received less has no such
    // position; it is repointed by GTID where the servers keep GTIDs
    // (MariaDB always does: `gtid_slave_pos` is exact even in file/position
    // mode), and otherwise stopped and named.
    let mut by_gtid = Vec::new();
    let mut held = Vec::new();
    // Without GTIDs, a replica that received less can still be levelled
    // from the dead master's binlog or the candidate's relay log (the one
    // that received most), when a host agent can be asked.
    let mut level = Vec::new();
    let has_agent = |n: &str| cluster.node(n).is_some_and(|n| n.host_agent.is_some());
    let most_received = choice
        .catch_up_from
        .clone()
        .unwrap_or_else(|| choice.candidate.clone());
    let can_level = cluster.salvage.is_some() && (has_agent(master) || has_agent(&most_received));
    let positioning = if file_pos {
        let candidate_received = replica_of(&choice.candidate).and_then(|x| x.received.clone());
        let candidate_gtids = view
            .node(&choice.candidate)
            .and_then(|n| n.state())
            .is_some_and(keeps_gtids);
        for r in reachable.iter().filter(|r| **r != choice.candidate) {
            let received = replica_of(r).and_then(|x| x.received.clone());
            if received == candidate_received {
                continue;
            }
            let state = view.node(r).and_then(|n| n.state());
            let at = |c: Option<crate::mysql::binlog::BinlogCoord>| {
                c.map(|c| c.to_string()).unwrap_or_else(|| "nothing".into())
            };
            if candidate_gtids && state.is_some_and(keeps_gtids) {
                by_gtid.push(r.to_string());
            } else if can_level {
                level.push(r.to_string());
            } else {
                held.push((
                    r.to_string(),
                    format!(
                        "received less than {} ({} < {}) under file/position replication without GTIDs, so it has no position in {}'s binlog; its replication is stopped. Re-clone it from {}, or apply the events it lacks from {}'s relay log by hand; with gtid_mode=ON it would have been repointed by auto-position",
                        choice.candidate,
                        at(received),
                        at(candidate_received.clone()),
                        choice.candidate,
                        choice.candidate,
                        choice.candidate
                    ),
                ));
            }
        }
        Positioning::SamePosition
    } else {
        Positioning::Gtid
    };

    let mut not_repointed = held.clone();
    let mut repoint = Vec::new();
    for c in &choice.considered {
        if c.name == choice.candidate
            || held.iter().any(|(h, _)| *h == c.name)
            || level.contains(&c.name)
        {
            continue;
        }
        match &c.verdict {
            Verdict::Excluded { reasons }
                if reasons
                    .iter()
                    .any(Exclusion::keeps_it_out_of_the_new_cluster) =>
            {
                not_repointed.push((c.name.clone(), joined(reasons)))
            }
            _ => repoint.push(c.name.clone()),
        }
    }

    let candidate = choice.candidate.clone();
    let mut steps = vec![Step::FenceOldMaster {
        node: master.into(),
    }];
    match &choice.catch_up_from {
        // Catching up ends with the candidate holding all the source has.
        Some(from) => {
            steps.push(Step::WaitApplied { node: from.clone() });
            steps.push(Step::CatchUp {
                node: candidate.clone(),
                from: from.clone(),
                skip: choice.skip_errant.clone(),
            });
        }
        None => steps.push(Step::WaitApplied {
            node: candidate.clone(),
        }),
    }
    // Salvage before the candidate forgets where it stood in the dead
    // master's binlog (detach), and before anyone can write to it.
    if cluster.salvage.is_some() {
        steps.push(Step::Salvage {
            node: candidate.clone(),
            from: master.into(),
            position_of: most_received.clone(),
        });
    }
    // Detach resets the relay log: what levelling needs of it is read first.
    if !level.is_empty() && has_agent(&most_received) {
        steps.push(Step::ReadRelayLog {
            node: most_received.clone(),
            lagging: level.clone(),
        });
    }
    steps.extend(promote(cluster, master, &candidate));
    steps.extend(repoint.into_iter().map(|node| Step::Repoint {
        node,
        to: candidate.clone(),
    }));
    steps.extend(level.into_iter().map(|node| Step::Level {
        node,
        from: master.into(),
        to: candidate.clone(),
    }));
    steps.extend(
        held.into_iter()
            .map(|(node, _)| Step::StopReplication { node }),
    );

    Ok(Plan {
        kind: Kind::Failover,
        cluster: cluster.name.clone(),
        old_master: master.into(),
        candidate,
        why: choice.why,
        catch_up_from: choice.catch_up_from,
        considered: choice.considered,
        positioning,
        not_repointed,
        by_gtid,
        steps,
        master_last_seen: (history.last_master.as_deref() == Some(master))
            .then_some(history.last_master_state.as_ref())
            .flatten()
            .map(|s| super::LastSeen {
                binlog: s.binlog.clone(),
                gtids: s.gtid.executed.as_ref().map(ToString::to_string),
            }),
    })
}

/// Whether a server keeps GTIDs a replica can be positioned by: MariaDB
/// always does; MySQL with `gtid_mode=ON`.
fn keeps_gtids(s: &crate::mysql::NodeState) -> bool {
    match s.version.flavor {
        crate::mysql::flavor::Flavor::Mariadb => s.gtid.executed.is_some(),
        crate::mysql::flavor::Flavor::Mysql => s.gtid.mode.eq_ignore_ascii_case("ON"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;

    fn dead_master(states: Vec<(u32, crate::mysql::NodeState)>) -> (ClusterView, Topology) {
        let mut nodes = vec![node(1, Err(refused()))];
        nodes.extend(states.into_iter().map(|(n, s)| node(n, Ok(lost_source(s)))));
        let v = view(nodes);
        let t = Topology::derive(&v, 30);
        (v, t)
    }

    #[test]
    fn steps_in_order_fence_before_vip_before_writable() {
        let (v, t) = dead_master(vec![
            (2, at(state(2, false, Some(1)), 900, 900)),
            (3, at(state(3, false, Some(1)), 800, 800)),
        ]);
        let p = plan(&v, &t, "db1", &cluster_config(3, true), &History::default()).unwrap();
        assert_eq!(p.candidate, "db2");
        assert_eq!(p.positioning, Positioning::Gtid);
        let names: Vec<String> = p.steps.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "fence db1 if reachable (read-only, kill client connections)",
                "wait until db2 has applied all it received",
                "stop and reset replication on db2",
                "move the VIP from db1 to db2",
                "make db2 writable",
                "repoint db3 to db2 and verify it replicates",
            ]
        );
        let text = p.describe();
        assert!(
            text.contains("db3 (received mysql-bin.000001:800): eligible, received less"),
            "{text}"
        );
    }

    #[test]
    fn catch_up_comes_first_and_unreachable_replicas_are_left_alone() {
        let mut nodes = vec![node(1, Err(refused())), node(4, Err(refused()))];
        nodes.push(node(
            2,
            Ok(lost_source(at(state(2, false, Some(1)), 600, 600))),
        ));
        nodes.push(node(
            3,
            Ok(lost_source(at(state(3, false, Some(1)), 900, 900))),
        ));
        let v = view(nodes);
        let t = Topology::derive(&v, 30);
        let mut c = cluster_config(4, false);
        c.failover.prefer = vec!["db2".into()];
        let p = plan(&v, &t, "db1", &c, &History::default()).unwrap();
        assert_eq!(p.catch_up_from.as_deref(), Some("db3"));
        assert_eq!(p.steps[1], Step::WaitApplied { node: "db3".into() });
        assert_eq!(
            p.steps[2],
            Step::CatchUp {
                node: "db2".into(),
                from: "db3".into(),
                skip: None
            }
        );
        assert_eq!(p.steps[3], Step::Detach { node: "db2".into() });
        assert!(
            !p.steps.iter().any(|s| matches!(s, Step::MoveVip { .. })),
            "no VIP configured"
        );
        assert_eq!(p.not_repointed.len(), 1);
        assert_eq!(p.not_repointed[0].0, "db4");
    }

    #[test]
    fn a_lagging_file_position_replica_is_repointed_by_gtid_or_stopped_and_named() {
        let file_pos = |mut s: crate::mysql::NodeState, gtid_mode: &str| {
            replica(&mut s).position_mode = PositionMode::FilePos;
            s.gtid.mode = gtid_mode.into();
            s
        };
        // GTIDs on (every MariaDB, MySQL with gtid_mode=ON): by GTID.
        let (v, t) = dead_master(vec![
            (2, file_pos(at(state(2, false, Some(1)), 900, 900), "ON")),
            (3, file_pos(at(state(3, false, Some(1)), 800, 800), "ON")),
        ]);
        let c = cluster_config(3, false);
        let p = plan(&v, &t, "db1", &c, &History::default()).unwrap();
        assert_eq!(p.candidate, "db2", "the one that received the most");
        assert_eq!(p.positioning, Positioning::SamePosition);
        assert_eq!(p.by_gtid, ["db3"]);
        assert!(p.not_repointed.is_empty());
        assert!(p.steps.contains(&Step::Repoint {
            node: "db3".into(),
            to: "db2".into()
        }));

        // MySQL without GTIDs: promoted all the same; db3 stopped and named.
        let (v, t) = dead_master(vec![
            (2, file_pos(at(state(2, false, Some(1)), 900, 900), "OFF")),
            (3, file_pos(at(state(3, false, Some(1)), 800, 800), "OFF")),
        ]);
        let p = plan(&v, &t, "db1", &c, &History::default()).unwrap();
        assert_eq!(p.candidate, "db2");
        assert!(p.by_gtid.is_empty());
        assert_eq!(p.not_repointed.len(), 1);
        let (node, why) = &p.not_repointed[0];
        assert_eq!(node, "db3");
        assert!(
            why.starts_with("received less than db2 (mysql-bin.000001:800 < mysql-bin.000001:900)"),
            "{why}"
        );
        assert_eq!(
            p.steps.last(),
            Some(&Step::StopReplication { node: "db3".into() })
        );
        assert!(!p.steps.iter().any(|s| matches!(s, Step::Repoint { .. })));

        // With salvage and the dead master's host agent: levelled instead.
        let mut c = c.clone();
        c.salvage = Some(crate::config::SalvageConfig {
            token_file: "/etc/vipkeeper/salvage.token".into(),
            token: crate::config::Secret::new("0123456789abcdef"),
            deadline: std::time::Duration::from_secs(5),
            max_bytes: 1 << 20,
        });
        c.nodes[0].host_agent = Some("10.0.0.1:9107".into());
        let p = plan(&v, &t, "db1", &c, &History::default()).unwrap();
        assert!(p.not_repointed.is_empty(), "{:?}", p.not_repointed);
        assert_eq!(
            &p.steps[2..],
            [
                Step::Salvage {
                    node: "db2".into(),
                    from: "db1".into(),
                    position_of: "db2".into()
                },
                Step::Detach { node: "db2".into() },
                Step::MakeWritable { node: "db2".into() },
                Step::Level {
                    node: "db3".into(),
                    from: "db1".into(),
                    to: "db2".into()
                },
            ]
        );

        // With the new master's host agent only: what db3 lacks is read
        // from db2's relay log before db2 is detached.
        let mut c = c.clone();
        c.nodes[0].host_agent = None;
        c.nodes[1].host_agent = Some("10.0.0.2:9107".into());
        let p = plan(&v, &t, "db1", &c, &History::default()).unwrap();
        assert_eq!(
            &p.steps[3..5],
            [
                Step::ReadRelayLog {
                    node: "db2".into(),
                    lagging: vec!["db3".into()]
                },
                Step::Detach { node: "db2".into() },
            ]
        );
        assert!(
            matches!(p.steps.last(), Some(Step::Level { node, .. }) if node == "db3"),
            "{:?}",
            p.steps
        );
        // Without any host agent: stopped and named, as without salvage.
        c.nodes[1].host_agent = None;
        let p = plan(&v, &t, "db1", &c, &History::default()).unwrap();
        assert_eq!(p.not_repointed.len(), 1);

        // Level replicas share one position.
        let (v, t) = dead_master(vec![
            (2, file_pos(at(state(2, false, Some(1)), 900, 900), "OFF")),
            (3, file_pos(at(state(3, false, Some(1)), 900, 700), "OFF")),
        ]);
        let p = plan(&v, &t, "db1", &c, &History::default()).unwrap();
        assert_eq!(p.positioning, Positioning::SamePosition);
        assert!(p.by_gtid.is_empty() && p.not_repointed.is_empty());
    }
}

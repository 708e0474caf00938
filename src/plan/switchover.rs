//! A switchover from a live master, once preflight has passed: stop its
//! writes, let the candidate reach them, move the VIP, promote, and repoint
//! everyone, the old master last.

use crate::candidate::Considered;
use crate::config::ClusterConfig;
use crate::mysql::replica_status::PositionMode;
use crate::topology::{ClusterView, Topology};

use super::{promote, Kind, Plan, Positioning, Step};

/// Plans the handover from the live `master` to `candidate` (chosen by
/// preflight, `why` says how), repointing `replicas`.
#[allow(clippy::too_many_arguments)]
pub fn switchover(
    view: &ClusterView,
    topology: &Topology,
    cluster: &ClusterConfig,
    master: &str,
    replicas: &[String],
    candidate: String,
    why: String,
    considered: Vec<Considered>,
) -> Plan {
    let file_pos = replicas.iter().any(|r| {
        view.node(r)
            .and_then(|n| n.state())
            .and_then(|s| s.replica.as_ref())
            .is_some_and(|x| x.position_mode == PositionMode::FilePos)
    });
    let mut steps = vec![
        Step::StopWrites {
            node: master.into(),
        },
        Step::WaitReached {
            node: candidate.clone(),
            master: master.into(),
        },
    ];
    steps.extend(promote(cluster, master, &candidate));
    // The old master last: once it replicates from the candidate, its own
    // replicas would receive the new master's writes through it, and with
    // file/position replication repointing them would then apply those twice.
    for r in replicas.iter().filter(|r| **r != candidate) {
        steps.push(Step::Repoint {
            node: r.clone(),
            to: candidate.clone(),
        });
    }
    steps.push(Step::Repoint {
        node: master.into(),
        to: candidate.clone(),
    });
    steps.push(Step::DisconnectClients {
        node: master.into(),
    });
    let not_repointed = cluster
        .nodes
        .iter()
        .filter(|n| n.name != master && !replicas.contains(&n.name))
        .filter_map(|n| {
            let source = topology.source.get(&n.name)?.clone()?;
            Some((
                n.name.clone(),
                format!("replicates from {source}, which it keeps"),
            ))
        })
        .collect();
    Plan {
        kind: Kind::Switchover,
        cluster: cluster.name.clone(),
        old_master: master.into(),
        candidate,
        why,
        catch_up_from: None,
        considered,
        positioning: if file_pos {
            Positioning::SamePosition
        } else {
            Positioning::Gtid
        },
        not_repointed,
        by_gtid: Vec::new(),
        steps,
        master_last_seen: None,
    }
}

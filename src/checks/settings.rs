//! Server settings that a safe, fast failover depends on, checked across
//! the reachable nodes of one cluster.

use std::collections::BTreeMap;

use super::Finding;
use crate::mysql::flavor::Flavor;
use crate::topology::ClusterView;

pub fn settings(view: &ClusterView) -> Vec<Finding> {
    let mut out = Vec::new();
    let reachable: Vec<_> = view
        .nodes
        .iter()
        .filter_map(|n| Some((n.name.as_str(), n.state()?)))
        .collect();
    for (name, s) in &reachable {
        let node = Some(*name);
        if !s.log_bin {
            out.push(Finding::error(
                node,
                "binary logging is off: this node can neither be promoted nor serve replicas",
                "set log_bin in its my.cnf and restart it",
            ));
        } else if !s.log_replica_updates {
            out.push(Finding::warning(
                node,
                "log_replica_updates is off: if promoted, replicas behind it cannot catch up from it",
                "set log_replica_updates=ON (log_slave_updates on MariaDB)",
            ));
        }
        if s.log_bin && !s.binlog_format.eq_ignore_ascii_case("ROW") {
            out.push(Finding::warning(
                node,
                format!("binlog_format is {}", s.binlog_format),
                "use binlog_format=ROW for safe replication",
            ));
        }
        match s.version.flavor {
            Flavor::Mysql if !s.gtid.mode.eq_ignore_ascii_case("ON") => out.push(Finding::warning(
                node,
                format!("gtid_mode is {}: failover falls back to binlog positions, which works only when every replica received the same position", s.gtid.mode),
                "enable gtid_mode=ON and enforce_gtid_consistency=ON",
            )),
            Flavor::Mariadb if !s.gtid.mariadb.as_ref().is_some_and(|m| m.strict_mode) => out.push(Finding::warning(
                node,
                "gtid_strict_mode is off: diverged histories are not refused",
                "set gtid_strict_mode=ON",
            )),
            _ => {}
        }
        if let Some(f) = positioning(name, s) {
            out.push(f);
        }
        if let Some(f) = heard(name, s) {
            out.push(f);
        }
        if s.replica.is_some() && s.writable() {
            out.push(Finding::warning(
                node,
                "a replica with read_only off: clients can write to it beside the master",
                read_only_fix(s.version.flavor),
            ));
        } else if s.version.flavor == Flavor::Mysql && s.read_only && !s.super_read_only {
            out.push(Finding::warning(
                node,
                "read_only is on but super_read_only is off: accounts with SUPER or CONNECTION_ADMIN can still write",
                read_only_fix(s.version.flavor),
            ));
        }
        if s.semi_sync.source_enabled
            && s.semi_sync
                .wait_point
                .as_deref()
                .is_some_and(|w| w.eq_ignore_ascii_case("AFTER_COMMIT"))
        {
            out.push(Finding::warning(
                node,
                "semi-sync waits AFTER_COMMIT: clients can see writes that no replica has, and a crash loses them",
                "set rpl_semi_sync_source_wait_point (rpl_semi_sync_master_wait_point) = AFTER_SYNC",
            ));
        }
    }
    duplicates(
        &reachable,
        "server_id",
        |s| Some(s.server_id.to_string()),
        &mut out,
    );
    duplicates(
        &reachable,
        "server_uuid",
        |s| s.server_uuid.clone(),
        &mut out,
    );

    let flavors: Vec<Flavor> = dedup(reachable.iter().map(|(_, s)| s.version.flavor));
    if flavors.len() > 1 {
        out.push(Finding::error(
            None,
            "the cluster mixes MySQL and MariaDB servers",
            "vipkeeper manages clusters of one flavor; replication between flavors is not supported for failover",
        ));
    }
    let versions: Vec<String> = dedup(reachable.iter().map(|(_, s)| s.version.label()));
    if versions.len() > 1 {
        out.push(Finding::warning(
            None,
            format!("the nodes run different versions ({})", versions.join(", ")),
            "a replica older than the master is not promoted; upgrade replicas first",
        ));
    }
    let semi: Vec<&str> = reachable
        .iter()
        .filter(|(_, s)| s.semi_sync.source_enabled)
        .map(|(n, _)| *n)
        .collect();
    if !semi.is_empty() && semi.len() < reachable.len() {
        out.push(Finding::warning(
            None,
            format!("semi-sync is enabled on {} only", semi.join(", ")),
            "enable the semi-sync source and replica settings on every node that may become master",
        ));
    }
    out
}

/// A replica that replicates by file and position although its servers
/// keep GTIDs: a failover with replicas at different positions then has to
/// repoint it by GTID, and a preferred replica cannot be caught up.
fn positioning(name: &str, s: &crate::mysql::NodeState) -> Option<Finding> {
    use crate::mysql::replica_status::PositionMode;
    let r = s.replica.as_ref()?;
    if r.position_mode != PositionMode::FilePos {
        return None;
    }
    let (has_gtids, fix) = match s.version.flavor {
        Flavor::Mariadb => (
            true,
            "STOP SLAVE; CHANGE MASTER TO master_use_gtid=slave_pos; START SLAVE",
        ),
        Flavor::Mysql => (
            s.gtid.mode.eq_ignore_ascii_case("ON"),
            "STOP REPLICA; CHANGE REPLICATION SOURCE TO SOURCE_AUTO_POSITION=1; START REPLICA",
        ),
    };
    has_gtids.then(|| {
        Finding::warning(
            Some(name),
            "replicates by binlog file and position although the servers keep GTIDs: a failover must then repoint replicas that received less by GTID, and cannot catch a preferred replica up",
            fix,
        )
    })
}

/// How to keep a node read-only, now and after a restart.
fn read_only_fix(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Mariadb => "SET GLOBAL read_only=ON, and put read_only=ON in every node's my.cnf so a restarted old master comes back read-only",
        Flavor::Mysql => "SET GLOBAL super_read_only=ON, and put read_only=ON and super_read_only=ON in every node's my.cnf so a restarted old master comes back read-only",
    }
}

fn duplicates<'a>(
    nodes: &[(&'a str, &'a crate::mysql::NodeState)],
    what: &str,
    key: impl Fn(&crate::mysql::NodeState) -> Option<String>,
    out: &mut Vec<Finding>,
) {
    let mut by_key: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, s) in nodes {
        if let Some(k) = key(s) {
            by_key.entry(k).or_default().push(name);
        }
    }
    for (k, names) in by_key.into_iter().filter(|(_, n)| n.len() > 1) {
        out.push(Finding::error(
            None,
            format!("{} share {what} {k}", names.join(" and ")),
            format!(
                "give every server its own {what}; replication skips events from its own {what}"
            ),
        ));
    }
}

fn dedup<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// A replica connected to its source that cannot say when it last heard
/// from it (MySQL without the performance_schema tables), or whose
/// heartbeats are too rare to tell: a silent master is then confirmed by
/// restarting IO threads, and the failover waits about 2 s more to stop a
/// replica connecting to a dead source.
fn heard(name: &str, s: &crate::mysql::NodeState) -> Option<Finding> {
    use crate::mysql::replica_status::{IoThread, HEARD_AT_MOST};
    let r = s.replica.as_ref()?;
    if r.io_thread != IoThread::Yes {
        return None;
    }
    let slower = "a silent (black-holed) master takes about 2 s longer to replace";
    let period = match s.version.flavor {
        Flavor::Mysql => match r.heard {
            Some(h) => h.heartbeat,
            // Readable, but nothing heard yet since the IO thread started.
            None if r.heard_readable => return None,
            None => {
                return Some(Finding::warning(
                    Some(name),
                    format!("cannot read when it last heard from its source: {slower}"),
                    "turn performance_schema on and GRANT SELECT ON performance_schema.replication_connection_status and performance_schema.replication_connection_configuration TO the monitor user (docs/PRIVILEGES.md)",
                ))
            }
        },
        // Every supported MariaDB counts its heartbeats in its status.
        Flavor::Mariadb => r.heartbeats?.period,
    };
    if !period.is_zero() && period <= HEARD_AT_MOST {
        return None;
    }
    let hb = crate::mysql::admin::HEARTBEAT_PERIOD;
    let fix = match s.version.flavor {
        Flavor::Mysql => format!("STOP REPLICA; CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD = {hb}; START REPLICA"),
        Flavor::Mariadb => format!("STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = {hb}; START SLAVE"),
    };
    let every = if period.is_zero() {
        "its source sends no heartbeats".to_string()
    } else {
        format!(
            "its source sends heartbeats every {:.1} s",
            period.as_secs_f64()
        )
    };
    Some(Finding::warning(
        Some(name),
        format!("{every}: {slower}"),
        format!("vipkeeper sets a heartbeat period of {hb} s when it points a replica; for one pointed by hand: {fix}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::replica_status::Heard;
    use crate::testkit::{replica, state};
    use std::time::Duration;

    fn with(heard: Option<Heard>) -> Option<Finding> {
        let mut s = state(2, false, Some(1));
        replica(&mut s).heard = heard;
        super::heard("db2", &s)
    }

    #[test]
    fn a_mysql_replica_that_cannot_tell_when_it_heard_from_its_source_is_named() {
        let unreadable = with(None).expect("a warning");
        assert!(unreadable
            .message
            .contains("cannot read when it last heard"));
        assert!(unreadable
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("performance_schema.replication_connection_status")));
        let every = |ms| Heard {
            silent_for: Duration::from_millis(100),
            heartbeat: Duration::from_millis(ms),
        };
        let rare = with(Some(every(30_000))).expect("a warning");
        assert!(rare.message.contains("every 30.0 s"), "{}", rare.message);
        assert!(rare
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("SOURCE_HEARTBEAT_PERIOD = 0.5")));
        assert!(with(Some(every(500))).is_none());
        // performance_schema answered, but the IO thread has heard nothing
        // yet since it started: nothing to warn about.
        let mut s = state(2, false, Some(1));
        replica(&mut s).heard_readable = true;
        assert!(super::heard("db2", &s).is_none());
    }

    fn mariadb_with(period_ms: u64) -> Option<Finding> {
        let mut s = state(2, false, Some(1));
        s.version = crate::mysql::flavor::ServerVersion::parse("10.11.6-MariaDB", "").unwrap();
        replica(&mut s).heartbeats = Some(crate::mysql::replica_status::Heartbeats {
            received: 3,
            period: Duration::from_millis(period_ms),
            read_at: std::time::Instant::now(),
        });
        super::heard("db2", &s)
    }

    #[test]
    fn a_mariadb_replica_with_rare_heartbeats_is_named_with_its_own_fix() {
        let rare = mariadb_with(30_000).expect("a warning");
        assert!(rare.message.contains("every 30.0 s"), "{}", rare.message);
        assert!(rare
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 0.5")));
        let none = mariadb_with(0).expect("a warning");
        assert!(
            none.message.contains("sends no heartbeats"),
            "{}",
            none.message
        );
        assert!(mariadb_with(500).is_none());
    }
}

//! Compare, then set. Another actor may be moving at the same time (a
//! second manager, an operator's switchover, the agent): so once the cluster
//! lock is held, and again right before any node is made writable, every
//! node is read again and the action goes on only if the cluster is still in
//! the state it assumed. Pure: a function of what the re-read found.

use crate::plan::{Kind, Plan};

use super::cluster_lock::Reread;

/// Right after the lock is taken: do the plan's premises still hold? A
/// failover expects no writable node at all; a switchover expects the old
/// master to be the only one. The candidate must still be a read-only
/// replica (not promoted by someone else meanwhile).
pub fn plan_holds(plan: &Plan, reread: &[Reread]) -> Result<(), String> {
    let writable_allowed = match plan.kind {
        Kind::Failover | Kind::Aurora => None,
        Kind::Switchover | Kind::Rollback => Some(plan.old_master.as_str()),
    };
    let mut found = others_writable(reread, writable_allowed);
    if let Some(old) = writable_allowed {
        match state_of(reread, old) {
            Some(Ok(s)) if s.writable() => {}
            Some(Ok(_)) => found.push(format!("{old} is read-only")),
            Some(Err(e)) => found.push(format!("{old} cannot be read: {e}")),
            None => found.push(format!("{old} was not read")),
        }
    }
    match state_of(reread, &plan.candidate) {
        Some(Ok(s)) if s.replica.is_none() => found.push(format!(
            "{} no longer replicates from anything",
            plan.candidate
        )),
        Some(Ok(_)) => {}
        Some(Err(e)) => found.push(format!("{} cannot be read: {e}", plan.candidate)),
        None => found.push(format!("{} was not read", plan.candidate)),
    }
    verdict(
        found,
        "the cluster changed since it was looked at (another manager, a switchover or an operator?); nothing was changed",
    )
}

/// Before finishing a failover another manager started and took past its
/// candidate's detachment: only the candidate may be writable (the old
/// master back and writable is for an operator to look at).
pub fn resumable(plan: &Plan, reread: &[Reread]) -> Result<(), String> {
    let mut found = others_writable(reread, Some(&plan.candidate));
    match state_of(reread, &plan.candidate) {
        Some(Ok(_)) => {}
        Some(Err(e)) => found.push(format!("{} cannot be read: {e}", plan.candidate)),
        None => found.push(format!("{} was not read", plan.candidate)),
    }
    verdict(
        found,
        "the failover another manager started is not finished; nothing more was changed",
    )
}

/// Before undoing a failover another manager started, whose old master
/// answers again: the candidate must still be read-only, and no node but
/// the old master writable.
pub fn undoable(plan: &Plan, reread: &[Reread]) -> Result<(), String> {
    let mut found = others_writable(reread, Some(&plan.old_master));
    if state_of(reread, &plan.old_master).is_none_or(|s| s.is_err()) {
        found.push(format!("{} cannot be read", plan.old_master));
    }
    verdict(
        found,
        "the failover another manager started can be neither finished nor undone; nothing more was changed",
    )
}

/// Right before `node` is made writable: no other node may be writable,
/// `node` must not replicate from anyone, and this manager must still hold
/// the lock on every node it locked (a killed lock session lets another
/// actor in).
pub fn before_writable(node: &str, reread: &[Reread]) -> Result<(), String> {
    let mut found = others_writable(reread, Some(node));
    match state_of(reread, node) {
        Some(Ok(s)) => {
            if let Some(r) = s.replica.as_ref().filter(|r| {
                r.sql_running || r.io_thread != crate::mysql::replica_status::IoThread::No
            }) {
                found.push(format!(
                    "{node} replicates from {}:{}",
                    r.source_host, r.source_port
                ));
            }
        }
        Some(Err(e)) => found.push(format!("{node} cannot be read: {e}")),
        None => found.push(format!("{node} was not read")),
    }
    for r in reread {
        // A node that went down lost its lock session with it, and takes no writes.
        if r.lock_held == Some(false) && r.state.is_ok() {
            found.push(format!(
                "the cluster lock on {} was lost (its session ended or was killed)",
                r.node
            ));
        }
    }
    verdict(
        found,
        &format!("{node} was left read-only rather than risk two writers"),
    )
}

/// What a re-read found, in words, one clause a node: who is writable and
/// who replicates from where.
pub fn describe(reread: &[Reread]) -> String {
    reread
        .iter()
        .map(|r| match &r.state {
            Err(e) => format!("{} unreachable ({e})", r.node),
            Ok(s) => {
                let rw = if s.writable() {
                    "writable"
                } else {
                    "read-only"
                };
                match &s.replica {
                    Some(x) => format!(
                        "{} {rw}, replicates from {}:{} (io {}, sql {})",
                        r.node,
                        x.source_host,
                        x.source_port,
                        x.io_thread.label(),
                        if x.sql_running { "running" } else { "stopped" }
                    ),
                    None => format!("{} {rw}, replicates from nobody", r.node),
                }
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Is `node` writable, and the only writable node read?
pub fn sole_writable(node: &str, reread: &[Reread]) -> bool {
    matches!(state_of(reread, node), Some(Ok(s)) if s.writable())
        && others_writable(reread, Some(node)).is_empty()
}

fn state_of<'a>(
    reread: &'a [Reread],
    node: &str,
) -> Option<&'a Result<crate::mysql::NodeState, String>> {
    reread.iter().find(|r| r.node == node).map(|r| &r.state)
}

fn others_writable(reread: &[Reread], except: Option<&str>) -> Vec<String> {
    reread
        .iter()
        .filter(|r| Some(r.node.as_str()) != except)
        .filter(|r| r.state.as_ref().is_ok_and(|s| s.writable()))
        .map(|r| format!("{} is writable", r.node))
        .collect()
}

fn verdict(found: Vec<String>, then: &str) -> Result<(), String> {
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!("found {}: {then}", found.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;

    fn rr(n: u32, state: Result<crate::mysql::NodeState, String>, lock: Option<bool>) -> Reread {
        Reread {
            node: format!("db{n}"),
            state,
            lock_held: lock,
        }
    }

    fn detached(n: u32) -> crate::mysql::NodeState {
        state(n, false, None)
    }

    #[test]
    fn writable_only_when_nobody_else_is_and_the_lock_holds() {
        let ok = [
            rr(1, Err("refused".into()), None),
            rr(2, Ok(detached(2)), Some(true)),
            rr(3, Ok(state(3, false, Some(1))), Some(true)),
        ];
        assert_eq!(before_writable("db2", &ok), Ok(()));

        let other_writable = [
            rr(1, Ok(state(1, true, None)), None),
            rr(2, Ok(detached(2)), Some(true)),
        ];
        let e = before_writable("db2", &other_writable).unwrap_err();
        assert!(
            e.starts_with("found db1 is writable: db2 was left read-only"),
            "{e}"
        );

        let lost = [
            rr(2, Ok(detached(2)), Some(true)),
            rr(3, Ok(state(3, false, Some(1))), Some(false)),
        ];
        let e = before_writable("db2", &lost).unwrap_err();
        assert!(e.contains("the cluster lock on db3 was lost"), "{e}");

        let replicating = [rr(2, Ok(state(2, false, Some(3))), Some(true))];
        let e = before_writable("db2", &replicating).unwrap_err();
        assert!(e.contains("db2 replicates from"), "{e}");
    }

    #[test]
    fn a_stale_failover_plan_is_refused_after_the_lock() {
        let plan = failover_plan();
        let now = [
            rr(1, Err("refused".into()), None),
            rr(2, Ok(state(2, false, Some(1))), Some(true)),
            rr(3, Ok(state(3, false, Some(1))), Some(true)),
        ];
        assert_eq!(plan_holds(&plan, &now), Ok(()));
        // Another manager promoted db3 in the meantime.
        let promoted = [
            rr(1, Err("refused".into()), None),
            rr(2, Ok(state(2, false, Some(3))), Some(true)),
            rr(3, Ok(state(3, true, None)), Some(true)),
        ];
        let e = plan_holds(&plan, &promoted).unwrap_err();
        assert!(e.starts_with("found db3 is writable"), "{e}");
    }

    /// The plan of a failover db1 -> db2 (db1 refuses connections).
    fn failover_plan() -> Plan {
        let mut c = cluster_config(3, false);
        c.name = "main".into();
        let v = view(vec![
            node(1, Err(refused())),
            node(2, Ok(lost_source(state(2, false, Some(1))))),
            node(3, Ok(lost_source(state(3, false, Some(1))))),
        ]);
        let t = crate::topology::Topology::derive(&v, 30);
        crate::plan::plan(&v, &t, "db1", &c, &Default::default()).unwrap()
    }

    #[test]
    fn a_failover_in_flight_is_finished_only_with_nobody_but_its_candidate_writable() {
        let plan = failover_plan();
        assert_eq!(plan.candidate, "db2");
        // Detached, read-only or already writable: it can be finished.
        for candidate in [detached(2), state(2, true, None)] {
            let now = [
                rr(1, Err("refused".into()), None),
                rr(2, Ok(candidate), Some(true)),
                rr(3, Ok(state(3, false, Some(1))), Some(true)),
            ];
            assert_eq!(resumable(&plan, &now), Ok(()));
        }
        let other = [
            rr(2, Ok(detached(2)), Some(true)),
            rr(3, Ok(state(3, true, None)), Some(true)),
        ];
        let e = resumable(&plan, &other).unwrap_err();
        assert!(e.starts_with("found db3 is writable"), "{e}");
        let unreadable = [rr(2, Err("refused".into()), Some(true))];
        assert!(resumable(&plan, &unreadable).is_err());
    }

    #[test]
    fn a_failover_in_flight_is_undone_only_with_its_old_master_readable_and_alone_writable() {
        let plan = failover_plan();
        let back = [
            rr(1, Ok(state(1, true, None)), Some(true)),
            rr(2, Ok(detached(2)), Some(true)),
            rr(3, Ok(state(3, false, Some(1))), Some(true)),
        ];
        assert_eq!(undoable(&plan, &back), Ok(()));
        let candidate_writable = [
            rr(1, Ok(state(1, true, None)), Some(true)),
            rr(2, Ok(state(2, true, None)), Some(true)),
        ];
        let e = undoable(&plan, &candidate_writable).unwrap_err();
        assert!(e.starts_with("found db2 is writable"), "{e}");
        let gone_again = [
            rr(1, Err("refused".into()), None),
            rr(2, Ok(detached(2)), Some(true)),
        ];
        let e = undoable(&plan, &gone_again).unwrap_err();
        assert!(e.contains("db1 cannot be read"), "{e}");
    }
}

//! Undoing a switchover that could not finish: the VIP back, the candidate
//! read-only and replicating again, the old master writable.

use super::{Kind, Plan, Step};

/// Whether a failed undo step must stop the rollback: re-attaching the
/// candidate failed after it may have been made writable, so making the old
/// master writable too could leave two writers. Any other undo step that
/// fails is reported and the rest still run (a candidate that died before
/// it was writable cannot take writes).
pub fn undo_must_stop(plan: &Plan, tried: &[Step], failed: &Step) -> bool {
    let candidate_maybe_writable = tried
        .iter()
        .any(|s| matches!(s, Step::MakeWritable { node } if *node == plan.candidate));
    matches!(failed, Step::Reattach { .. }) && candidate_maybe_writable
}

/// The plan that undoes the switchover `plan` after `tried`: its steps
/// are `rollback_steps`.
pub fn rollback(plan: &Plan, tried: &[Step]) -> Plan {
    Plan {
        kind: Kind::Rollback,
        steps: rollback_steps(plan, tried),
        ..plan.clone()
    }
}

/// What undoes the steps tried so far, in order: the VIP back, the
/// candidate read-only and replicating from the old master again, the old
/// master writable. Used while the candidate is not yet writable.
pub fn rollback_steps(plan: &Plan, tried: &[Step]) -> Vec<Step> {
    let old = &plan.old_master;
    let cand = &plan.candidate;
    let mut steps = Vec::new();
    if tried.iter().any(|s| matches!(s, Step::MoveVip { .. })) {
        steps.push(Step::MoveVip {
            from: cand.clone(),
            to: old.clone(),
        });
    }
    if tried
        .iter()
        .any(|s| matches!(s, Step::Detach { .. } | Step::MakeWritable { .. }))
    {
        steps.push(Step::Reattach {
            node: cand.clone(),
            to: old.clone(),
        });
    }
    steps.push(Step::MakeWritable { node: old.clone() });
    steps
}

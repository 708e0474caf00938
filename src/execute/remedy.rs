//! What a failed step leaves behind, in words: the node it concerned and
//! what the operator should do next.

use crate::plan::{Plan, Step};

pub(super) fn step_node(step: &Step) -> Option<String> {
    match step {
        Step::FenceOldMaster { node }
        | Step::WaitApplied { node }
        | Step::CatchUp { node, .. }
        | Step::Detach { node }
        | Step::MakeWritable { node }
        | Step::Repoint { node, .. }
        | Step::StopWrites { node }
        | Step::WaitReached { node, .. }
        | Step::DisconnectClients { node }
        | Step::Reattach { node, .. }
        | Step::StopReplication { node } => Some(node.clone()),
        Step::MoveVip { to, .. } => Some(to.clone()),
    }
}

pub(super) fn remedy(step: &Step, plan: &Plan) -> String {
    let again = format!("then run `vipkeeper failover {}` again", plan.cluster);
    match step {
        Step::WaitApplied { node } | Step::CatchUp { node, .. } => format!(
            "{node} is still a read-only replica and nothing is writable yet; check its replication (`vipkeeper status`), {again}"
        ),
        Step::Detach { node } => format!("{node} may have stopped replicating and is still read-only; {again}"),
        Step::MoveVip { .. } => format!(
            "{} is read-only and the VIP may not have moved: check the VIP backend, {again}",
            plan.candidate
        ),
        Step::MakeWritable { node } => format!(
            "the VIP points at {node} but it is read-only: make it writable by hand (SET GLOBAL read_only=OFF), or {again}"
        ),
        Step::FenceOldMaster { .. } | Step::Repoint { .. } | Step::StopReplication { .. } => {
            "repoint or fence the node by hand".into()
        }
        Step::DisconnectClients { node } => format!("kill the client connections left on {node} by hand"),
        Step::StopWrites { node } | Step::WaitReached { master: node, .. } | Step::Reattach { to: node, .. } => format!(
            "check with `vipkeeper status` which node is writable and where the VIP points; {node} should be the writable master again"
        ),
    }
}

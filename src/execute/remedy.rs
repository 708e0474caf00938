//! What a failed step leaves behind, in words: the node it concerned and
//! what the operator should do next, chosen by what failed (a missing
//! privilege, a node that went away, a refused AWS call) and then by step.

use super::StepError;
use crate::mysql::ErrorKind;
use crate::plan::{Plan, Step};

pub(super) fn remedy(step: &Step, error: &StepError, plan: &Plan) -> String {
    let by_step = for_step(step, plan);
    match error {
        StepError::Connect { error: e, .. } | StepError::Db(e)
            if e.kind == ErrorKind::AccessDenied =>
        {
            format!(
                "the admin user lacks a privilege (see docs/PRIVILEGES.md; `vipkeeper check` names it): grant it; {by_step}"
            )
        }
        StepError::Connect { node, .. } => format!(
            "{node} could not be reached; once it answers (or is replaced), {by_step}"
        ),
        StepError::Vip(f) if f.error.is_aws_permission() => format!(
            "AWS refused the call ({}): give the instance role the EC2 permissions in docs/VIP.md; {by_step}",
            f.error.aws_code.as_deref().unwrap_or_default()
        ),
        // Never "make it writable by hand": another node may be writable.
        StepError::Unsafe(_) => format!(
            "another actor changed the cluster while this ran, and {} was left read-only: look with `vipkeeper status` and `vipkeeper vip status`, and make exactly one node writable and the VIP point at it",
            plan.candidate
        ),
        _ => by_step,
    }
}

/// The remedy for a failure of `step`, whatever caused it.
fn for_step(step: &Step, plan: &Plan) -> String {
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
        Step::Salvage { .. } => format!(
            "{} is read-only and nothing moved yet; check the dead master's host agent and the salvage token, {again}",
            plan.candidate
        ),
        Step::ReadRelayLog { lagging, .. } => format!(
            "{} will be levelled from the dead master's binlog if its host agent answers; otherwise re-clone them from {}",
            lagging.join(", "),
            plan.candidate
        ),
        Step::Level { node, to, .. } => format!(
            "{node} is stopped: it received less than {to} and could not be levelled; re-clone it from {to}"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::{DbError, Phase};
    use crate::vip::{MoveFailed, VipError};

    fn plan() -> Plan {
        let mut nodes = vec![crate::testkit::node(1, Err(crate::testkit::refused()))];
        for n in [2, 3] {
            let s = crate::testkit::state(n, false, Some(1));
            nodes.push(crate::testkit::node(
                n,
                Ok(crate::testkit::lost_source(crate::testkit::at(s, 900, 900))),
            ));
        }
        let v = crate::testkit::view(nodes);
        let t = crate::topology::Topology::derive(&v, 30);
        let c = crate::testkit::cluster_config(3, true);
        crate::plan::plan(&v, &t, "db1", &c, &Default::default()).unwrap()
    }

    fn db(kind: ErrorKind) -> DbError {
        DbError {
            kind,
            phase: Phase::Query,
            code: None,
            message: "x".into(),
        }
    }

    #[test]
    fn the_remedy_follows_what_failed_not_only_the_step() {
        let p = plan();
        let writable = Step::MakeWritable { node: "db2".into() };
        let by_step = remedy(&writable, &StepError::Found("still read-only".into()), &p);
        assert!(by_step.contains("make it writable by hand"), "{by_step}");

        let denied = remedy(&writable, &StepError::Db(db(ErrorKind::AccessDenied)), &p);
        assert!(denied.contains("lacks a privilege"), "{denied}");

        // A guard that found another writer never advises a second one.
        let unsafe_ = remedy(
            &writable,
            &StepError::Unsafe("found db3 is writable".into()),
            &p,
        );
        assert!(!unsafe_.contains("writable by hand"), "{unsafe_}");
        assert!(unsafe_.contains("exactly one node writable"), "{unsafe_}");

        let vip = Step::MoveVip {
            from: "db1".into(),
            to: "db2".into(),
        };
        let refused = StepError::Vip(MoveFailed {
            backend: "aws-route-table",
            error: VipError {
                message: "ReplaceRoute: UnauthorizedOperation: no".into(),
                aws_code: Some("UnauthorizedOperation".into()),
            },
        });
        let r = remedy(&vip, &refused, &p);
        assert!(
            r.contains("AWS refused the call (UnauthorizedOperation)"),
            "{r}"
        );
        let other = StepError::Vip(MoveFailed {
            backend: "aws-route-table",
            error: "the route tables did not all answer".into(),
        });
        assert!(!remedy(&vip, &other, &p).contains("AWS refused"));
    }
}

//! `aws-nlb`: the master as the one target of an NLB's IP target group.
//!
//! A move registers the new master's address, then deregisters every other
//! target, then reads the group back: it must hold exactly the new master
//! (targets already draining are on their way out and do not count). The
//! target group's own settings decide how fast clients follow: `check`
//! warns about the ones that slow them (`nlb_warnings`).

use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthStateEnum};
use aws_sdk_elasticloadbalancingv2::Client;
use futures::future::BoxFuture;

use super::{aws_failed, Moved, Placement, Site, VipBackend, VipError};
use crate::aws::{elbv2, AwsTarget};
use crate::config::{AwsNlbConfig, NodeConfig};

impl VipBackend for AwsNlbConfig {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn describe(&self) -> String {
        format!("target group {}", self.target_group_arn)
    }

    fn status<'a>(&'a self, site: Site<'a>) -> BoxFuture<'a, Vec<Result<Placement, String>>> {
        Box::pin(async move {
            vec![within(self, placement(self, site.nodes))
                .await
                .map_err(|e| e.message)]
        })
    }

    fn move_to<'a>(
        &'a self,
        _: Site<'a>,
        _: Option<&'a NodeConfig>,
        to: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        Box::pin(within(self, point(self, to)))
    }

    /// The old master's target goes (NLB then drains its connections as
    /// the group's deregistration delay says).
    fn withdraw<'a>(
        &'a self,
        _: Site<'a>,
        from: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        Box::pin(within(self, unregister(self, from)))
    }
}

/// One target: address and port.
type Target = (String, i32);

fn target_of(s: &AwsNlbConfig, node: &NodeConfig) -> Target {
    (node.ipv4_host(), i32::from(s.port.unwrap_or(node.port)))
}

/// The node a target is (address and port: nodes may share a host).
fn node_for<'a>(s: &AwsNlbConfig, t: &Target, nodes: &'a [NodeConfig]) -> Option<&'a NodeConfig> {
    nodes.iter().find(|n| target_of(s, n) == *t)
}

fn describe_target(s: &AwsNlbConfig, t: &Target, nodes: &[NodeConfig]) -> String {
    match node_for(s, t, nodes) {
        Some(n) => format!("{}:{} ({})", t.0, t.1, n.name),
        None => format!("{}:{}", t.0, t.1),
    }
}

fn target_description(t: &Target) -> TargetDescription {
    TargetDescription::builder().id(&t.0).port(t.1).build()
}

/// Every AWS call of one operation, within the backend's deadline.
async fn within<T>(
    s: &AwsNlbConfig,
    work: impl std::future::Future<Output = Result<T, VipError>>,
) -> Result<T, VipError> {
    super::within(
        s.deadline,
        "aws-nlb.deadline",
        || format!("target group {}", s.target_group_arn),
        work,
    )
    .await
}

async fn client(s: &AwsNlbConfig) -> Client {
    elbv2(&AwsTarget {
        region: s.region.clone(),
        endpoint_url: s.endpoint_url.clone(),
        deadline: s.deadline,
    })
    .await
}

/// The group's targets that are not on their way out.
async fn current(client: &Client, s: &AwsNlbConfig) -> Result<Vec<Target>, VipError> {
    let out = client
        .describe_target_health()
        .target_group_arn(&s.target_group_arn)
        .send()
        .await
        .map_err(|e| aws_failed(&e, format!("DescribeTargetHealth {}", s.target_group_arn)))?;
    Ok(out
        .target_health_descriptions()
        .iter()
        .filter(|d| {
            d.target_health().and_then(|h| h.state()) != Some(&TargetHealthStateEnum::Draining)
        })
        .filter_map(|d| {
            let t = d.target()?;
            Some((t.id()?.to_string(), t.port()?))
        })
        .collect())
}

async fn placement(s: &AwsNlbConfig, nodes: &[NodeConfig]) -> Result<Placement, VipError> {
    let targets = current(&client(s).await, s).await?;
    let (target, node) = match &targets[..] {
        [] => (format!("{}: no target", s.target_group_arn), None),
        [one] => (
            format!("{}: {}", s.target_group_arn, describe_target(s, one, nodes)),
            node_for(s, one, nodes).map(|n| n.name.clone()),
        ),
        several => (
            format!(
                "{}: {} targets ({})",
                s.target_group_arn,
                several.len(),
                several
                    .iter()
                    .map(|t| describe_target(s, t, nodes))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        ),
    };
    Ok(Placement {
        backend: AwsNlbConfig::NAME,
        target,
        node,
        // No target, or several, sends clients nowhere or everywhere.
        no_node_is_wrong: true,
    })
}

async fn point(s: &AwsNlbConfig, to: &NodeConfig) -> Result<Moved, VipError> {
    let client = client(s).await;
    let tg = &s.target_group_arn;
    let want = target_of(s, to);
    let before = current(&client, s).await?;
    if before == [want.clone()] {
        return Ok(Moved::AlreadyThere(format!(
            "{tg}: {} is already the only target",
            want_text(&want, to)
        )));
    }
    if !before.contains(&want) {
        client
            .register_targets()
            .target_group_arn(tg)
            .targets(target_description(&want))
            .send()
            .await
            .map_err(|e| aws_failed(&e, format!("RegisterTargets {tg}")))?;
    }
    let others: Vec<&Target> = before.iter().filter(|t| **t != want).collect();
    if !others.is_empty() {
        let mut call = client.deregister_targets().target_group_arn(tg);
        for t in &others {
            call = call.targets(target_description(t));
        }
        call.send()
            .await
            .map_err(|e| aws_failed(&e, format!("DeregisterTargets {tg}")))?;
    }
    let after = current(&client, s).await?;
    if after != [want.clone()] {
        return Err(format!(
            "{tg} reads back as {:?}, not {} alone",
            after,
            want_text(&want, to)
        )
        .into());
    }
    Ok(Moved::Done(format!(
        "{tg}: {} registered{}",
        want_text(&want, to),
        if others.is_empty() {
            String::new()
        } else {
            format!(
                ", {} deregistered",
                others
                    .iter()
                    .map(|t| format!("{}:{}", t.0, t.1))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    )))
}

fn want_text(t: &Target, node: &NodeConfig) -> String {
    format!("{}:{} ({})", t.0, t.1, node.name)
}

async fn unregister(s: &AwsNlbConfig, from: &NodeConfig) -> Result<Moved, VipError> {
    let client = client(s).await;
    let tg = &s.target_group_arn;
    let old = target_of(s, from);
    if !current(&client, s).await?.contains(&old) {
        return Ok(Moved::NotHere(format!(
            "{tg} has no target {}: nothing to take away",
            want_text(&old, from)
        )));
    }
    client
        .deregister_targets()
        .target_group_arn(tg)
        .targets(target_description(&old))
        .send()
        .await
        .map_err(|e| aws_failed(&e, format!("DeregisterTargets {tg}")))?;
    Ok(Moved::Done(format!(
        "{tg}: {} deregistered",
        want_text(&old, from)
    )))
}

/// The target group's settings that slow clients down after a move, each
/// as a sentence with what to set; `Err` when they cannot be read.
pub async fn nlb_warnings(s: &AwsNlbConfig) -> Result<Vec<String>, String> {
    within(s, async {
        let client = client(s).await;
        let tg = &s.target_group_arn;
        let out = client
            .describe_target_group_attributes()
            .target_group_arn(tg)
            .send()
            .await
            .map_err(|e| aws_failed(&e, format!("DescribeTargetGroupAttributes {tg}")))?;
        let attributes: Vec<(String, String)> = out
            .attributes()
            .iter()
            .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
            .collect();
        Ok(attribute_warnings(tg, &attributes))
    })
    .await
    .map_err(|e| e.message)
}

/// Pure: the warnings for a target group's attributes (as AWS lists them;
/// a missing one is AWS's default).
pub fn attribute_warnings(tg: &str, attributes: &[(String, String)]) -> Vec<String> {
    let get = |key: &str| {
        attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let mut out = Vec::new();
    let delay = get("deregistration_delay.timeout_seconds").unwrap_or("300");
    if delay != "0" {
        out.push(format!(
            "{tg}: deregistration_delay.timeout_seconds = {delay}: the old master's target drains that long after a move; set it to 0"
        ));
    }
    if get("deregistration_delay.connection_termination.enabled").unwrap_or("false") != "true" {
        out.push(format!(
            "{tg}: deregistration_delay.connection_termination.enabled is off: clients keep their connections to the old master until they time out; turn it on"
        ));
    }
    if get("load_balancing.cross_zone.enabled") == Some("false") {
        out.push(format!(
            "{tg}: load_balancing.cross_zone.enabled = false: clients in a zone without the master cannot reach it; turn cross-zone load balancing on"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_settings_that_slow_clients_are_named() {
        let fast = attrs(&[
            ("deregistration_delay.timeout_seconds", "0"),
            (
                "deregistration_delay.connection_termination.enabled",
                "true",
            ),
            ("load_balancing.cross_zone.enabled", "true"),
        ]);
        assert!(attribute_warnings("tg", &fast).is_empty());
        // AWS's defaults: 300 s of draining, connections kept.
        let defaults = attribute_warnings("tg", &[]);
        assert_eq!(defaults.len(), 2, "{defaults:?}");
        assert!(defaults[0].contains("timeout_seconds = 300"));
        assert!(defaults[1].contains("connection_termination.enabled is off"));
        let zonal = attribute_warnings(
            "tg",
            &attrs(&[
                ("deregistration_delay.timeout_seconds", "0"),
                (
                    "deregistration_delay.connection_termination.enabled",
                    "true",
                ),
                ("load_balancing.cross_zone.enabled", "false"),
            ]),
        );
        assert_eq!(zonal.len(), 1);
        assert!(zonal[0].contains("cross_zone"), "{zonal:?}");
    }
}

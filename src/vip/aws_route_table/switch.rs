//! Switching every table to the new master's interface, and reading each
//! back.

use std::net::Ipv4Addr;

use aws_sdk_ec2::types::AttributeBooleanValue;
use aws_sdk_ec2::Client;
use futures::future::join_all;

use super::{aws_failed, read_route, resolve_eni, tables, target, Settings};
use crate::aws::{ec2, error_code, error_text};
use crate::config::NodeConfig;
use crate::vip::{Moved, VipError};

pub async fn point(vip: Ipv4Addr, s: &Settings, to: &NodeConfig) -> Result<Moved, VipError> {
    let deadline = s.deadline;
    match tokio::time::timeout(deadline, point_within(vip, s, to)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "the route tables did not all answer within {} (aws-route-table.deadline); check `vipkeeper vip status`",
            humantime::format_duration(deadline)
        )
        .into()),
    }
}

async fn point_within(vip: Ipv4Addr, s: &Settings, to: &NodeConfig) -> Result<Moved, VipError> {
    let client = ec2(&target(s)).await;
    let cidr = format!("{vip}/32");
    let eni = resolve_eni(&client, to).await?;
    let (vpc, turned_off) = ensure_source_dest_check_off(&client, &eni, to).await?;
    let tables = tables(&client, s, vpc.as_deref(), &cidr).await?;
    if tables.is_empty() {
        return Err(format!(
            "no route table to update: configure route_tables, or add a route for {cidr} to the VPC's tables once"
        )
        .into());
    }
    let at_once = s.concurrency.unwrap_or(tables.len()).max(1);
    let mut results = Vec::with_capacity(tables.len());
    for chunk in tables.chunks(at_once) {
        results.extend(join_all(chunk.iter().map(|t| switch_table(&client, t, &cidr, &eni))).await);
    }
    let mut changed = Vec::new();
    let mut unchanged = Vec::new();
    // (table, what went wrong)
    let mut failed: Vec<(&String, VipError)> = Vec::new();
    let mut ok_tables: Vec<&String> = Vec::new();
    for (t, r) in tables.iter().zip(results) {
        match r {
            Ok(Switch::Replaced) => changed.push(format!("{t} (replaced)")),
            Ok(Switch::Created) => changed.push(format!("{t} (created)")),
            Ok(Switch::Already) => unchanged.push(t.clone()),
            Err(e) => {
                failed.push((t, e));
                continue;
            }
        }
        // Read back what did not fail.
        ok_tables.push(t);
    }
    let mut readback = Vec::with_capacity(ok_tables.len());
    for chunk in ok_tables.chunks(at_once) {
        readback.extend(join_all(chunk.iter().map(|t| read_route(&client, t, &cidr))).await);
    }
    for (t, r) in ok_tables.iter().zip(readback) {
        match r {
            Ok(Some(target)) if target == eni => {}
            Ok(other) => failed.push((
                t,
                format!(
                    "reads back as targeting {}",
                    other.unwrap_or_else(|| "nothing".into())
                )
                .into(),
            )),
            Err(e) => failed.push((
                t,
                VipError {
                    message: format!("reading it back: {}", e.message),
                    ..e
                },
            )),
        }
    }
    let summary = format!(
        "{}{cidr} -> {eni} ({}): {} switched{}{}",
        if turned_off {
            format!(
                "turned the source/dest check of {eni} ({}) off, so that it accepts VIP traffic; ",
                to.name
            )
        } else {
            String::new()
        },
        to.name,
        changed.len(),
        if changed.is_empty() {
            String::new()
        } else {
            format!(" [{}]", changed.join(", "))
        },
        if unchanged.is_empty() {
            String::new()
        } else {
            format!(", {} already there", unchanged.len())
        }
    );
    if !failed.is_empty() {
        let words: Vec<String> = failed.iter().map(|(t, e)| format!("{t}: {e}")).collect();
        return Err(VipError {
            message: format!("{summary}; FAILED: {}", words.join("; ")),
            aws_code: failed.into_iter().find_map(|(_, e)| e.aws_code),
        });
    }
    if changed.is_empty() {
        return Ok(Moved::AlreadyThere(summary));
    }
    Ok(Moved::Done(summary))
}

enum Switch {
    Replaced,
    Created,
    Already,
}

async fn switch_table(
    client: &Client,
    table: &str,
    cidr: &str,
    eni: &str,
) -> Result<Switch, VipError> {
    match read_route(client, table, cidr).await? {
        Some(current) if current == eni => Ok(Switch::Already),
        Some(_) => client
            .replace_route()
            .route_table_id(table)
            .destination_cidr_block(cidr)
            .network_interface_id(eni)
            .send()
            .await
            .map(|_| Switch::Replaced)
            .map_err(|e| aws_failed(&e, "ReplaceRoute")),
        None => client
            .create_route()
            .route_table_id(table)
            .destination_cidr_block(cidr)
            .network_interface_id(eni)
            .send()
            .await
            .map(|_| Switch::Created)
            .map_err(|e| aws_failed(&e, "CreateRoute")),
    }
}

/// Source/dest check must be off for the ENI to accept packets for the VIP.
/// Turns it off when allowed; otherwise fails before anything moved.
/// Returns the ENI's VPC, and whether the check was turned off here.
async fn ensure_source_dest_check_off(
    client: &Client,
    eni: &str,
    node: &NodeConfig,
) -> Result<(Option<String>, bool), VipError> {
    let out = client
        .describe_network_interfaces()
        .network_interface_ids(eni)
        .send()
        .await
        .map_err(|e| {
            aws_failed(
                &e,
                format!("node {}: DescribeNetworkInterfaces {eni}", node.name),
            )
        })?;
    let ni = out
        .network_interfaces()
        .first()
        .ok_or_else(|| format!("node {}: network interface {eni} not found", node.name))?;
    let on = ni.source_dest_check() == Some(true);
    if on {
        client
            .modify_network_interface_attribute()
            .network_interface_id(eni)
            .source_dest_check(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .map_err(|e| VipError {
                message: format!(
                    "source/dest check is on for {eni} ({}) and could not be turned off ({}); nothing was moved. \
                     Run `aws ec2 modify-network-interface-attribute --network-interface-id {eni} --no-source-dest-check`, \
                     or allow ec2:ModifyNetworkInterfaceAttribute",
                    node.name,
                    error_text(&e)
                ),
                aws_code: error_code(&e),
            })?;
    }
    Ok((ni.vpc_id().map(str::to_string), on))
}

//! Aurora's reader record in Route 53: every healthy reader, or the writer
//! when no reader is healthy, written only when that changes. `simple`: one
//! record set holding a value per reader. `weighted` and `multivalue`: a
//! record set per reader (its set identifier the instance's name, equal
//! weights or multivalue answer), readers that stop answering deleted —
//! every change in one batch, so resolvers never see a half-made set.

use std::collections::BTreeMap;

use aws_sdk_route53::types::{Change, ChangeAction, ResourceRecord, ResourceRecordSet};
use aws_sdk_route53::Client;

use super::aws_route53::{client, fqdn, read, rr_type, sets, submit, value_for, write};
use super::VipError;
use crate::config::{AwsRoute53Config, NodeConfig, ReaderRouting};

/// `Ok(None)`: no reader record configured, or nothing to change; else what
/// the record holds now, in words.
pub async fn set_readers(
    s: &AwsRoute53Config,
    readers: &[&NodeConfig],
    writer: &NodeConfig,
) -> Result<Option<String>, VipError> {
    let Some(name) = &s.reader_record_name else {
        return Ok(None);
    };
    let members: BTreeMap<String, String> = if readers.is_empty() {
        BTreeMap::from([(writer.name.clone(), value_for(s, writer))])
    } else {
        readers
            .iter()
            .map(|n| (n.name.clone(), value_for(s, n)))
            .collect()
    };
    let client = client(s).await;
    let changed = match s.reader_routing {
        ReaderRouting::Simple => simple(&client, s, name, &members).await?,
        ReaderRouting::Weighted | ReaderRouting::Multivalue => {
            per_reader(&client, s, name, &members).await?
        }
    };
    Ok(changed.then(|| {
        format!(
            "{} {} ({}) -> {}{}",
            s.record_type.label(),
            fqdn(name),
            s.reader_routing.label(),
            members
                .iter()
                .map(|(n, v)| format!("{v} ({n})"))
                .collect::<Vec<_>>()
                .join(", "),
            if readers.is_empty() {
                format!(" (no reader is healthy: the writer {})", writer.name)
            } else {
                String::new()
            }
        )
    }))
}

/// One record set, every value; whether it changed.
async fn simple(
    client: &Client,
    s: &AwsRoute53Config,
    name: &str,
    members: &BTreeMap<String, String>,
) -> Result<bool, VipError> {
    let mut values: Vec<String> = members.values().cloned().collect();
    values.sort();
    values.dedup();
    if read(client, s, name).await? == values {
        return Ok(false);
    }
    write(client, s, name, &values, "vipkeeper: the healthy readers").await?;
    Ok(true)
}

/// A record set per member; whether anything changed.
async fn per_reader(
    client: &Client,
    s: &AwsRoute53Config,
    name: &str,
    members: &BTreeMap<String, String>,
) -> Result<bool, VipError> {
    let before: Vec<ResourceRecordSet> = sets(client, s, name)
        .await?
        .into_iter()
        .filter(|r| r.set_identifier().is_some())
        .collect();
    let now = |sets: &[ResourceRecordSet]| -> BTreeMap<String, String> {
        sets.iter()
            .filter_map(|r| {
                let id = r.set_identifier()?.to_string();
                let value = r.resource_records().first()?.value().to_string();
                Some((id, value))
            })
            .collect()
    };
    // A set is kept when it already says what it should, else replaced
    // (UPSERT: idempotent, whatever the zone held under that identifier).
    let holds = |old: &ResourceRecordSet, id: &str, value: &str| {
        old.set_identifier() == Some(id)
            && old.resource_records().first().map(|r| r.value()) == Some(value)
            && old.ttl() == Some(i64::from(s.ttl))
            && routed_as(s, old)
    };
    let mut changes = Vec::new();
    for old in &before {
        if !members.iter().any(|(id, v)| holds(old, id, v)) {
            changes.push(change(ChangeAction::Delete, old.clone())?);
        }
    }
    for (id, value) in members {
        if !before.iter().any(|old| holds(old, id, value)) {
            changes.push(change(ChangeAction::Upsert, set_for(s, name, id, value)?)?);
        }
    }
    if changes.is_empty() {
        return Ok(false);
    }
    submit(client, s, "vipkeeper: the healthy readers", changes).await?;
    let after = now(&sets(client, s, name).await?);
    if after != *members {
        return Err(format!("{} reads back as {after:?}, not {members:?}", fqdn(name)).into());
    }
    Ok(true)
}

/// Whether `set` has this config's routing policy.
fn routed_as(s: &AwsRoute53Config, set: &ResourceRecordSet) -> bool {
    match s.reader_routing {
        ReaderRouting::Weighted => set.weight().is_some(),
        ReaderRouting::Multivalue => set.multi_value_answer() == Some(true),
        ReaderRouting::Simple => set.set_identifier().is_none(),
    }
}

fn set_for(
    s: &AwsRoute53Config,
    name: &str,
    id: &str,
    value: &str,
) -> Result<ResourceRecordSet, VipError> {
    let set = ResourceRecordSet::builder()
        .name(fqdn(name))
        .r#type(rr_type(s.record_type))
        .ttl(i64::from(s.ttl))
        .set_identifier(id)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .map_err(|e| e.to_string())?,
        );
    let set = match s.reader_routing {
        ReaderRouting::Weighted => set.weight(1),
        _ => set.multi_value_answer(true),
    };
    Ok(set.build().map_err(|e| e.to_string())?)
}

fn change(action: ChangeAction, set: ResourceRecordSet) -> Result<Change, VipError> {
    Ok(Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .map_err(|e| e.to_string())?)
}

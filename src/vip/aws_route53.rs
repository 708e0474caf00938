//! `aws-route53`: a DNS record naming the master: an A record with its
//! address, or a CNAME with its host name, UPSERTed with a short TTL and
//! read back from the zone. Clients follow as fast as their resolvers
//! honour the TTL (docs/VIP.md says what to set).

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;
use futures::future::BoxFuture;

use super::{aws_failed, Moved, Placement, Site, VipBackend, VipError};
use crate::aws::{route53, AwsTarget};
use crate::config::{AwsRoute53Config, NodeConfig, RecordType};

impl VipBackend for AwsRoute53Config {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn describe(&self) -> String {
        format!(
            "{} record {} in zone {}",
            self.record_type.label(),
            self.record_name,
            self.hosted_zone_id
        )
    }

    fn status<'a>(&'a self, site: Site<'a>) -> BoxFuture<'a, Vec<Result<Placement, String>>> {
        Box::pin(async move {
            let read = within(self, async {
                let values = read(&client(self).await, self, &self.record_name).await?;
                Ok(placement(self, &values, site.nodes))
            });
            vec![read.await.map_err(|e| e.message)]
        })
    }

    fn move_to<'a>(
        &'a self,
        site: Site<'a>,
        _: Option<&'a NodeConfig>,
        to: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        Box::pin(within(self, upsert(self, site.nodes, to)))
    }
}

/// The record's name as Route 53 writes it back (fully qualified).
pub(super) fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

pub(super) fn rr_type(t: RecordType) -> RrType {
    match t {
        RecordType::A => RrType::A,
        RecordType::Cname => RrType::Cname,
    }
}

/// What the record holds for `node`: its address (A) or host name (CNAME).
pub(super) fn value_for(s: &AwsRoute53Config, node: &NodeConfig) -> String {
    match s.record_type {
        RecordType::A => node.ipv4_host(),
        RecordType::Cname => fqdn(&node.host),
    }
}

fn node_of<'a>(
    s: &AwsRoute53Config,
    value: &str,
    nodes: &'a [NodeConfig],
) -> Option<&'a NodeConfig> {
    nodes.iter().find(|n| value_for(s, n) == value)
}

async fn within<T>(
    s: &AwsRoute53Config,
    work: impl std::future::Future<Output = Result<T, VipError>>,
) -> Result<T, VipError> {
    super::within(
        s.deadline,
        "aws-route53.deadline",
        || format!("zone {}", s.hosted_zone_id),
        work,
    )
    .await
}

pub(super) async fn client(s: &AwsRoute53Config) -> Client {
    route53(&AwsTarget {
        region: s.region.clone(),
        endpoint_url: s.endpoint_url.clone(),
        deadline: s.deadline,
    })
    .await
}

/// Every record set of `name` and the configured type.
pub(super) async fn sets(
    client: &Client,
    s: &AwsRoute53Config,
    name: &str,
) -> Result<Vec<ResourceRecordSet>, VipError> {
    let name = fqdn(name);
    let out = client
        .list_resource_record_sets()
        .hosted_zone_id(&s.hosted_zone_id)
        .start_record_name(&name)
        .start_record_type(rr_type(s.record_type))
        .max_items(100)
        .send()
        .await
        .map_err(|e| aws_failed(&e, format!("ListResourceRecordSets {}", s.hosted_zone_id)))?;
    Ok(out
        .resource_record_sets()
        .iter()
        .filter(|r| fqdn(r.name()) == name && *r.r#type() == rr_type(s.record_type))
        .cloned()
        .collect())
}

/// The values of record `name` now (empty when there is no such record).
pub(super) async fn read(
    client: &Client,
    s: &AwsRoute53Config,
    name: &str,
) -> Result<Vec<String>, VipError> {
    let mut values: Vec<String> = sets(client, s, name)
        .await?
        .iter()
        .filter(|r| r.set_identifier().is_none())
        .flat_map(|r| r.resource_records())
        .map(|v| v.value().to_string())
        .collect();
    values.sort();
    Ok(values)
}

fn placement(s: &AwsRoute53Config, values: &[String], nodes: &[NodeConfig]) -> Placement {
    let node = match values {
        [one] => node_of(s, one, nodes).map(|n| n.name.clone()),
        _ => None,
    };
    Placement {
        backend: AwsRoute53Config::NAME,
        target: format!(
            "{} {} -> {}",
            s.record_type.label(),
            fqdn(&s.record_name),
            if values.is_empty() {
                "no record".to_string()
            } else {
                values.join(", ")
            }
        ),
        node,
        no_node_is_wrong: true,
    }
}

async fn upsert(
    s: &AwsRoute53Config,
    nodes: &[NodeConfig],
    to: &NodeConfig,
) -> Result<Moved, VipError> {
    let client = client(s).await;
    let value = value_for(s, to);
    let what = format!(
        "{} {} -> {value} ({})",
        s.record_type.label(),
        fqdn(&s.record_name),
        to.name
    );
    let before = read(&client, s, &s.record_name).await?;
    if before == [value.clone()] {
        return Ok(Moved::AlreadyThere(format!("{what} already")));
    }
    let status = write(
        &client,
        s,
        &s.record_name,
        std::slice::from_ref(&value),
        &format!("vipkeeper: the master is {}", to.name),
    )
    .await?;
    let was = match &before[..] {
        [] => "no record".to_string(),
        [one] => node_of(s, one, nodes)
            .map(|n| format!("{one} ({})", n.name))
            .unwrap_or_else(|| one.clone()),
        many => many.join(", "),
    };
    Ok(Moved::Done(format!(
        "{what}, TTL {} s, was {was} (change {status})",
        s.ttl
    )))
}

/// UPSERTs record `name` with `values`, reads it back, and returns the
/// change's status (`PENDING`, `INSYNC`).
pub(super) async fn write(
    client: &Client,
    s: &AwsRoute53Config,
    name: &str,
    values: &[String],
    comment: &str,
) -> Result<String, VipError> {
    let mut set = ResourceRecordSet::builder()
        .name(fqdn(name))
        .r#type(rr_type(s.record_type))
        .ttl(i64::from(s.ttl));
    for v in values {
        set = set.resource_records(
            ResourceRecord::builder()
                .value(v)
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    let change = Change::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(set.build().map_err(|e| e.to_string())?)
        .build()
        .map_err(|e| e.to_string())?;
    let status = submit(client, s, comment, vec![change]).await?;
    let after = read(client, s, name).await?;
    if after != values {
        return Err(format!(
            "{} reads back as {}, not {}",
            fqdn(name),
            if after.is_empty() {
                "no record".to_string()
            } else {
                after.join(", ")
            },
            values.join(", ")
        )
        .into());
    }
    Ok(status)
}

/// Sends `changes` as one batch (applied together or not at all); returns
/// the change's status (`PENDING`, `INSYNC`).
pub(super) async fn submit(
    client: &Client,
    s: &AwsRoute53Config,
    comment: &str,
    changes: Vec<Change>,
) -> Result<String, VipError> {
    let batch = ChangeBatch::builder()
        .comment(comment)
        .set_changes(Some(changes))
        .build()
        .map_err(|e| e.to_string())?;
    let change = client
        .change_resource_record_sets()
        .hosted_zone_id(&s.hosted_zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| aws_failed(&e, format!("ChangeResourceRecordSets {}", s.hosted_zone_id)))?;
    Ok(change
        .change_info()
        .map(|c| c.status().as_str().to_string())
        .unwrap_or_default())
}

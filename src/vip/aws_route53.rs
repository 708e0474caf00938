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
                let values = read(&client(self).await, self).await?;
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
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

fn rr_type(t: RecordType) -> RrType {
    match t {
        RecordType::A => RrType::A,
        RecordType::Cname => RrType::Cname,
    }
}

/// What the record holds for `node`: its address (A) or host name (CNAME).
fn value_for(s: &AwsRoute53Config, node: &NodeConfig) -> String {
    match s.record_type {
        RecordType::A => node.host.clone(),
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
    tokio::time::timeout(s.deadline, work)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "zone {} did not answer within {} (aws-route53.deadline)",
                s.hosted_zone_id,
                humantime::format_duration(s.deadline)
            )
            .into())
        })
}

async fn client(s: &AwsRoute53Config) -> Client {
    route53(&AwsTarget {
        region: s.region.clone(),
        endpoint_url: s.endpoint_url.clone(),
        deadline: s.deadline,
    })
    .await
}

/// The record's values now (empty when there is no such record).
async fn read(client: &Client, s: &AwsRoute53Config) -> Result<Vec<String>, VipError> {
    let name = fqdn(&s.record_name);
    let out = client
        .list_resource_record_sets()
        .hosted_zone_id(&s.hosted_zone_id)
        .start_record_name(&name)
        .start_record_type(rr_type(s.record_type))
        .max_items(1)
        .send()
        .await
        .map_err(|e| aws_failed(&e, format!("ListResourceRecordSets {}", s.hosted_zone_id)))?;
    Ok(out
        .resource_record_sets()
        .iter()
        .filter(|r| fqdn(r.name()) == name && *r.r#type() == rr_type(s.record_type))
        .flat_map(|r| r.resource_records())
        .map(|v| v.value().to_string())
        .collect())
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
    let name = fqdn(&s.record_name);
    let value = value_for(s, to);
    let before = read(&client, s).await?;
    let what = format!("{} {name} -> {value} ({})", s.record_type.label(), to.name);
    if before == [value.clone()] {
        return Ok(Moved::AlreadyThere(format!("{what} already")));
    }
    let set = ResourceRecordSet::builder()
        .name(&name)
        .r#type(rr_type(s.record_type))
        .ttl(i64::from(s.ttl))
        .resource_records(
            ResourceRecord::builder()
                .value(&value)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .build()
        .map_err(|e| e.to_string())?;
    let batch = ChangeBatch::builder()
        .comment(format!("vipkeeper: the master is {}", to.name))
        .changes(
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(set)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .build()
        .map_err(|e| e.to_string())?;
    let change = client
        .change_resource_record_sets()
        .hosted_zone_id(&s.hosted_zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| aws_failed(&e, format!("ChangeResourceRecordSets {}", s.hosted_zone_id)))?;
    let after = read(&client, s).await?;
    if after != [value.clone()] {
        return Err(format!(
            "{name} reads back as {}, not {value}",
            if after.is_empty() {
                "no record".to_string()
            } else {
                after.join(", ")
            }
        )
        .into());
    }
    let was = match &before[..] {
        [] => "no record".to_string(),
        [one] => node_of(s, one, nodes)
            .map(|n| format!("{one} ({})", n.name))
            .unwrap_or_else(|| one.clone()),
        many => many.join(", "),
    };
    Ok(Moved::Done(format!(
        "{what}, TTL {} s, was {was} (change {})",
        s.ttl,
        change
            .change_info()
            .map(|c| c.status().as_str().to_string())
            .unwrap_or_default()
    )))
}

//! An NLB's IP target group and a private Route 53 zone in the moto
//! emulator, for the `aws-nlb` and `aws-route53` backends: seeded with the
//! master as the only target and the record naming it, and read back the
//! way a test asserts on them.

use anyhow::{Context, Result};
use aws_sdk_elasticloadbalancingv2::types::{
    TargetDescription, TargetGroupAttribute, TargetTypeEnum,
};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, HostedZoneConfig, ResourceRecord, ResourceRecordSet, RrType,
    Vpc, VpcRegion,
};
use vipkeeper::aws::{ec2, elbv2, route53, AwsTarget};

use super::moto::SEED_DEADLINE;

pub const RECORD: &str = "writer.db.example.internal";
/// Aurora's reader record.
pub const READERS: &str = "readers.db.example.internal";

pub struct Seeded {
    pub target_group_arn: String,
    pub zone_id: String,
}

fn setup(t: &AwsTarget) -> AwsTarget {
    AwsTarget {
        deadline: SEED_DEADLINE,
        ..t.clone()
    }
}

/// A VPC, an IP target group on `port` holding `master` alone (with the
/// settings that make clients follow fast, or AWS's defaults), and a
/// private zone whose A record `RECORD` names `master`.
pub async fn seed(at: &AwsTarget, master: &str, port: u16, fast_settings: bool) -> Result<Seeded> {
    let t = setup(at);
    super::moto::warm_up(at, &["ec2", "elasticloadbalancing", "route53"]);
    let vpc = ec2(&t)
        .await
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .context("CreateVpc")?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .context("no vpc id")?
        .to_string();
    let lb = elbv2(&t).await;
    let tg = lb
        .create_target_group()
        .name("db-writer")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Tcp)
        .port(i32::from(port))
        .vpc_id(&vpc_id)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .context("CreateTargetGroup")?;
    let arn = tg
        .target_groups()
        .first()
        .and_then(|g| g.target_group_arn())
        .context("no target group arn")?
        .to_string();
    lb.register_targets()
        .target_group_arn(&arn)
        .targets(
            TargetDescription::builder()
                .id(master)
                .port(i32::from(port))
                .build(),
        )
        .send()
        .await
        .context("RegisterTargets")?;
    if fast_settings {
        let attr = |k: &str, v: &str| TargetGroupAttribute::builder().key(k).value(v).build();
        lb.modify_target_group_attributes()
            .target_group_arn(&arn)
            .attributes(attr("deregistration_delay.timeout_seconds", "0"))
            .attributes(attr(
                "deregistration_delay.connection_termination.enabled",
                "true",
            ))
            .send()
            .await
            .context("ModifyTargetGroupAttributes")?;
    }
    let dns = route53(&t).await;
    let zone = dns
        .create_hosted_zone()
        .name("db.example.internal")
        .caller_reference(format!("vipkeeper-test-{}", std::process::id()))
        .hosted_zone_config(HostedZoneConfig::builder().private_zone(true).build())
        .vpc(
            Vpc::builder()
                .vpc_id(&vpc_id)
                .vpc_region(VpcRegion::UsEast1)
                .build(),
        )
        .send()
        .await
        .context("CreateHostedZone")?;
    let zone_id = zone
        .hosted_zone()
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .context("no zone id")?;
    set_record(at, &zone_id, master).await?;
    Ok(Seeded {
        target_group_arn: arn,
        zone_id,
    })
}

/// Points `RECORD` at `ip` (as someone else than vipkeeper would).
pub async fn set_record(at: &AwsTarget, zone_id: &str, ip: &str) -> Result<()> {
    let set = ResourceRecordSet::builder()
        .name(format!("{RECORD}."))
        .r#type(RrType::A)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value(ip).build()?)
        .build()?;
    route53(&setup(at))
        .await
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(set)
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await
        .context("ChangeResourceRecordSets")?;
    Ok(())
}

/// The target group's targets (address, port), draining ones left out.
pub async fn targets(at: &AwsTarget, arn: &str) -> Result<Vec<(String, i32)>> {
    let out = elbv2(at)
        .await
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .context("DescribeTargetHealth")?;
    let mut t: Vec<(String, i32)> = out
        .target_health_descriptions()
        .iter()
        .filter(|d| {
            d.target_health().and_then(|h| h.state())
                != Some(&aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum::Draining)
        })
        .filter_map(|d| {
            let t = d.target()?;
            Some((t.id()?.to_string(), t.port()?))
        })
        .collect();
    t.sort();
    Ok(t)
}

/// The values of `RECORD`'s A record.
pub async fn record(at: &AwsTarget, zone_id: &str) -> Result<Vec<String>> {
    record_named(at, zone_id, RECORD).await
}

/// The values of A record `name` (every record set of that name), sorted.
pub async fn record_named(at: &AwsTarget, zone_id: &str, name: &str) -> Result<Vec<String>> {
    let mut v: Vec<String> = record_sets(at, zone_id, name)
        .await?
        .into_iter()
        .map(|(_, value)| value)
        .collect();
    v.sort();
    Ok(v)
}

/// Each record set of A record `name`: (set identifier, value), sorted.
pub async fn record_sets(
    at: &AwsTarget,
    zone_id: &str,
    name: &str,
) -> Result<Vec<(Option<String>, String)>> {
    let out = route53(at)
        .await
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(format!("{name}."))
        .start_record_type(RrType::A)
        .max_items(100)
        .send()
        .await
        .context("ListResourceRecordSets")?;
    let mut sets: Vec<(Option<String>, String)> = out
        .resource_record_sets()
        .iter()
        .filter(|r| r.name() == format!("{name}.") && *r.r#type() == RrType::A)
        .flat_map(|r| {
            r.resource_records().iter().map(|v| {
                (
                    r.set_identifier().map(str::to_string),
                    v.value().to_string(),
                )
            })
        })
        .collect();
    sets.sort();
    Ok(sets)
}

/// The `[cluster.vip]` lines for both backends, the emulator at `endpoint`.
pub fn vip_toml(endpoint: &str, seeded: &Seeded, backends: &[&str]) -> String {
    let list: Vec<String> = backends.iter().map(|b| format!("\"{b}\"")).collect();
    format!(
        "[cluster.vip]\naddress = \"10.254.0.10\"\nbackends = [{}]\n\n\
         [cluster.vip.aws-nlb]\ntarget_group_arn = \"{}\"\nregion = \"us-east-1\"\nendpoint_url = \"{e}\"\n\n\
         [cluster.vip.aws-route53]\nhosted_zone_id = \"{}\"\nrecord_name = \"{RECORD}\"\nregion = \"us-east-1\"\nendpoint_url = \"{e}\"\n",
        list.join(", "),
        seeded.target_group_arn,
        seeded.zone_id,
        e = endpoint
    )
}

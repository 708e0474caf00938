//! An Aurora cluster's control plane in the moto emulator, paired with
//! real servers: each RDS instance (named db1, db2, ... as the cluster's
//! nodes) stands for the server of the same name. moto's
//! `FailoverDBCluster` moves `IsClusterWriter` at once; the SQL side of a
//! promotion is the test's to make real, in Aurora's order (the old writer
//! unavailable, then the new one writable).

use anyhow::{Context, Result};
use vipkeeper::aws::{rds, AwsTarget};

use super::moto::SEED_DEADLINE;

pub const CLUSTER_ID: &str = "orders";

/// The "am I the writer?" question the stand-in servers answer (Aurora's
/// own reads `replica_host_status`, which they do not have).
pub const WRITER_QUERY: &str = "SELECT @@global.read_only = 0 AS writer";

/// A DB cluster with one instance per node, the first the writer.
pub async fn seed(at: &AwsTarget, instances: usize) -> Result<()> {
    super::moto::warm_up(at, &["rds"]);
    let c = rds(&AwsTarget {
        deadline: SEED_DEADLINE,
        ..at.clone()
    })
    .await;
    c.create_db_cluster()
        .db_cluster_identifier(CLUSTER_ID)
        .engine("aurora-mysql")
        .master_username("admin")
        .master_user_password("not-used-1")
        .send()
        .await
        .context("CreateDBCluster")?;
    for i in 1..=instances {
        c.create_db_instance()
            .db_instance_identifier(format!("db{i}"))
            .db_cluster_identifier(CLUSTER_ID)
            .engine("aurora-mysql")
            .db_instance_class("db.r6g.large")
            .send()
            .await
            .with_context(|| format!("CreateDBInstance db{i}"))?;
    }
    Ok(())
}

/// Aurora's promotion, as the API sees it.
pub async fn fail_over(at: &AwsTarget, to: &str) -> Result<()> {
    rds(at)
        .await
        .failover_db_cluster()
        .db_cluster_identifier(CLUSTER_ID)
        .target_db_instance_identifier(to)
        .send()
        .await
        .context("FailoverDBCluster")?;
    Ok(())
}

/// The instance the API names the writer.
pub async fn writer(at: &AwsTarget) -> Result<Option<String>> {
    let out = rds(at)
        .await
        .describe_db_clusters()
        .db_cluster_identifier(CLUSTER_ID)
        .send()
        .await
        .context("DescribeDBClusters")?;
    Ok(out
        .db_clusters()
        .first()
        .into_iter()
        .flat_map(|c| c.db_cluster_members())
        .find(|m| m.is_cluster_writer() == Some(true))
        .and_then(|m| m.db_instance_identifier())
        .map(str::to_string))
}

/// Each instance's endpoint address, as DescribeDBInstances gives it.
pub async fn endpoints(at: &AwsTarget) -> Result<Vec<(String, String)>> {
    let out = rds(at)
        .await
        .describe_db_instances()
        .send()
        .await
        .context("DescribeDBInstances")?;
    let mut found: Vec<(String, String)> = out
        .db_instances()
        .iter()
        .filter_map(|i| {
            Some((
                i.db_instance_identifier()?.to_string(),
                i.endpoint()?.address()?.to_string(),
            ))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// The `[cluster.aurora]` table for the emulator at `endpoint`.
pub fn aurora_toml(endpoint: &str) -> String {
    format!(
        "[cluster.aurora]\ncluster_identifier = \"{CLUSTER_ID}\"\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\nwriter_query = \"{WRITER_QUERY}\"\n"
    )
}

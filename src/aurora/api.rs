//! The RDS API's view of an Aurora cluster: which instance is the writer
//! (`DescribeDBClusters`, `IsClusterWriter`), and asking Aurora to promote
//! a given reader (`FailoverDBCluster`).

use crate::aws::{rds, AwsTarget};
use crate::config::AuroraConfig;
use crate::vip::{aws_failed, VipError};

pub(super) fn target(a: &AuroraConfig) -> AwsTarget {
    AwsTarget {
        region: a.region.clone(),
        endpoint_url: a.endpoint_url.clone(),
        deadline: a.api_deadline,
    }
}

/// `call` (`what`, e.g. "DescribeDBClusters orders"), retries included,
/// within `aurora.api_deadline`.
pub(super) async fn within<T>(
    a: &AuroraConfig,
    what: String,
    call: impl std::future::Future<Output = Result<T, VipError>>,
) -> Result<T, String> {
    crate::vip::within(a.api_deadline, "aurora.api_deadline", || what, call)
        .await
        .map_err(|e| e.message)
}

/// The cluster's members: (instance, is the writer).
pub async fn members(a: &AuroraConfig) -> Result<Vec<(String, bool)>, String> {
    let what = format!("DescribeDBClusters {}", a.cluster_identifier);
    let call = async {
        let out = rds(&target(a))
            .await
            .describe_db_clusters()
            .db_cluster_identifier(&a.cluster_identifier)
            .send()
            .await
            .map_err(|e| aws_failed(&e, what.clone()))?;
        let cluster = out
            .db_clusters()
            .first()
            .ok_or_else(|| format!("DB cluster {} not found", a.cluster_identifier))?;
        Ok::<_, crate::vip::VipError>(
            cluster
                .db_cluster_members()
                .iter()
                .filter_map(|m| {
                    Some((
                        m.db_instance_identifier()?.to_string(),
                        m.is_cluster_writer() == Some(true),
                    ))
                })
                .collect(),
        )
    };
    within(a, what.clone(), call).await
}

/// The writer the API names, if any.
pub async fn writer(a: &AuroraConfig) -> Result<Option<String>, String> {
    Ok(members(a)
        .await?
        .into_iter()
        .find(|(_, w)| *w)
        .map(|(n, _)| n))
}

/// Asks Aurora to make `to` the writer.
pub async fn fail_over_to(a: &AuroraConfig, to: &str) -> Result<(), String> {
    let what = format!("FailoverDBCluster {} to {to}", a.cluster_identifier);
    let call = async {
        rds(&target(a))
            .await
            .failover_db_cluster()
            .db_cluster_identifier(&a.cluster_identifier)
            .target_db_instance_identifier(to)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_failed(&e, what.clone()))
    };
    within(a, what.clone(), call).await
}

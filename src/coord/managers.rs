//! `vipkeeper status` with several managers: who leads each cluster and
//! what every live manager sees of its master, read from etcd once.

use std::time::{SystemTime, UNIX_EPOCH};

use etcd_client::GetOptions;
use serde::Serialize;

use super::connect::client;
use super::lease::within;
use super::quorum::View;
use crate::config::CoordinationConfig;

#[derive(Debug, Clone, Serialize)]
pub struct Managers {
    pub cluster: String,
    /// The manager holding the leader key, if any.
    pub leader: Option<String>,
    /// Every live manager's view (their keys live with their leases).
    pub views: Vec<View>,
}

impl Managers {
    pub fn render(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut out = format!(
            "managers of cluster {}: {}\n",
            self.cluster,
            match &self.leader {
                Some(l) => format!("{l} leads"),
                None => "nobody leads".into(),
            }
        );
        for v in &self.views {
            out.push_str(&format!(
                "  {}: {} ({} ms ago)\n",
                v.manager,
                v.says,
                now.saturating_sub(v.at_ms)
            ));
        }
        out
    }
}

/// The leader and the views of `cluster`, within `coordination.timeout`
/// for each call.
pub async fn read(c: &CoordinationConfig, cluster: &str) -> Result<Managers, String> {
    let mut etcd = client(c).await?;
    let leader_key = format!("{}/{cluster}/leader", c.prefix);
    let leader = within(c, "reading the leader", etcd.get(leader_key, None)).await?;
    let views = within(
        c,
        "reading the managers' views",
        etcd.get(
            format!("{}/{cluster}/views/", c.prefix),
            Some(GetOptions::new().with_prefix()),
        ),
    )
    .await?;
    Ok(Managers {
        cluster: cluster.to_string(),
        leader: leader
            .kvs()
            .first()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()),
        views: views
            .kvs()
            .iter()
            .filter_map(|kv| serde_json::from_slice(kv.value()).ok())
            .collect(),
    })
}

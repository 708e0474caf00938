//! Several managers, one decision: vipkeeper managers (one per AZ)
//! coordinated through etcd. Each manager holds a lease (`lease`); per
//! cluster, the manager whose name the cluster's leader key holds, bound to
//! its lease, leads (`lead`), and only the leader acts — and only while its
//! lease surely lives for as long as the action may take (`validity`).
//! docs/HA.md has the timing argument.

mod connect;
pub mod lease;
pub mod managers;
pub mod quorum;
pub mod record;
pub mod validity;

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn, TxnOp, TxnOpResponse};
use serde::Serialize;
use tokio::sync::{watch, Mutex};

use crate::config::CoordinationConfig;
use lease::{within, Lease};

/// This manager's part in one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "kebab-case")]
pub enum Role {
    /// This manager leads: it acts.
    Leader,
    /// Another manager leads: this one watches and is ready.
    Follower { leader: String },
    /// Leadership cannot be known (etcd unreachable, no quorum, no lease):
    /// nobody should act on this manager's word.
    Unknown { why: String },
}

impl Role {
    pub fn describe(&self, manager: &str, cluster: &str) -> String {
        match self {
            Role::Leader => format!("manager {manager} leads cluster {cluster}: it acts"),
            Role::Follower { leader } => format!(
                "manager {leader} leads cluster {cluster}: {manager} watches and acts on nothing"
            ),
            Role::Unknown { why } => {
                format!("manager {manager} does not act on cluster {cluster}: {why}")
            }
        }
    }
}

#[derive(Clone)]
pub struct Coordinator {
    inner: Arc<Inner>,
}

struct Inner {
    config: CoordinationConfig,
    lease: watch::Receiver<Lease>,
    why_no_lease: watch::Receiver<Option<String>>,
    etcd: Mutex<Option<Client>>,
}

impl Coordinator {
    /// Starts keeping this manager's lease (in the background: etcd may
    /// be unreachable now; the manager acts on nothing until it is not).
    pub fn start(config: CoordinationConfig, stop: watch::Receiver<bool>) -> Self {
        let (lease, why_no_lease) = lease::keep(config.clone(), stop);
        Self {
            inner: Arc::new(Inner {
                config,
                lease,
                why_no_lease,
                etcd: Mutex::new(None),
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    fn leader_key(&self, cluster: &str) -> String {
        format!("{}/{cluster}/leader", self.inner.config.prefix)
    }

    /// Campaigns for `cluster` when nobody leads it, and says who does.
    pub async fn lead(&self, cluster: &str) -> Role {
        let c = &self.inner.config;
        let lease = *self.inner.lease.borrow();
        let Some(id) = lease.id else {
            let why = self.inner.why_no_lease.borrow().clone();
            return Role::Unknown {
                why: why.unwrap_or_else(|| "no lease in etcd".into()),
            };
        };
        if !lease
            .validity
            .covers(std::time::Instant::now(), Duration::ZERO)
        {
            return Role::Unknown {
                why: "the lease may have expired: it was not renewed in time".into(),
            };
        }
        let key = self.leader_key(cluster);
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key.clone(),
                c.name.clone(),
                Some(PutOptions::new().with_lease(id)),
            )])
            .or_else([TxnOp::get(key, None)]);
        let answer = self
            .call("campaigning", |mut etcd| async move { etcd.txn(txn).await })
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(why) => return Role::Unknown { why },
        };
        if answer.succeeded() {
            return Role::Leader;
        }
        let held = answer.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(g) => g
                .kvs()
                .first()
                .map(|kv| (String::from_utf8_lossy(kv.value()).into_owned(), kv.lease())),
            _ => None,
        });
        match held {
            Some((name, l)) if name == c.name && l == id => Role::Leader,
            Some((name, _)) if name == c.name => Role::Follower {
                leader: format!("{name} (an earlier lease of this manager, until it expires)"),
            },
            Some((name, _)) => Role::Follower { leader: name },
            // Deleted between the compare and the read: next time.
            None => Role::Unknown {
                why: "the leader key changed while it was read".into(),
            },
        }
    }

    fn views_key(&self, cluster: &str) -> String {
        format!("{}/{cluster}/views/", self.inner.config.prefix)
    }

    /// Publishes this manager's view of `cluster`'s master, bound to its
    /// lease (it vanishes with the manager). Without a lease, nothing.
    pub async fn publish(&self, cluster: &str, view: &quorum::View) -> Result<(), String> {
        let c = &self.inner.config;
        let Some(id) = self.inner.lease.borrow().id else {
            return Err("no lease".into());
        };
        let key = format!("{}{}", self.views_key(cluster), c.name);
        let value = serde_json::to_string(view).expect("views serialize");
        self.call("publishing this manager's view", |mut etcd| async move {
            etcd.put(key, value, Some(PutOptions::new().with_lease(id)))
                .await
        })
        .await
        .map(|_| ())
    }

    /// Every manager's published view of `cluster`.
    pub async fn views(&self, cluster: &str) -> Result<Vec<quorum::View>, String> {
        let key = self.views_key(cluster);
        let got = self
            .call("reading the managers' views", |mut etcd| async move {
                etcd.get(key, Some(etcd_client::GetOptions::new().with_prefix()))
                    .await
            })
            .await?;
        Ok(got
            .kvs()
            .iter()
            .filter_map(|kv| serde_json::from_slice(kv.value()).ok())
            .collect())
    }

    /// Whether an action taking up to `needed` may start now: the lease
    /// (and with it the leader key) surely outlives it.
    pub fn covers(&self, needed: Duration) -> bool {
        self.inner
            .lease
            .borrow()
            .validity
            .covers(std::time::Instant::now(), needed)
    }

    pub fn lease_ttl(&self) -> Duration {
        self.inner.config.lease_ttl
    }

    /// How long the lease surely lives from now.
    pub fn lease_left(&self) -> Duration {
        self.inner
            .lease
            .borrow()
            .validity
            .left(std::time::Instant::now())
    }

    /// One call on the shared etcd connection, within
    /// `coordination.timeout`; a call that fails drops the connection, so
    /// that the next one connects afresh (another member may answer).
    async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T, String>
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let answer = match self.etcd().await {
            Ok(etcd) => within(&self.inner.config, what, f(etcd)).await,
            Err(e) => Err(e),
        };
        if answer.is_err() {
            *self.inner.etcd.lock().await = None;
        }
        answer
    }

    /// Resolves as soon as the lease no longer surely outlives `margin`
    /// (the longest a statement already sent may still take).
    pub async fn until_uncovered(&self, margin: Duration) -> String {
        loop {
            let left = self.lease_left();
            if left <= margin {
                return format!(
                    "the lease of manager {} may run out ({} ms left)",
                    self.name(),
                    left.as_millis()
                );
            }
            // A renewal only lengthens what is left: looking again when the
            // margin is reached, at the latest every 50 ms, is soon enough.
            tokio::time::sleep((left - margin).min(Duration::from_millis(50))).await;
        }
    }

    async fn etcd(&self) -> Result<Client, String> {
        let mut held = self.inner.etcd.lock().await;
        if held.is_none() {
            *held = Some(connect::client(&self.inner.config).await?);
        }
        Ok(held.clone().expect("connected above"))
    }
}

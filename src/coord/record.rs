//! The cluster's change record in etcd (`<prefix>/<cluster>/failover`):
//! the failover in flight, step by step, then how it ended — the journal a
//! new leader finishes from, the block period and `ack` of every manager.
//! The record is opaque here (JSON the caller reads); what matters is who
//! may write it: the leader, only while the leader key still names it and
//! is bound to its lease — one transaction, so a manager that lost the
//! lease cannot write over its successor's record.

use etcd_client::{Compare, CompareOp, Txn, TxnOp};

use super::connect::client;
use super::lease::within;
use super::Coordinator;
use crate::config::CoordinationConfig;

/// How many times the record is written before a failure stops the change.
const RECORD_TRIES: u32 = 3;

fn key(c: &CoordinationConfig, cluster: &str) -> String {
    format!("{}/{cluster}/failover", c.prefix)
}

impl Coordinator {
    /// The cluster's change record, if any.
    pub async fn failover_record(&self, cluster: &str) -> Result<Option<String>, String> {
        let key = key(&self.inner.config, cluster);
        let got = self
            .call("reading the failover record", |mut etcd| async move {
                etcd.get(key, None).await
            })
            .await;
        Ok(got?
            .kvs()
            .first()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()))
    }

    /// Writes the cluster's change record if this manager still leads it
    /// under its current lease; Err says why not.
    pub async fn write_failover_record(&self, cluster: &str, record: String) -> Result<(), String> {
        let c = &self.inner.config;
        let Some(id) = self.inner.lease.borrow().id else {
            return Err("this manager holds no lease".into());
        };
        let leader = self.leader_key(cluster);
        let txn = Txn::new()
            .when([
                Compare::value(leader.clone(), CompareOp::Equal, c.name.clone()),
                Compare::lease(leader, CompareOp::Equal, id),
            ])
            .and_then([TxnOp::put(key(c, cluster), record, None)]);
        // A call that times out is ambiguous and usually passing (a busy
        // etcd or machine): the same record is written again, a few times,
        // while the lease still outlives the call — one slow answer must
        // not cut a failover short.
        let mut tries = 0;
        let answer = loop {
            tries += 1;
            let txn = txn.clone();
            match self
                .call("recording the failover", |mut etcd| async move {
                    etcd.txn(txn).await
                })
                .await
            {
                Ok(answer) => break answer,
                Err(e) if tries >= RECORD_TRIES || self.lease_left() <= c.timeout * 2 => {
                    return Err(e)
                }
                Err(e) => tracing::warn!("{e}; trying again"),
            }
        };
        if answer.succeeded() {
            Ok(())
        } else {
            Err(format!(
                "manager {} no longer leads cluster {cluster} under its lease",
                c.name
            ))
        }
    }
}

/// `vipkeeper ack` with several managers: `edit` the record (None: nothing
/// to change), written back only if nobody wrote it meanwhile (compare on
/// its revision, tried again a few times). Returns the record as written.
pub async fn edit(
    c: &CoordinationConfig,
    cluster: &str,
    edit: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    let mut etcd = client(c).await?;
    for _ in 0..5 {
        let got = within(
            c,
            "reading the failover record",
            etcd.get(key(c, cluster), None),
        )
        .await?;
        let Some(kv) = got.kvs().first() else {
            return Ok(None);
        };
        let Some(new) = edit(&String::from_utf8_lossy(kv.value())) else {
            return Ok(None);
        };
        let txn = Txn::new()
            .when([Compare::mod_revision(
                key(c, cluster),
                CompareOp::Equal,
                kv.mod_revision(),
            )])
            .and_then([TxnOp::put(key(c, cluster), new.clone(), None)]);
        if within(c, "writing the failover record", etcd.txn(txn))
            .await?
            .succeeded()
        {
            return Ok(Some(new));
        }
    }
    Err(format!(
        "the failover record of cluster {cluster} kept changing while it was acknowledged; try again"
    ))
}

//! This manager's lease, kept alive by a task of its own: granted with
//! `lease_ttl`, renewed every third of it. Leadership keys and views are
//! bound to it, so they vanish when the manager does. The task publishes
//! the lease's id and until when it surely lives (`Validity`); a lease that
//! could not be renewed in time is given up and a new one granted.

use std::time::Duration;

use etcd_client::Client;
use tokio::sync::watch;
use tokio::time::Instant;

use super::connect::client;
use super::validity::Validity;
use crate::config::CoordinationConfig;

/// The lease now: its id (none before the first grant) and validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub id: Option<i64>,
    pub validity: Validity,
}

/// Starts the task; it ends when `stop` turns true. The receiver also
/// says why there is no lease, while there is none.
pub fn keep(
    c: CoordinationConfig,
    mut stop: watch::Receiver<bool>,
) -> (watch::Receiver<Lease>, watch::Receiver<Option<String>>) {
    let (tx, rx) = watch::channel(Lease {
        id: None,
        validity: Validity::NONE,
    });
    let (why_tx, why) = watch::channel(Some("not connected to etcd yet".to_string()));
    tokio::spawn(async move {
        let mut conn: Option<Client> = None;
        loop {
            let outcome = tokio::select! {
                o = hold(&c, &mut conn, &tx) => o,
                _ = stop.changed() => return,
            };
            if let Err(e) = outcome {
                // A fresh connection next time: this one may be the trouble.
                conn = None;
                if why_tx.borrow().as_deref() != Some(e.as_str()) {
                    tracing::warn!("coordination: {e}");
                }
                why_tx.send_replace(Some(e));
            }
            // Whatever ended the lease, try again soon (not in a tight loop).
            tokio::select! {
                _ = tokio::time::sleep(c.lease_ttl / 6) => {}
                _ = stop.changed() => return,
            }
        }
    });
    (rx, why)
}

/// Grants a lease and renews it for as long as etcd answers in time;
/// returns why it stopped.
async fn hold(
    c: &CoordinationConfig,
    conn: &mut Option<Client>,
    tx: &watch::Sender<Lease>,
) -> Result<(), String> {
    if conn.is_none() {
        *conn = Some(client(c).await?);
    }
    let etcd = conn.as_mut().expect("connected above");
    let ttl = c.lease_ttl.as_secs() as i64;
    let sent = Instant::now();
    let granted = within(c, "granting the lease", etcd.lease_grant(ttl, None)).await?;
    let id = granted.id();
    let mut lease = Lease {
        id: Some(id),
        validity: Validity::renewed(sent.into_std(), Duration::from_secs(granted.ttl() as u64)),
    };
    tx.send_replace(lease);
    tracing::info!(
        "coordination: lease {id:x} granted ({} s) to manager {}",
        granted.ttl(),
        c.name
    );
    let (mut keeper, mut stream) = within(
        c,
        "opening the keep-alive stream",
        etcd.lease_keep_alive(id),
    )
    .await?;
    loop {
        tokio::time::sleep(c.lease_ttl / 3).await;
        let sent = Instant::now();
        let renewed = async {
            keeper.keep_alive().await?;
            stream.message().await
        };
        match tokio::time::timeout(c.timeout, renewed).await {
            Ok(Ok(Some(answer))) if answer.ttl() > 0 => {
                metrics::histogram!(crate::telemetry::LEASE_RENEW_SECONDS)
                    .record(sent.elapsed().as_secs_f64());
                lease.validity = lease.validity.max(Validity::renewed(
                    sent.into_std(),
                    Duration::from_secs(answer.ttl() as u64),
                ));
                tx.send_replace(lease);
            }
            Ok(Ok(Some(_))) => {
                tx.send_replace(Lease {
                    id: None,
                    validity: Validity::NONE,
                });
                return Err(format!("lease {id:x} expired in etcd"));
            }
            failed => {
                let why = match failed {
                    Ok(Err(e)) => describe(&e),
                    Ok(Ok(None)) => "the keep-alive stream ended".to_string(),
                    _ => format!(
                        "no answer within {} (coordination.timeout)",
                        humantime::format_duration(c.timeout)
                    ),
                };
                if lease.validity.left(std::time::Instant::now()) == Duration::ZERO {
                    tx.send_replace(Lease {
                        id: None,
                        validity: Validity::NONE,
                    });
                    return Err(format!("lease {id:x} could not be renewed: {why}"));
                }
                tracing::warn!("coordination: renewing lease {id:x}: {why}");
                // The stream may be broken: open another on the same lease.
                match within(
                    c,
                    "reopening the keep-alive stream",
                    etcd.lease_keep_alive(id),
                )
                .await
                {
                    Ok((k, s)) => (keeper, stream) = (k, s),
                    Err(e) => tracing::warn!("coordination: {e}"),
                }
            }
        }
    }
}

/// `call`, named `what`, within `coordination.timeout`.
pub async fn within<T>(
    c: &CoordinationConfig,
    what: &str,
    call: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(c.timeout, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("etcd, {what}: {}", describe(&e))),
        Err(_) => Err(format!(
            "etcd, {what}: no answer within {} (coordination.timeout)",
            humantime::format_duration(c.timeout)
        )),
    }
}

/// An etcd client error in words: a gRPC status as its code and message,
/// then whatever caused it (a TLS alert, a refused connection), never the
/// status's debug form.
pub fn describe(e: &etcd_client::Error) -> String {
    let mut out = match e {
        etcd_client::Error::GRpcStatus(s) if s.message().is_empty() => format!("{:?}", s.code()),
        etcd_client::Error::GRpcStatus(s) => format!("{:?}: {}", s.code(), s.message()),
        other => other.to_string(),
    };
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let said = c.to_string();
        if !out.contains(&said) {
            out.push_str(&format!(": {said}"));
        }
        cause = c.source();
    }
    out
}

//! A MySQL replica whose multi-threaded applier has read its whole relay
//! log while a worker sits inside a transaction whose end never arrived —
//! the source died, or the IO thread was stopped, in the middle of sending
//! it. `STOP REPLICA` cannot stop such an applier: the coordinator defers
//! the stop for up to 60 s (a constant in the server) waiting for the rest
//! of the group, and a failover's stop timed out behind it (measured: 60 s;
//! found by a CI run where the test's own IO-thread stop cut a
//! transaction). Killing the coordinator *before* any stop is asked ends it
//! at once (11 ms measured); the unfinished transaction rolls back. It was
//! never whole on this replica, so nothing it had is lost: the dead
//! master's binlog (salvage) is the only place that holds it whole.
//!
//! Told only from performance_schema (the coordinator has read all and a
//! worker waits for the rest of a transaction it started), read twice:
//! without those tables, or the privilege to read them, nothing is done
//! and the stop takes as long as the server makes it.

use std::time::{Duration, Instant};

use super::conn::Session;
use super::error::DbError;

/// The performance_schema tables read (the admin user needs SELECT on each).
pub const TABLES: [&str; 3] = [
    "threads",
    "replication_applier_status_by_coordinator",
    "replication_applier_status_by_worker",
];

/// The coordinator's connection id and the transaction a worker waits to
/// finish, when the applier has read everything and still waits inside it.
const WAITING_INSIDE: &str = "SELECT ct.PROCESSLIST_ID AS coordinator, \
       w.APPLYING_TRANSACTION AS gtid \
  FROM performance_schema.replication_applier_status_by_coordinator c \
  JOIN performance_schema.threads ct ON ct.THREAD_ID = c.THREAD_ID \
  JOIN performance_schema.replication_applier_status_by_worker w \
    ON w.CHANNEL_NAME = c.CHANNEL_NAME \
  JOIN performance_schema.threads wt ON wt.THREAD_ID = w.THREAD_ID \
 WHERE c.CHANNEL_NAME = '' \
   AND c.SERVICE_STATE = 'ON' \
   AND ct.PROCESSLIST_STATE LIKE '%read all relay log%' \
   AND wt.PROCESSLIST_STATE LIKE 'Waiting for an event from Coordinator%' \
   AND w.APPLYING_TRANSACTION <> ''";

/// Between the two readings that must agree: a worker that only paused
/// between two events of a transaction still arriving has moved on by then.
const SECOND_LOOK: Duration = Duration::from_millis(30);

/// How long the killed applier may take to be gone.
const GONE_WITHIN: Duration = Duration::from_secs(2);

/// Runs `stop` (a `STOP REPLICA` of some kind) on a MySQL replica. An
/// applier waiting inside a transaction that will not arrive is first
/// killed (said in the log); one that cannot be (no SYSTEM_USER) gets the
/// 60 s the server takes, rather than the session's deadline, so that the
/// stop ends late instead of failing.
pub async fn stop(s: &mut Session, stop: &str) -> Result<(), DbError> {
    match release(s).await? {
        Release::Nothing | Release::Killed => s.exec(stop).await,
        Release::CannotKill => {
            let usual = s.query_timeout();
            s.set_query_timeout(usual.max(SERVER_WAITS + Duration::from_secs(5)));
            let stopped = s.exec(stop).await;
            s.set_query_timeout(usual);
            stopped
        }
    }
}

/// How long the server defers the stop of an applier inside a group.
const SERVER_WAITS: Duration = Duration::from_secs(60);

/// What `release` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    /// The applier does not wait inside an unfinished transaction (or
    /// performance_schema cannot tell).
    Nothing,
    /// It did; killed, the transaction rolled back (the log says which).
    Killed,
    /// It does, and the KILL was refused.
    CannotKill,
}

/// If the applier waits inside a transaction that will not arrive, stops
/// it by KILL (said in the log).
async fn release(s: &mut Session) -> Result<Release, DbError> {
    let Some(first) = waiting_inside(s).await else {
        return Ok(Release::Nothing);
    };
    tokio::time::sleep(SECOND_LOOK).await;
    if waiting_inside(s).await.as_ref() != Some(&first) {
        return Ok(Release::Nothing);
    }
    let (coordinator, gtid) = first;
    if let Err(e) = s.exec(&format!("KILL {coordinator}")).await {
        tracing::warn!(
            "{}: the replica's applier waits inside transaction {gtid}, which its source never finished sending, and could not be killed ({e}): stopping it takes the server's 60 s; GRANT SYSTEM_USER to the admin user (docs/PRIVILEGES.md)",
            s.address()
        );
        return Ok(Release::CannotKill);
    }
    let until = Instant::now() + GONE_WITHIN;
    while applier_running(s).await? && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::warn!(
        "{}: the replica's applier waited inside transaction {gtid}, which its source never finished sending: stopped it at once (KILL of its coordinator, not STOP); that transaction was rolled back there (it was never whole on this replica)",
        s.address()
    );
    Ok(Release::Killed)
}

async fn waiting_inside(s: &mut Session) -> Option<(String, String)> {
    let mut row = match s.first(WAITING_INSIDE).await {
        Ok(row) => row?,
        Err(e) => {
            tracing::debug!("whether the applier waits inside a transaction: {e}");
            return None;
        }
    };
    let coordinator = row.remove("coordinator")??;
    let gtid = row.remove("gtid")??;
    // A connection id is a number; anything else is not put into a KILL.
    (!coordinator.is_empty() && coordinator.bytes().all(|b| b.is_ascii_digit()))
        .then_some((coordinator, gtid))
}

async fn applier_running(s: &mut Session) -> Result<bool, DbError> {
    let row = s
        .first(
            "SELECT SERVICE_STATE FROM performance_schema.replication_applier_status_by_coordinator \
             WHERE CHANNEL_NAME = ''",
        )
        .await?;
    Ok(row
        .and_then(|mut r| r.remove("SERVICE_STATE").flatten())
        .is_some_and(|state| state == "ON"))
}

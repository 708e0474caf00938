//! `[cluster.aurora]`: an Aurora cluster, whose writer Aurora promotes
//! itself; vipkeeper follows the writer and moves what clients use. Its
//! presence makes the cluster an Aurora one: only the monitor account is
//! needed (admin and replication default to it), and the nodes are the
//! instances (name = instance identifier, host and port where SQL reaches
//! it: the instance endpoint, or a local stand-in in tests).

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::fields::duration;
use super::problem::Problems;

type S<T> = Spanned<T>;

/// Aurora's own answer to "am I the writer?": writable, and the session
/// Aurora names as the master's is this instance's.
pub const AURORA_WRITER_QUERY: &str = "SELECT @@innodb_read_only = 0 AND EXISTS (SELECT 1 FROM information_schema.replica_host_status WHERE session_id = 'MASTER_SESSION_ID' AND server_id = @@aurora_server_id) AS writer";

/// Aurora's replica lag per instance, asked of the writer: a row per
/// instance, `instance` (its identifier) and `lag_ms`.
pub const AURORA_LAG_QUERY: &str = "SELECT server_id AS instance, replica_lag_in_milliseconds AS lag_ms FROM information_schema.replica_host_status WHERE session_id <> 'MASTER_SESSION_ID'";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuroraConfig {
    pub cluster_identifier: String,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// One row, first column 1 on the writer and 0 elsewhere.
    pub writer_query: String,
    /// Rows of `instance`, `lag_ms`, asked of the writer (for `status`).
    pub lag_query: String,
    /// How often every instance is asked.
    pub interval: Duration,
    /// How often, for `fast_for` after any change (as AWS's JDBC wrapper does).
    pub fast_interval: Duration,
    pub fast_for: Duration,
    /// How long SQL and the RDS API may name different writers before
    /// vipkeeper stops acting and reports it.
    pub disagreement: Duration,
    /// Each RDS API call, retries included.
    pub api_deadline: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAurora {
    pub cluster_identifier: S<String>,
    pub region: Option<S<String>>,
    pub endpoint_url: Option<S<String>>,
    pub writer_query: Option<S<String>>,
    pub lag_query: Option<S<String>>,
    pub interval: Option<S<String>>,
    pub fast_interval: Option<S<String>>,
    pub fast_for: Option<S<String>>,
    pub disagreement: Option<S<String>>,
    pub api_deadline: Option<S<String>>,
}

pub fn validate(raw: &RawAurora, p: &mut Problems) -> Option<AuroraConfig> {
    let id = raw.cluster_identifier.get_ref();
    let mut ok = true;
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        p.error(
            Some(raw.cluster_identifier.span()),
            format!("aurora.cluster_identifier `{id}` is not a DB cluster identifier"),
            "use the cluster's identifier as the RDS console shows it (letters, digits, '-')"
                .to_string(),
        );
        ok = false;
    }
    let d = |raw: &Option<S<String>>, default: u64, key: &str, p: &mut Problems| {
        duration(raw, Duration::from_millis(default), key, p)
    };
    let interval = d(&raw.interval, 1000, "aurora.interval", p);
    let fast_interval = d(&raw.fast_interval, 100, "aurora.fast_interval", p);
    let fast_for = d(&raw.fast_for, 30_000, "aurora.fast_for", p);
    let disagreement = d(&raw.disagreement, 5000, "aurora.disagreement", p);
    let api_deadline = d(&raw.api_deadline, 2000, "aurora.api_deadline", p);
    if let (Some(i), Some(f), Some(span)) = (
        interval,
        fast_interval,
        raw.fast_interval.as_ref().map(|f| f.span()),
    ) {
        if f > i {
            p.error(
                Some(span),
                "aurora.fast_interval is longer than aurora.interval",
                "make the fast interval the shorter one (default 100ms against 1s)".to_string(),
            );
            ok = false;
        }
    }
    let writer_query = query(
        &raw.writer_query,
        "aurora.writer_query",
        AURORA_WRITER_QUERY,
        "leave it out for Aurora's own question, or give one SELECT whose first column is 1 on the writer",
        p,
    );
    let lag_query = query(
        &raw.lag_query,
        "aurora.lag_query",
        AURORA_LAG_QUERY,
        "leave it out for Aurora's replica_host_status, or give one SELECT of `instance` and `lag_ms` rows",
        p,
    );
    let config = AuroraConfig {
        cluster_identifier: id.clone(),
        region: raw.region.as_ref().map(|r| r.get_ref().clone()),
        endpoint_url: raw.endpoint_url.as_ref().map(|e| e.get_ref().clone()),
        writer_query: writer_query?,
        lag_query: lag_query?,
        interval: interval?,
        fast_interval: fast_interval?,
        fast_for: fast_for?,
        disagreement: disagreement?,
        api_deadline: api_deadline?,
    };
    ok.then_some(config)
}

/// A query setting: `default` when left out; empty is an error.
fn query(
    raw: &Option<S<String>>,
    key: &str,
    default: &str,
    hint: &str,
    p: &mut Problems,
) -> Option<String> {
    match raw {
        None => Some(default.to_string()),
        Some(q) if q.get_ref().trim().is_empty() => {
            p.error(Some(q.span()), format!("{key} is empty"), hint.to_string());
            None
        }
        Some(q) => Some(q.get_ref().clone()),
    }
}

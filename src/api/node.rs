//! A host agent's binlog, for salvage: `GET /node/{cluster}/binlog?file=F&position=P`
//! answers the complete transactions of the node's binlog after F:P (a
//! `binlog::fetch::TailAnswer`), and `GET /node/{cluster}/relaylog?...`
//! those of its relay log after F:P of its master's binlog — to a caller
//! with the cluster's salvage token (`Authorization: Bearer ...`) and to
//! nobody else: a binlog holds every row written.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::Api;
use crate::binlog::fetch::{Source, TailAnswer};
use crate::binlog::{read_relay_tail, read_tail, TailError};
use crate::mysql::binlog::BinlogCoord;

#[derive(Deserialize)]
pub(super) struct From {
    file: String,
    position: u64,
}

fn refuse(code: StatusCode, why: String) -> Response {
    (code, why).into_response()
}

pub(super) async fn binlog(
    State(api): State<Api>,
    Path(cluster): Path<String>,
    Query(from): Query<From>,
    headers: HeaderMap,
) -> Response {
    serve(api, cluster, from, headers, Source::Binlog).await
}

pub(super) async fn relay_log(
    State(api): State<Api>,
    Path(cluster): Path<String>,
    Query(from): Query<From>,
    headers: HeaderMap,
) -> Response {
    serve(api, cluster, from, headers, Source::RelayLog).await
}

async fn serve(
    api: Api,
    cluster: String,
    from: From,
    headers: HeaderMap,
    source: Source,
) -> Response {
    let Some(facts) = api.board.binlogs().get(&cluster) else {
        return refuse(
            StatusCode::NOT_FOUND,
            format!("this agent serves no node of cluster {cluster} (run it with --local-node)"),
        );
    };
    let Some(salvage) = &facts.salvage else {
        return refuse(
            StatusCode::NOT_FOUND,
            format!("cluster {cluster} has no [cluster.salvage] section in this host's config"),
        );
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same(given.as_bytes(), salvage.token.expose().as_bytes()) {
        tracing::warn!(
            cluster,
            "refused a binlog or relay log request without the salvage token"
        );
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the salvage token is missing or wrong".into(),
        );
    }
    let (index, what) = match source {
        Source::Binlog => (facts.index.clone(), "binlog index"),
        Source::RelayLog => (facts.relay_index.clone(), "relay log index"),
    };
    let Some(index) = index else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the {what} of {} is not known: its mysqld has not answered this agent since the agent was installed{}",
                facts.node,
                if source == Source::Binlog { ", or binary logging is off" } else { "" }
            ),
        );
    };
    if from.file.contains('/') {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!("{} is not a binlog file name", from.file),
        );
    }
    // Asked now, not at the last look: a manager asks right after a death.
    let mysqld_answers = accepts(&facts.address).await;
    let at = BinlogCoord::new(from.file, from.position);
    let limit = salvage.max_bytes;
    let read = tokio::task::spawn_blocking(move || match source {
        Source::Binlog => read_tail(&index, &at, limit),
        Source::RelayLog => read_relay_tail(&index, &at, limit),
    })
    .await;
    match read {
        Ok(Ok(tail)) => Json(TailAnswer {
            node: facts.node,
            mysqld_answers,
            tail,
        })
        .into_response(),
        Ok(Err(e @ TailError::TooMuch { .. })) => {
            refuse(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
        }
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the {what} failed: {e}"),
        ),
    }
}

/// Whether the local mysqld still accepts connections (a refusal, or no
/// answer within 300 ms, says it is gone).
async fn accepts(address: &str) -> bool {
    matches!(
        tokio::time::timeout(
            std::time::Duration::from_millis(300),
            tokio::net::TcpStream::connect(address)
        )
        .await,
        Ok(Ok(_))
    )
}

/// Compares in time that does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_compare_whole() {
        assert!(super::same(b"abcdef0123456789", b"abcdef0123456789"));
        assert!(!super::same(b"abcdef0123456789", b"abcdef012345678"));
        assert!(!super::same(b"abcdef0123456789", b"xbcdef0123456789"));
        assert!(!super::same(b"", b"x"));
    }
}

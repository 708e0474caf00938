//! Asking a database host's agent for its binlog tail over HTTP, with the
//! salvage token and a deadline. The answer's shape is shared with the
//! host agent that serves it (`api::node`).

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use serde::{Deserialize, Serialize};

use super::tail::Tail;
use crate::config::Secret;
use crate::mysql::binlog::BinlogCoord;

/// What a host agent reads: its node's binlog, or its relay log (asked in
/// the master's coordinates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Binlog,
    RelayLog,
}

impl Source {
    /// The path a host agent serves a cluster's tail of this on.
    pub fn path(self, cluster: &str) -> String {
        match self {
            Source::Binlog => format!("/node/{cluster}/binlog"),
            Source::RelayLog => format!("/node/{cluster}/relaylog"),
        }
    }
}

/// What a host agent answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TailAnswer {
    pub node: String,
    /// Whether the local mysqld still accepted connections when asked (a
    /// live server's binlog may still grow).
    pub mysqld_answers: bool,
    pub tail: Tail,
}

/// How long to wait for the host agent: to connect, and for all of it.
#[derive(Debug, Clone, Copy)]
pub struct Within {
    pub connect: Duration,
    pub deadline: Duration,
}

/// Asks the host agent at `address` (`host:port`) for `cluster`'s binlog
/// (or relay log) after `from`, within `within`.
pub async fn fetch(
    (address, source): (&str, Source),
    cluster: &str,
    from: &BinlogCoord,
    token: &Secret,
    within: Within,
) -> Result<TailAnswer, String> {
    let deadline = within.deadline;
    tokio::time::timeout(
        deadline,
        ask((address, source), cluster, from, token, within.connect),
    )
    .await
    .map_err(|_| format!("the host agent at {address} did not answer within {deadline:?}"))?
}

async fn ask(
    (address, source): (&str, Source),
    cluster: &str,
    from: &BinlogCoord,
    token: &Secret,
    connect: Duration,
) -> Result<TailAnswer, String> {
    let stream = tokio::time::timeout(connect, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| {
            format!("cannot reach the host agent at {address}: no connection within {connect:?}")
        })?
        .map_err(|e| format!("cannot reach the host agent at {address}: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("the host agent at {address}: {e}"))?;
    tokio::spawn(conn);
    let uri = format!(
        "{}?file={}&position={}",
        source.path(cluster),
        encode(&from.file),
        from.position
    );
    let request = hyper::Request::get(uri)
        .header(hyper::header::HOST, address)
        .header(
            hyper::header::AUTHORIZATION,
            format!("Bearer {}", token.expose()),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("a request to {address}: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("the host agent at {address}: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("the host agent at {address}: {e}"))?
        .to_bytes();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(format!(
            "the host agent at {address} answered {status}: {}",
            text.trim()
        ));
    }
    serde_json::from_slice(&body)
        .map_err(|e| format!("the host agent at {address} answered something unreadable: {e}"))
}

/// A file name in a query string (binlog names are letters, digits, `-`,
/// `_` and `.`; anything else is escaped).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

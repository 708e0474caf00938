//! The agent's HTTP API (after Patroni's and orchestrator's): `/health`,
//! `/status`, a primary and a replica check per node for load balancers,
//! and `/metrics` for Prometheus. Everything is answered from what the
//! loops last saw (`agent::board`): a request never touches a database.

mod node;

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use serde_json::json;

use crate::agent::board::{Board, Entry};
use crate::topology::render::STATUS_SCHEMA;

#[derive(Clone)]
struct Api {
    board: Board,
    metrics: PrometheusHandle,
}

pub fn router(board: Board, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/status", get(status))
        .route("/cluster/{name}/primary", get(primary))
        .route("/cluster/{name}/replica", get(replica))
        .route("/leader", get(leader))
        .route("/metrics", get(metrics_text))
        .route("/node/{cluster}/binlog", get(node::binlog))
        .route("/node/{cluster}/relaylog", get(node::relay_log))
        .with_state(Api { board, metrics })
}

/// Binds `addr` now (so that a taken port is an error at start, naming the
/// setting) and serves until the process ends.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} for the HTTP API: {e}; change agent.listen, or set it to \"\" to turn the API off"))
}

pub async fn serve(listener: tokio::net::TcpListener, app: Router) {
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("the HTTP API stopped: {e}");
    }
}

/// 200 while every loop finishes its rounds; 503 (naming the loops) when
/// one has not for 3 intervals, or has not finished its first.
async fn health(State(api): State<Api>) -> Response {
    let stale = api.board.stale(Instant::now());
    let clusters = api.board.all().len();
    if stale.is_empty() && clusters > 0 {
        (
            StatusCode::OK,
            Json(json!({ "healthy": true, "clusters": clusters })),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "healthy": false, "clusters": clusters, "stale": stale })),
        )
            .into_response()
    }
}

async fn status(State(api): State<Api>) -> Response {
    let clusters: Vec<serde_json::Value> = api
        .board
        .all()
        .into_iter()
        .map(|(name, e)| match e {
            Some(e) => {
                let mut v = e
                    .status
                    .clone()
                    .unwrap_or_else(|| json!({ "cluster": name }));
                if let (Some(map), Ok(serde_json::Value::Object(extra))) =
                    (v.as_object_mut(), serde_json::to_value(&e))
                {
                    for (k, x) in extra.into_iter().filter(|(k, _)| k != "status") {
                        map.insert(k, x);
                    }
                    map.insert(
                        "last_round_ms_ago".into(),
                        json!(e.ticked.elapsed().as_millis() as u64),
                    );
                }
                v
            }
            None => json!({ "cluster": name, "analysis": "starting" }),
        })
        .collect();
    Json(json!({ "schema": STATUS_SCHEMA, "clusters": clusters })).into_response()
}

#[derive(Deserialize)]
struct ClusterQuery {
    cluster: Option<String>,
}

/// 200 when this manager leads (every cluster it manages, or the one named
/// by `?cluster=`), 503 when it does not, as Patroni's `/leader` answers.
/// A manager without `[coordination]` leads alone; a host agent leads
/// nothing. 404 for an unknown cluster.
async fn leader(State(api): State<Api>, Query(q): Query<ClusterQuery>) -> Response {
    let all = api.board.all();
    if let Some(c) = &q.cluster {
        if !all.iter().any(|(name, _)| name == c) {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": format!("no cluster {c} here") })),
            )
                .into_response();
        }
    }
    let roles: Vec<serde_json::Value> = all
        .iter()
        .filter(|(name, _)| q.cluster.as_ref().is_none_or(|c| c == *name))
        .map(|(name, e)| {
            let (leads, role) = match e {
                // A host agent looks at its own node and leads nothing.
                Some(e) if e.status.is_none() => (false, json!({ "role": "host-agent" })),
                Some(e) => match &e.coordination {
                    None => (true, json!({ "role": "alone" })),
                    Some(c) => (
                        c.role == crate::coord::Role::Leader,
                        serde_json::to_value(c).unwrap_or_default(),
                    ),
                },
                None => (false, json!({ "role": "starting" })),
            };
            json!({ "cluster": name, "leads": leads, "coordination": role })
        })
        .collect();
    let leads = !roles.is_empty() && roles.iter().all(|r| r["leads"] == true);
    let code = if leads {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(json!({ "leader": leads, "clusters": roles }))).into_response()
}

#[derive(Deserialize)]
struct NodeQuery {
    node: Option<String>,
}

/// Whether `node` of cluster `name` passes `test` on a fresh round: 200,
/// else 503; 404 for an unknown cluster, 400 without `?node=`.
fn node_check(
    api: &Api,
    name: &str,
    q: &NodeQuery,
    what: &str,
    test: impl Fn(&Entry, &str) -> bool,
) -> Response {
    let Some(node) = q.node.as_deref() else {
        return (
            StatusCode::BAD_REQUEST,
            format!("name the node: /cluster/{name}/{what}?node=<node>\n"),
        )
            .into_response();
    };
    let Some(entry) = api.board.get(name) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no cluster `{name}` is watched here\n"),
        )
            .into_response();
    };
    match entry {
        Some(e) if e.fresh(Instant::now()) && test(&e, node) => {
            (StatusCode::OK, format!("{node} is the {what}\n")).into_response()
        }
        Some(e) if !e.fresh(Instant::now()) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no fresh round for cluster {name}: cannot vouch for {node}\n"),
        )
            .into_response(),
        Some(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{node} is not a usable {what}\n"),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cluster {name}: first round not finished\n"),
        )
            .into_response(),
    }
}

/// 200 when `node` is the cluster's one writable master.
async fn primary(
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<NodeQuery>,
) -> Response {
    node_check(&api, &name, &q, "primary", |e, node| {
        e.primary.as_deref() == Some(node)
    })
}

/// 200 when `node` replicates from the master, both threads running.
async fn replica(
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<NodeQuery>,
) -> Response {
    node_check(&api, &name, &q, "replica", |e, node| {
        e.replicas.iter().any(|r| r == node)
    })
}

async fn metrics_text(State(api): State<Api>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        api.metrics.render(),
    )
        .into_response()
}

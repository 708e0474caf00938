//! A second pair of eyes for race tests: reads `@@read_only` on every node
//! every few milliseconds, for as long as the race runs, and counts the
//! rounds in which two or more nodes were writable at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::*;

use super::TestCluster;

pub struct WritablePoller {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Polled>,
}

#[derive(Debug, Clone, Default)]
pub struct Polled {
    pub rounds: usize,
    /// Rounds that saw two or more writable nodes.
    pub two_writer_rounds: usize,
    /// The first such round's writable nodes.
    pub first_two: Vec<String>,
    /// The writable nodes in the last round.
    pub last_writable: Vec<String>,
}

impl WritablePoller {
    pub fn start(cluster: &TestCluster) -> Self {
        let nodes: Vec<(String, String)> = cluster
            .servers
            .iter()
            .map(|s| (s.name.clone(), s.socket().to_string_lossy().into_owned()))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut conns: Vec<Option<mysql_async::Conn>> = nodes.iter().map(|_| None).collect();
            let mut polled = Polled::default();
            while !flag.load(Ordering::Relaxed) {
                let reads = conns
                    .iter_mut()
                    .zip(&nodes)
                    .map(|(c, (_, sock))| read_only(c, sock));
                let results = futures::future::join_all(reads).await;
                let writable: Vec<String> = results
                    .iter()
                    .zip(&nodes)
                    .filter(|(r, _)| **r == Some(false))
                    .map(|(_, (n, _))| n.clone())
                    .collect();
                polled.rounds += 1;
                if writable.len() >= 2 {
                    if polled.two_writer_rounds == 0 {
                        polled.first_two = writable.clone();
                    }
                    polled.two_writer_rounds += 1;
                }
                polled.last_writable = writable;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            polled
        });
        Self { stop, task }
    }

    /// Stops polling after one more round; what was seen.
    pub async fn stop(self) -> Polled {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("poller task")
    }
}

/// `@@read_only` of one node over a kept connection (reconnected when it
/// broke); None when the node cannot be read now.
async fn read_only(conn: &mut Option<mysql_async::Conn>, socket: &str) -> Option<bool> {
    if conn.is_none() {
        let opts = mysql_async::OptsBuilder::default()
            .socket(Some(socket.to_string()))
            .user(Some("root"));
        *conn = tokio::time::timeout(Duration::from_millis(200), mysql_async::Conn::new(opts))
            .await
            .ok()?
            .ok();
    }
    let c = conn.as_mut()?;
    let r: Option<Result<Option<u8>, _>> = tokio::time::timeout(
        Duration::from_millis(500),
        c.query_first("SELECT @@read_only"),
    )
    .await
    .ok();
    match r {
        Some(Ok(Some(v))) => Some(v != 0),
        _ => {
            *conn = None;
            None
        }
    }
}

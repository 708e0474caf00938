//! A client that writes continuously (one row per unique id, autocommit)
//! and records every write the server acknowledged. It writes to whichever
//! master the VIP script last named (the file the harness's script writes),
//! reconnecting after any error.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use tokio::sync::watch;

use super::cluster::{APP_PASSWORD, APP_USER};

#[derive(Debug, Default, Clone)]
pub struct Writes {
    pub acknowledged: Vec<u64>,
    pub errors: usize,
    /// When each acknowledged write returned, relative to the writer's start.
    pub ack_times: Vec<Duration>,
    /// The port (server) that acknowledged each write.
    pub ack_ports: Vec<u16>,
}

pub struct Writer {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    writes: Arc<Mutex<Writes>>,
    pub started: Instant,
}

impl Writer {
    /// Writes into `app.w` (created by the caller) on the port in `target_file`.
    pub fn start(target_file: PathBuf) -> Self {
        let (stop, rx) = watch::channel(false);
        let writes = Arc::new(Mutex::new(Writes::default()));
        let started = Instant::now();
        let task = tokio::spawn(write_loop(target_file, rx, writes.clone(), started));
        Self {
            stop,
            task,
            writes,
            started,
        }
    }

    pub fn snapshot(&self) -> Writes {
        self.writes.lock().unwrap().clone()
    }

    /// Waits until `n` more writes are acknowledged (panics after `timeout`).
    pub async fn wait_for_more(&self, n: usize, timeout: Duration) {
        let base = self.snapshot().acknowledged.len();
        let deadline = Instant::now() + timeout;
        while self.snapshot().acknowledged.len() < base + n {
            assert!(
                Instant::now() < deadline,
                "the writer made no progress: {:?}",
                self.snapshot().errors
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(self) -> Writes {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let w = self.writes.lock().unwrap().clone();
        w
    }
}

async fn write_loop(
    target_file: PathBuf,
    stop: watch::Receiver<bool>,
    writes: Arc<Mutex<Writes>>,
    started: Instant,
) {
    let mut next_id: u64 = 1;
    while !*stop.borrow() {
        let port: u16 = match std::fs::read_to_string(&target_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            Some(p) => p,
            None => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some(APP_USER))
            .pass(Some(APP_PASSWORD))
            .db_name(Some("app"))
            .prefer_socket(false);
        let conn =
            tokio::time::timeout(Duration::from_millis(500), mysql_async::Conn::new(opts)).await;
        let Ok(Ok(mut conn)) = conn else {
            writes.lock().unwrap().errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while !*stop.borrow() {
            let id = next_id;
            let r = tokio::time::timeout(
                Duration::from_millis(2000),
                conn.query_drop(format!("INSERT INTO w (id, port) VALUES ({id}, {port})")),
            )
            .await;
            match r {
                Ok(Ok(())) => {
                    let mut w = writes.lock().unwrap();
                    w.acknowledged.push(id);
                    w.ack_times.push(started.elapsed());
                    w.ack_ports.push(port);
                    next_id += 1;
                }
                _ => {
                    // Unknown outcome: never reuse the id.
                    next_id += 1;
                    writes.lock().unwrap().errors += 1;
                    break;
                }
            }
        }
    }
}

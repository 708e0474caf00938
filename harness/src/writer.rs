//! A client that writes continuously (one row per unique id, autocommit)
//! and records every write the server acknowledged. It writes to whichever
//! master the VIP script last named (the file the harness's script writes),
//! reconnecting after any error.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mysql_async::prelude::*;
use tokio::sync::watch;

use super::cluster::{APP_PASSWORD, APP_USER};

#[derive(Debug, Clone)]
pub struct Writes {
    /// The wall-clock time the times below count from.
    pub started_at: SystemTime,
    pub acknowledged: Vec<u64>,
    pub errors: usize,
    /// When each acknowledged write returned, relative to the writer's start.
    pub ack_times: Vec<Duration>,
    /// The port (server) that acknowledged each write.
    pub ack_ports: Vec<u16>,
    /// The `server_id` of the server that acknowledged each write (behind
    /// a VIP every server is the same address and port).
    pub ack_servers: Vec<u32>,
    /// When each failed attempt (connect or write) ended, relative to the start.
    pub error_times: Vec<Duration>,
}

impl Writes {
    /// The acknowledged writes that `server`'s `app.w` does not hold.
    pub async fn missing_on(&self, server: &super::server::Server) -> anyhow::Result<Vec<u64>> {
        let stored: std::collections::BTreeSet<u64> = server
            .query_column("SELECT id FROM app.w")
            .await?
            .iter()
            .filter_map(|i| i.parse().ok())
            .collect();
        Ok(self
            .acknowledged
            .iter()
            .filter(|id| !stored.contains(id))
            .copied()
            .collect())
    }

    /// Milliseconds from `fault` (counted from the writer's start) to the
    /// first write acknowledged by another port than `old_port`: when the
    /// client could write again, elsewhere.
    pub fn first_write_elsewhere(&self, fault: Duration, old_port: u16) -> Option<f64> {
        first_other(&self.ack_times, &self.ack_ports, fault, &old_port)
    }

    /// The same, told by server id: the first write acknowledged by
    /// another server than `old_server`.
    pub fn first_write_off(&self, fault: Duration, old_server: u32) -> Option<f64> {
        first_other(&self.ack_times, &self.ack_servers, fault, &old_server)
    }

    /// Fails the test if any acknowledged write is missing on `server`.
    pub async fn assert_none_lost(&self, server: &super::server::Server) {
        let missing = self.missing_on(server).await.unwrap();
        assert!(
            missing.is_empty(),
            "acknowledged writes missing on {}: {missing:?}",
            server.name
        );
    }
}

/// Milliseconds from `fault` to the first time after it whose `by` is not `old`.
fn first_other<T: PartialEq>(
    times: &[Duration],
    by: &[T],
    fault: Duration,
    old: &T,
) -> Option<f64> {
    times
        .iter()
        .zip(by)
        .find(|(t, b)| **t > fault && *b != old)
        .map(|(t, _)| (*t - fault).as_secs_f64() * 1000.0)
}

/// Where the writer sends its writes.
#[derive(Debug, Clone)]
pub enum WriteTarget {
    /// 127.0.0.1 and the port named in this file (what the VIP script writes).
    PortFile(PathBuf),
    /// A fixed address, e.g. the VIP.
    Address(String, u16),
}

pub struct Writer {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    writes: Arc<Mutex<Writes>>,
    pub started: Instant,
}

impl Writer {
    /// Writes into `app.w` (created by the caller) on the port in `target_file`.
    pub fn start(target_file: PathBuf) -> Self {
        Self::start_to(WriteTarget::PortFile(target_file), None)
    }

    /// Writes to `target` from inside network namespace `netns` (if any).
    pub fn start_to(target: WriteTarget, netns: Option<String>) -> Self {
        let (stop, rx) = watch::channel(false);
        let started = Instant::now();
        let writes = Arc::new(Mutex::new(Writes {
            started_at: SystemTime::now(),
            acknowledged: Vec::new(),
            errors: 0,
            ack_times: Vec::new(),
            ack_ports: Vec::new(),
            ack_servers: Vec::new(),
            error_times: Vec::new(),
        }));
        let w = writes.clone();
        // Its own thread and runtime: setns(2) applies to one thread only.
        let thread = std::thread::spawn(move || {
            if let Some(ns) = netns {
                let file =
                    std::fs::File::open(format!("/run/netns/{ns}")).expect("the client namespace");
                nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(write_loop(target, rx, w, started));
        });
        Self {
            stop,
            thread: Some(thread),
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
                "the writer made no progress: {} errors",
                self.snapshot().errors
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(mut self) -> Writes {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        let w = self.writes.lock().unwrap().clone();
        w
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn write_loop(
    target: WriteTarget,
    stop: watch::Receiver<bool>,
    writes: Arc<Mutex<Writes>>,
    started: Instant,
) {
    let mut next_id: u64 = 1;
    while !*stop.borrow() {
        let (host, port) = match &target {
            WriteTarget::Address(h, p) => (h.clone(), *p),
            WriteTarget::PortFile(f) => match std::fs::read_to_string(f)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                Some(p) => ("127.0.0.1".to_string(), p),
                None => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(host)
            .tcp_port(port)
            .user(Some(APP_USER))
            .pass(Some(APP_PASSWORD))
            .db_name(Some("app"))
            .prefer_socket(false);
        let mut conn =
            tokio::time::timeout(Duration::from_millis(500), mysql_async::Conn::new(opts)).await;
        let server_id = match conn {
            Ok(Ok(ref mut c)) => tokio::time::timeout(
                Duration::from_millis(2000),
                c.query_first::<u32, _>("SELECT @@server_id"),
            )
            .await
            .ok()
            .and_then(|r| r.ok())
            .flatten(),
            _ => None,
        };
        let (Ok(Ok(mut conn)), Some(server_id)) = (conn, server_id) else {
            {
                let mut w = writes.lock().unwrap();
                w.errors += 1;
                w.error_times.push(started.elapsed());
            }
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
                    w.ack_servers.push(server_id);
                    next_id += 1;
                }
                _ => {
                    // Unknown outcome: never reuse the id.
                    next_id += 1;
                    {
                        let mut w = writes.lock().unwrap();
                        w.errors += 1;
                        w.error_times.push(started.elapsed());
                    }
                    break;
                }
            }
        }
    }
}

//! The independent checker of a chaos run: one task per node reads
//! `@@read_only` every few milliseconds over its own connection (a node
//! that hangs slows only its own samples), and afterwards the samples are
//! swept for moments when two nodes were writable at once. It reaches each
//! node the way a client does — over TCP, through the same network faults
//! — so a black-holed old master that no client can reach is not counted as
//! a writer, while one the network gives back before it is fenced is.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;

use crate::cluster::{APP_PASSWORD, APP_USER};
use crate::TestCluster;

/// Each node's samples: (when, Some(writable) or None when unreadable).
type Samples = Vec<(Duration, Option<bool>)>;

pub struct Checker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<(String, Samples)>>>,
}

/// A node the checker reads: its name, and the address and port a client
/// reaches it at.
pub type Target = (String, String, u16);

/// What the checker saw.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub samples: usize,
    /// Separate spans of time in which two or more nodes were writable.
    pub two_writer_moments: usize,
    /// Their total length.
    pub two_writer_ms: f64,
    /// The nodes writable together the first time.
    pub first_two: Vec<String>,
    /// The nodes writable in each node's last sample.
    pub writable_at_end: Vec<String>,
}

impl Checker {
    /// Checks every node of `cluster`, on 127.0.0.1 and its port, or the
    /// port `via` names for it (a proxy the clients go through).
    pub fn start(cluster: &TestCluster, via: &[(&str, u16)]) -> Self {
        let targets = cluster
            .servers
            .iter()
            .map(|s| {
                let port = via
                    .iter()
                    .find(|(n, _)| *n == s.name)
                    .map_or(s.port, |(_, p)| *p);
                (s.name.clone(), "127.0.0.1".to_string(), port)
            })
            .collect();
        Self::start_in(targets, None)
    }

    /// Checks `targets` from inside network namespace `netns` (if any), on
    /// a thread of its own (setns(2) applies to one thread).
    pub fn start_in(targets: Vec<Target>, netns: Option<String>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            if let Some(ns) = netns {
                let file = std::fs::File::open(format!("/run/netns/{ns}"))
                    .expect("the checker's namespace");
                nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the checker's runtime");
            rt.block_on(sample_all(targets, flag))
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    pub async fn stop(mut self) -> Checked {
        self.stop.store(true, Ordering::Relaxed);
        let nodes = match self.thread.take() {
            Some(t) => tokio::task::spawn_blocking(move || t.join().unwrap_or_default())
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        };
        sweep(&nodes)
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One task per node, each over its own connection (a node that hangs
/// slows only its own samples), until `stop`.
async fn sample_all(targets: Vec<Target>, stop: Arc<AtomicBool>) -> Vec<(String, Samples)> {
    let started = Instant::now();
    let tasks: Vec<_> = targets
        .into_iter()
        .map(|(name, host, port)| {
            let flag = stop.clone();
            let task = tokio::spawn(async move {
                let mut conn = None;
                let mut samples = Vec::new();
                while !flag.load(Ordering::Relaxed) {
                    let v = read_only(&mut conn, &host, port).await.map(|ro| !ro);
                    samples.push((started.elapsed(), v));
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
                samples
            });
            (name, task)
        })
        .collect();
    let mut nodes = Vec::new();
    for (name, task) in tasks {
        nodes.push((name, task.await.unwrap_or_default()));
    }
    nodes
}

/// A node counts as writable from a sample that read it writable until its
/// next sample, when that one read it writable too (a node that stopped
/// answering in between is not counted: nothing could write to it then).
fn spans(samples: &Samples) -> Vec<(Duration, Duration)> {
    samples
        .windows(2)
        .filter(|w| w[0].1 == Some(true) && w[1].1 == Some(true))
        .map(|w| (w[0].0, w[1].0))
        .collect()
}

fn sweep(nodes: &[(String, Samples)]) -> Checked {
    // +1 at a span's start, -1 at its end; sorted, ends before starts.
    let mut edges: Vec<(Duration, i32, usize)> = Vec::new();
    for (i, (_, s)) in nodes.iter().enumerate() {
        for (a, b) in spans(s) {
            edges.push((a, 1, i));
            edges.push((b, -1, i));
        }
    }
    edges.sort_by_key(|&(t, d, _)| (t, d));
    let mut checked = Checked {
        samples: nodes.iter().map(|(_, s)| s.len()).sum(),
        ..Default::default()
    };
    let mut open = vec![0i32; nodes.len()];
    let mut since: Option<Duration> = None;
    for (t, d, i) in edges {
        open[i] += d;
        let writable: Vec<String> = open
            .iter()
            .zip(nodes)
            .filter(|(n, _)| **n > 0)
            .map(|(_, (name, _))| name.clone())
            .collect();
        match (since, writable.len() >= 2) {
            (None, true) => {
                since = Some(t);
                checked.two_writer_moments += 1;
                if checked.first_two.is_empty() {
                    checked.first_two = writable;
                }
            }
            (Some(s), false) => {
                checked.two_writer_ms += (t - s).as_secs_f64() * 1000.0;
                since = None;
            }
            _ => {}
        }
    }
    checked.writable_at_end = nodes
        .iter()
        .filter(|(_, s)| s.last().is_some_and(|x| x.1 == Some(true)))
        .map(|(n, _)| n.clone())
        .collect();
    checked
}

/// `@@read_only` of one node over a kept connection; None when it cannot
/// be read now.
async fn read_only(conn: &mut Option<mysql_async::Conn>, host: &str, port: u16) -> Option<bool> {
    if conn.is_none() {
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(host)
            .tcp_port(port)
            .user(Some(APP_USER))
            .pass(Some(APP_PASSWORD))
            .prefer_socket(false);
        *conn = tokio::time::timeout(Duration::from_millis(200), mysql_async::Conn::new(opts))
            .await
            .ok()?
            .ok();
    }
    let c = conn.as_mut()?;
    let r = tokio::time::timeout(
        Duration::from_millis(300),
        c.query_first::<u8, _>("SELECT @@read_only"),
    )
    .await;
    match r {
        Ok(Ok(Some(v))) => Some(v != 0),
        _ => {
            *conn = None;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn overlapping_writable_spans_are_one_moment_and_a_handover_is_none() {
        let a: Samples = vec![
            (ms(0), Some(true)),
            (ms(10), Some(true)),
            (ms(20), Some(false)),
        ];
        // b becomes writable after a's last writable sample: a handover.
        let b: Samples = vec![
            (ms(0), Some(false)),
            (ms(15), Some(true)),
            (ms(25), Some(true)),
        ];
        let c = sweep(&[("a".into(), a.clone()), ("b".into(), b)]);
        assert_eq!(c.two_writer_moments, 0);
        assert_eq!(c.writable_at_end, ["b"]);
        // b writable from 5 ms: overlaps a's 0-10 span.
        let b: Samples = vec![
            (ms(5), Some(true)),
            (ms(12), Some(true)),
            (ms(30), Some(false)),
        ];
        let c = sweep(&[("a".into(), a), ("b".into(), b)]);
        assert_eq!(c.two_writer_moments, 1);
        assert_eq!(c.first_two, ["a", "b"]);
        assert!((c.two_writer_ms - 5.0).abs() < 0.01, "{c:?}");
    }

    #[test]
    fn an_unreadable_node_is_not_counted_writable() {
        let a: Samples = vec![(ms(0), Some(true)), (ms(10), Some(true))];
        let b: Samples = vec![(ms(0), Some(true)), (ms(5), None), (ms(10), Some(true))];
        assert_eq!(
            sweep(&[("a".into(), a), ("b".into(), b)]).two_writer_moments,
            0
        );
    }
}

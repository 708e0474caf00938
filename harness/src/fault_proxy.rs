//! A small HTTP proxy in front of the AWS emulator that answers chosen EC2
//! actions with `RequestLimitExceeded` (HTTP 503) a given number of times,
//! then lets them through — throttling on demand; or, switched at any
//! time, answers every request 503 or never answers (an API that is down),
//! or refuses only the requests that name one resource.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::netns::Netns;

/// What the proxy does with every request from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Passes requests on (throttling the chosen action, if any).
    None = 0,
    /// Answers every request `503 Service Unavailable`.
    Unavailable = 1,
    /// Reads every request and never answers.
    Drop = 2,
}

pub struct FaultProxy {
    pub port: u16,
    /// How many requests were answered with throttling.
    pub throttled: Arc<AtomicUsize>,
    /// How many requests were refused for naming `refused`'s text.
    pub refusals: Arc<AtomicUsize>,
    fault: Arc<AtomicU8>,
    refused: Arc<Mutex<Option<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The rules a connection follows.
#[derive(Clone)]
struct Rules {
    upstream: u16,
    action: &'static str,
    times: usize,
    count: Arc<AtomicUsize>,
    fault: Arc<AtomicU8>,
    refused: Arc<Mutex<Option<String>>>,
    refusals: Arc<AtomicUsize>,
}

impl FaultProxy {
    /// Throttles the first `times` requests for `action` (e.g. "ReplaceRoute").
    pub async fn start(upstream: u16, action: &'static str, times: usize) -> Self {
        Self::spawn(None, upstream, action, times).expect("the fault proxy starts")
    }

    /// A proxy inside `netns` in front of the emulator's `upstream` port
    /// there, passing everything on until told otherwise (`set`).
    pub fn start_in(netns: &Netns, upstream: u16) -> Result<Self> {
        Self::spawn(Some(netns), upstream, "", 0)
    }

    fn spawn(
        netns: Option<&Netns>,
        upstream: u16,
        action: &'static str,
        times: usize,
    ) -> Result<Self> {
        let rules = Rules {
            upstream,
            action,
            times,
            count: Arc::new(AtomicUsize::new(0)),
            fault: Arc::new(AtomicU8::new(Fault::None as u8)),
            refused: Arc::new(Mutex::new(None)),
            refusals: Arc::new(AtomicUsize::new(0)),
        };
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = rules.clone();
        // A thread of its own (in the namespace, if any) with its own
        // runtime: its sockets live where the emulator does.
        let work = move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let _ = port_tx.send(listener.local_addr().expect("an address").port());
                let accept = async {
                    while let Ok((client, _)) = listener.accept().await {
                        let rules = shared.clone();
                        tokio::spawn(async move {
                            let _ = serve(client, rules).await;
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
        };
        match netns {
            Some(ns) => drop(ns.spawn_inside(work)),
            None => drop(std::thread::spawn(work)),
        }
        let port = port_rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .context("the fault proxy did not start")?;
        Ok(Self {
            port,
            throttled: rules.count,
            refusals: rules.refusals,
            fault: rules.fault,
            refused: rules.refused,
            stop: Some(stop),
        })
    }

    /// From now on, every request meets `fault`.
    pub fn set(&self, fault: Fault) {
        self.fault.store(fault as u8, Ordering::SeqCst);
    }

    /// From now on (until None), every request whose body contains
    /// `text` — a route table's id, say — is answered 503: one resource
    /// that fails while the rest of the API works.
    pub fn refuse_containing(&self, text: Option<String>) {
        *self.refused.lock().expect("not poisoned") = text;
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve(mut client: TcpStream, rules: Rules) -> std::io::Result<()> {
    loop {
        let Some(request) = read_request(&mut client).await? else {
            return Ok(());
        };
        match rules.fault.load(Ordering::SeqCst) {
            f if f == Fault::Unavailable as u8 => {
                answer(&mut client, "503 Service Unavailable", UNAVAILABLE).await?;
                continue;
            }
            f if f == Fault::Drop as u8 => {
                // Never answer; the client gives up on its own deadline.
                std::future::pending::<()>().await;
            }
            _ => {}
        }
        let body = String::from_utf8_lossy(&request);
        let refused = rules.refused.lock().expect("not poisoned").clone();
        if refused.is_some_and(|text| body.contains(&text)) {
            rules.refusals.fetch_add(1, Ordering::SeqCst);
            answer(&mut client, "503 Service Unavailable", UNAVAILABLE).await?;
            continue;
        }
        let chosen =
            !rules.action.is_empty() && body.contains(&format!("Action={}&", rules.action));
        if chosen && rules.count.fetch_add(1, Ordering::SeqCst) < rules.times {
            let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>\
                       <Message>Request limit exceeded.</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>";
            answer(&mut client, "503 Service Unavailable", xml).await?;
            continue;
        }
        if chosen {
            rules.count.fetch_sub(1, Ordering::SeqCst);
        }
        // One upstream connection per request, closed by the upstream.
        let mut up = TcpStream::connect(("127.0.0.1", rules.upstream)).await?;
        up.write_all(&with_connection_close(&request)).await?;
        let mut response = Vec::new();
        up.read_to_end(&mut response).await?;
        client.write_all(&strip_connection_close(&response)).await?;
    }
}

const UNAVAILABLE: &str = "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>\
     <Message>Service unavailable.</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>";

async fn answer(client: &mut TcpStream, status: &str, xml: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
        xml.len()
    );
    client.write_all(head.as_bytes()).await?;
    client.write_all(xml.as_bytes()).await
}

/// One HTTP request (head and Content-Length body), or None at EOF.
pub async fn read_request(s: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(buf))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn with_connection_close(request: &[u8]) -> Vec<u8> {
    let i = find(request, b"\r\n").map(|i| i + 2).unwrap_or(0);
    let mut out = request[..i].to_vec();
    out.extend_from_slice(b"Connection: close\r\n");
    out.extend_from_slice(&request[i..]);
    out
}

/// The client keeps its connection: do not pass the upstream's close on.
fn strip_connection_close(response: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(response);
    text.replace("Connection: close\r\n", "")
        .replace("connection: close\r\n", "")
        .into_bytes()
}

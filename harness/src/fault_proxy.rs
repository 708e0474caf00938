//! A small HTTP proxy in front of the AWS emulator that answers chosen EC2
//! actions with `RequestLimitExceeded` (HTTP 503) a given number of times,
//! then lets them through — throttling on demand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct FaultProxy {
    pub port: u16,
    /// How many requests were answered with throttling.
    pub throttled: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Throttles the first `times` requests for `action` (e.g. "ReplaceRoute").
    pub async fn start(upstream: u16, action: &'static str, times: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let throttled = Arc::new(AtomicUsize::new(0));
        let count = throttled.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let count = count.clone();
                tokio::spawn(async move {
                    let _ = serve(client, upstream, action, times, count).await;
                });
            }
        });
        Self {
            port,
            throttled,
            task,
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut client: TcpStream,
    upstream: u16,
    action: &str,
    times: usize,
    count: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    loop {
        let Some(request) = read_request(&mut client).await? else {
            return Ok(());
        };
        let body = String::from_utf8_lossy(&request);
        if body.contains(&format!("Action={action}&"))
            && count.fetch_add(1, Ordering::SeqCst) < times
        {
            let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>\
                       <Message>Request limit exceeded.</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>";
            let head = format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
                xml.len()
            );
            client.write_all(head.as_bytes()).await?;
            client.write_all(xml.as_bytes()).await?;
            continue;
        }
        if body.contains(&format!("Action={action}&")) {
            count.fetch_sub(1, Ordering::SeqCst);
        }
        // One upstream connection per request, closed by the upstream.
        let mut up = TcpStream::connect(("127.0.0.1", upstream)).await?;
        up.write_all(&with_connection_close(&request)).await?;
        let mut response = Vec::new();
        up.read_to_end(&mut response).await?;
        client.write_all(&strip_connection_close(&response)).await?;
    }
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

//! A TCP proxy the test controls, to cut the manager off from a server
//! while everything else still reaches it. `Blackhole` keeps connections
//! open but forwards nothing (a partition); `Forward` heals it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

pub struct Proxy {
    pub port: u16,
    blackhole: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(to_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let blackhole = Arc::new(AtomicBool::new(false));
        let flag = blackhole.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let flag = flag.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", to_port)).await else {
                        return;
                    };
                    pipe(client, server, flag).await;
                });
            }
        });
        Self {
            port,
            blackhole,
            task,
        }
    }

    /// Stop forwarding anything, on new and existing connections.
    pub fn partition(&self) {
        self.blackhole.store(true, Ordering::SeqCst);
    }

    pub fn heal(&self) {
        self.blackhole.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(client: TcpStream, server: TcpStream, blackhole: Arc<AtomicBool>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let a = copy(&mut cr, &mut sw, blackhole.clone());
    let b = copy(&mut sr, &mut cw, blackhole);
    tokio::select! { _ = a => {}, _ = b => {} }
}

async fn copy(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    blackhole: Arc<AtomicBool>,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Partitioned: swallow the bytes, like a network that drops them.
        while blackhole.load(Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            if !blackhole.load(Ordering::SeqCst) {
                break;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

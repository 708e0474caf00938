//! A stand-in for the EC2 instance metadata service, speaking IMDSv2 as AWS
//! documents it: `PUT /latest/api/token` with a TTL header returns a token
//! (and echoes the TTL); every GET needs that token, else 401. (moto's own
//! metadata endpoint omits the TTL header, which the SDK rightly rejects.)

use std::collections::HashMap;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::fault_proxy::read_request;

const TOKEN: &str = "imds-test-token";

pub struct Imds {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Imds {
    /// Serves `paths` (e.g. "meta-data/instance-id") under /latest/.
    pub async fn start(paths: HashMap<String, String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let paths = paths.clone();
                tokio::spawn(async move {
                    while let Ok(Some(req)) = read_request(&mut s).await {
                        let text = String::from_utf8_lossy(&req).to_string();
                        let response = answer(&text, &paths);
                        if s.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { port, task }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Imds {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(request: &str, paths: &HashMap<String, String>) -> String {
    let first = request.lines().next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let header = |name: &str| {
        request.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let reply = |status: &str, extra: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        )
    };
    if method == "PUT" && path == "/latest/api/token" {
        return match header("x-aws-ec2-metadata-token-ttl-seconds") {
            Some(ttl) => reply(
                "200 OK",
                &format!("x-aws-ec2-metadata-token-ttl-seconds: {ttl}\r\n"),
                TOKEN,
            ),
            None => reply("400 Bad Request", "", ""),
        };
    }
    if header("x-aws-ec2-metadata-token").as_deref() != Some(TOKEN) {
        return reply("401 Unauthorized", "", "");
    }
    match path.strip_prefix("/latest/").and_then(|p| paths.get(p)) {
        Some(body) => reply("200 OK", "Content-Type: text/plain\r\n", body),
        None => reply("404 Not Found", "", ""),
    }
}

//! A client of etcd as `[coordination]` says: its endpoints, TLS, the
//! account, and a deadline on every call.

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};

use crate::config::CoordinationConfig;

pub async fn client(c: &CoordinationConfig) -> Result<Client, String> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(c.timeout)
        .with_timeout(c.timeout)
        // gRPC pings find a member that vanished without closing.
        .with_keep_alive(c.timeout, c.timeout)
        .with_keep_alive_while_idle(true)
        // A member cut off from the others answers nothing stale.
        .with_require_leader(true);
    if let Some(a) = &c.auth {
        options = options.with_user(a.user.clone(), a.password.expose().to_string());
    }
    if let Some(t) = &c.tls {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        let mut tls = TlsOptions::new().ca_certificate(Certificate::from_pem(read(&t.ca_file)?));
        if let (Some(cert), Some(key)) = (&t.cert_file, &t.key_file) {
            tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        options = options.with_tls(tls);
    }
    let connect = Client::connect(&c.endpoints, Some(options));
    match tokio::time::timeout(c.timeout, connect).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(format!(
            "etcd ({}): {}",
            c.endpoints.join(", "),
            super::lease::describe(&e)
        )),
        Err(_) => Err(format!(
            "etcd ({}) did not answer within {} (coordination.timeout)",
            c.endpoints.join(", "),
            humantime::format_duration(c.timeout)
        )),
    }
}

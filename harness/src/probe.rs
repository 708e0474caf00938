//! Probing harness nodes through vipkeeper's own library, as the monitor user.

use std::time::Duration;

use vipkeeper::config::Secret;
use vipkeeper::mysql::{probe, Probe, Target};

use super::cluster::{MONITOR_PASSWORD, MONITOR_USER};
use super::server::Server;

pub fn monitor_target(server: &Server, timeout: Duration) -> Target {
    Target {
        host: server.host.clone(),
        port: server.port,
        user: MONITOR_USER.into(),
        password: Secret::new(MONITOR_PASSWORD),
        connect_timeout: timeout,
        query_timeout: timeout,
        tls: Default::default(),
    }
}

pub async fn probe_server(server: &Server) -> Probe {
    probe(&monitor_target(server, Duration::from_secs(2))).await
}

//! `vipkeeper agent` as a service, against real clusters: what systemd is
//! told (through a NOTIFY_SOCKET this test listens on, as systemd would),
//! the HTTP API before and after a kill -9 failover, the metrics as a
//! Prometheus parser reads them, a reload with a broken and then a changed
//! config, a stuck loop that stops the watchdog, and a clean stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use vipkeeper_harness as support;

use support::agent::Agent;
use support::cluster::free_port;
use support::http::{get, request};
use support::systemd::NotifySocket;
use support::{per_flavor, ClusterSpec, ConfigExtras, Flavor, TestCluster};

const LONG: Duration = Duration::from_secs(40);

per_flavor!(the_service_tells_systemd_and_its_api_follows_a_failover);

struct Running {
    cluster: TestCluster,
    config: PathBuf,
    addr: SocketAddr,
    notify: NotifySocket,
    agent: Agent,
}

async fn start(flavor: Flavor, env: &[(&str, &str)]) -> Running {
    start_with(flavor, env, &[]).await
}

async fn start_with(flavor: Flavor, env: &[(&str, &str)], args: &[&str]) -> Running {
    let cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port().unwrap())
        .parse()
        .unwrap();
    let extras = ConfigExtras {
        cluster_toml: cluster.vip_script_toml().unwrap(),
        agent_toml: format!("listen = \"{addr}\""),
        ..Default::default()
    };
    let config = cluster.write_config_with("main", &extras).unwrap();
    let notify = NotifySocket::listen(&cluster.dir);
    let socket = notify.path.to_str().unwrap().to_string();
    let mut all_env = vec![
        ("NOTIFY_SOCKET", socket.as_str()),
        ("WATCHDOG_USEC", "2000000"),
    ];
    all_env.extend_from_slice(env);
    let agent = Agent::start_with(
        env!("CARGO_BIN_EXE_vipkeeper").as_ref(),
        &config,
        &cluster.dir,
        None,
        "agent",
        args,
        &all_env,
    );
    Running {
        cluster,
        config,
        addr,
        notify,
        agent,
    }
}

/// Polls `path` until it answers `code`; the body then.
fn wait_for_code(addr: SocketAddr, path: &str, code: u16, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut last = (0, String::new());
    while Instant::now() < deadline {
        if let Ok(r) = request(addr, "GET", path) {
            if r.0 == code {
                return r.1;
            }
            last = r;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{path} never answered {code}; last {last:?}");
}

/// The value of the sample `name` whose labels include every `(k, v)`.
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let lines = metrics.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the metrics parse");
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
        .next()
}

async fn the_service_tells_systemd_and_its_api_follows_a_failover(flavor: Flavor) {
    let mut r = start(flavor, &[]).await;
    let addr = r.addr;

    // Ready once the first round is done; the status names the master.
    r.notify.wait_for("READY=1", LONG, |l| l == "READY=1");
    let status = r.notify.wait_for("a STATUS line", LONG, |l| {
        l.starts_with("STATUS=main: healthy")
    });
    assert!(status.contains("db1 is the master"), "{status}");
    r.notify
        .wait_for("WATCHDOG=1", Duration::from_secs(5), |l| l == "WATCHDOG=1");

    // The API before the failover.
    let (code, body) = get(addr, "/health");
    assert_eq!(code, 200, "{body}");
    let (code, body) = get(addr, "/status");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["schema"], 1);
    let main = &v["clusters"][0];
    assert_eq!(main["cluster"], "main", "{v}");
    assert_eq!(main["master"], "db1", "{v}");
    assert_eq!(main["analysis"], "healthy", "{v}");
    assert_eq!(main["nodes"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(get(addr, "/cluster/main/primary?node=db1").0, 200);
    assert_eq!(get(addr, "/cluster/main/primary?node=db2").0, 503);
    assert_eq!(get(addr, "/cluster/main/replica?node=db2").0, 200);
    assert_eq!(get(addr, "/cluster/main/replica?node=db1").0, 503);
    assert_eq!(
        request(addr, "HEAD", "/cluster/main/primary?node=db1")
            .unwrap()
            .0,
        200
    );
    assert_eq!(get(addr, "/cluster/nope/primary?node=db1").0, 404);
    assert_eq!(get(addr, "/cluster/main/primary").0, 400);
    let (code, metrics) = get(addr, "/metrics");
    assert_eq!(code, 200);
    assert_eq!(
        sample(
            &metrics,
            "vipkeeper_analysis",
            &[("cluster", "main"), ("state", "healthy")]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "vipkeeper_node_writable", &[("node", "db1")]),
        Some(1.0)
    );
    assert!(
        metrics.contains("vipkeeper_probe_duration_seconds_bucket{"),
        "{metrics}"
    );

    // kill -9: the primary check flips to the new master.
    r.cluster.node_mut("db1").kill9();
    let deadline = Instant::now() + LONG;
    let new = loop {
        let up: Vec<&str> = ["db2", "db3"]
            .into_iter()
            .filter(|n| get(addr, &format!("/cluster/main/primary?node={n}")).0 == 200)
            .collect();
        if let [n] = up[..] {
            break n.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no new primary:\n{}",
            r.agent.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(get(addr, "/cluster/main/primary?node=db1").0, 503);
    let other = if new == "db2" { "db3" } else { "db2" };
    wait_for_code(
        addr,
        &format!("/cluster/main/replica?node={other}"),
        200,
        LONG,
    );
    let (_, metrics) = get(addr, "/metrics");
    assert_eq!(
        sample(
            &metrics,
            "vipkeeper_changes_total",
            &[
                ("cluster", "main"),
                ("kind", "failover"),
                ("outcome", "success")
            ]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        metrics.contains("vipkeeper_step_duration_seconds_bucket{"),
        "{metrics}"
    );
    let (_, body) = get(addr, "/status");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["clusters"][0]["last_failover"]["new_master"],
        new.as_str(),
        "{v}"
    );

    // A reload with a broken config keeps the running one and says why.
    let good = std::fs::read_to_string(&r.config).unwrap();
    std::fs::write(
        &r.config,
        good.replace("[[cluster]]", "[[cluster]]\nbogus_key = 1"),
    )
    .unwrap();
    r.agent.signal(Signal::SIGHUP);
    r.agent.wait_for_log("reload refused", LONG);
    assert!(
        r.agent.log_text().contains("bogus_key"),
        "{}",
        r.agent.log_text()
    );
    assert!(r.notify.count("RELOADING=1") >= 1);
    assert_eq!(get(addr, "/health").0, 200);
    assert_eq!(
        get(addr, &format!("/cluster/main/primary?node={new}")).0,
        200
    );

    // A valid change is applied: the loop restarts on the new config.
    std::fs::write(
        &r.config,
        good.replace(
            "[[cluster]]\nname = \"main\"",
            "[[cluster]]\nname = \"main\"\n\n[cluster.failover]\nblock_period = \"2h\"",
        ),
    )
    .unwrap();
    r.agent.signal(Signal::SIGHUP);
    r.agent
        .wait_for_log("restarting the loop with the new configuration", LONG);
    wait_for_code(
        addr,
        &format!("/cluster/main/primary?node={new}"),
        200,
        LONG,
    );

    // SIGTERM: STOPPING, exit 0.
    r.agent.signal(Signal::SIGTERM);
    let code = r.agent.wait_exit(LONG);
    assert_eq!(code, Some(0), "{}", r.agent.log_text());
    assert!(r.notify.count("STOPPING=1") >= 1);
}

/// A loop that stops ticking (a fault injected for this test) stops the
/// watchdog pings and turns /health to 503, naming the cluster; the rest of
/// the process keeps answering.
#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_loop_stops_the_watchdog_and_fails_health() {
    if !support::require(Flavor::Mariadb) {
        return;
    }
    let r = start_with(
        Flavor::Mariadb,
        &[("VIPKEEPER_TEST_FREEZE_AFTER_ROUNDS", "3")],
        &["--log-format", "json"],
    )
    .await;
    r.notify.wait_for("READY=1", LONG, |l| l == "READY=1");
    r.notify
        .wait_for("WATCHDOG=1", Duration::from_secs(5), |l| l == "WATCHDOG=1");
    let body = wait_for_code(r.addr, "/health", 503, LONG);
    assert!(body.contains("\"main\""), "{body}");
    r.agent.wait_for_log("the watchdog is no longer fed", LONG);
    // No ping once the loop is stale: none for a full watchdog period.
    let last = r.notify.last("WATCHDOG=1").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        r.notify.last("WATCHDOG=1"),
        Some(last),
        "pinged while stuck"
    );
    assert_eq!(get(r.addr, "/status").0, 200);
    // --log-format json: every line an object with its message.
    let log = r.agent.log_text();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|v| v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("watchdog"))),
        "{log}"
    );
}

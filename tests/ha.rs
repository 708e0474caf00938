//! Several vipkeeper managers coordinated through a real etcd (three
//! members on loopback, Debian's etcd-server) over one real cluster: one
//! leads and acts, the others watch; the leader killed, another leads once
//! its lease is gone, and nothing is failed over on the way.

use vipkeeper_harness as support;

use std::time::{Duration, Instant};

use support::agent::Agent;
use support::etcd::Etcd;
use support::{per_flavor, ClusterSpec, ConfigExtras, Flavor, TestCluster};

per_flavor!(the_leading_manager_killed_another_leads_and_nothing_fails_over,);

const LONG: Duration = Duration::from_secs(40);
const LEASE_TTL: Duration = Duration::from_secs(3);

struct Manager {
    name: String,
    port: u16,
    agent: Agent,
}

impl Manager {
    /// `/leader` answers 200 (not before the API is up).
    fn leads(&self) -> bool {
        support::http::request(([127, 0, 0, 1], self.port).into(), "GET", "/leader")
            .is_ok_and(|(code, _)| code == 200)
    }

    fn says_it_leads(&self) -> bool {
        self.agent.log_text().contains(&format!(
            "manager {} leads cluster main: it acts",
            self.name
        ))
    }
}

/// Three managers on `config`, each with its own name, state directory
/// and HTTP port, coordinated through `etcd`.
fn start_managers(cluster: &TestCluster, etcd: &Etcd, config: &std::path::Path) -> Vec<Manager> {
    let text = std::fs::read_to_string(config).unwrap();
    let endpoints: Vec<String> = etcd
        .endpoints()
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect();
    let state = format!("state_dir = \"{}\"", cluster.dir.join("state").display());
    assert!(text.contains(&state) && text.contains("listen = \"\"\n"));
    (1..=3)
        .map(|i| {
            let name = format!("m{i}");
            let port = support::cluster::free_port().unwrap();
            let own = text
                .replace(
                    &state,
                    &format!("state_dir = \"{}\"", cluster.dir.join(format!("state-{name}")).display()),
                )
                .replace(
                    "listen = \"\"\n",
                    &format!(
                        "listen = \"127.0.0.1:{port}\"\n\n[coordination]\netcd = [{}]\nname = \"{name}\"\nlease_ttl = \"{}s\"\n",
                        endpoints.join(", "),
                        LEASE_TTL.as_secs()
                    ),
                );
            let path = cluster.dir.join(format!("{name}.toml"));
            std::fs::write(&path, own).unwrap();
            let agent = Agent::start_in(&support::bin(), &path, &cluster.dir, None, &name, &[]);
            Manager { name, port, agent }
        })
        .collect()
}

/// Until exactly one of `managers` says it leads and answers `/leader`
/// with 200, the others 503; returns its index.
fn one_leader(managers: &[&Manager]) -> usize {
    let deadline = Instant::now() + LONG;
    loop {
        let leading: Vec<usize> = (0..managers.len())
            .filter(|&i| managers[i].leads())
            .collect();
        if let [one] = leading[..] {
            if managers[one].says_it_leads() {
                return one;
            }
        }
        assert!(
            Instant::now() < deadline,
            "not exactly one leader: {leading:?}\n{}",
            managers
                .iter()
                .map(|m| format!("--- {}\n{}", m.name, m.agent.log_text()))
                .collect::<String>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn the_leading_manager_killed_another_leads_and_nothing_fails_over(flavor: Flavor) {
    if !support::available_or_skip("the etcd tests", Etcd::available()) {
        return;
    }
    let cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let etcd = Etcd::start(&cluster.dir.join("etcd"), 3).unwrap();
    let config = cluster
        .write_config_with(
            "main",
            &ConfigExtras {
                cluster_toml: "[cluster.timing]\nprobe_interval = \"200ms\"\n".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let mut managers = start_managers(&cluster, &etcd, &config);
    let all: Vec<&Manager> = managers.iter().collect();
    let first = one_leader(&all);
    for (i, m) in managers.iter().enumerate().filter(|(i, _)| *i != first) {
        m.agent.wait_for_log(
            &format!(
                "manager {} leads cluster main: {} watches and acts on nothing",
                managers[first].name, m.name
            ),
            LONG,
        );
        assert!(!managers[i].leads());
    }
    // The leader key names it, bound to its lease.
    let keys = etcd.get_prefix("/vipkeeper/main/leader").unwrap();
    assert_eq!(
        keys,
        [(
            "/vipkeeper/main/leader".to_string(),
            managers[first].name.clone()
        )]
    );

    // kill -9 the leader: another leads once the lease has expired.
    managers[first]
        .agent
        .signal(nix::sys::signal::Signal::SIGKILL);
    let killed = Instant::now();
    let rest: Vec<&Manager> = managers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != first)
        .map(|(_, m)| m)
        .collect();
    let next = one_leader(&rest);
    let took = killed.elapsed();
    eprintln!(
        "{} leads {} ms after the leader was killed",
        rest[next].name,
        took.as_millis()
    );
    // The lease expires at most its TTL after the last renewal; the
    // followers campaign every round (200 ms). Twice the TTL is a bound
    // that only a broken hand-over misses.
    assert!(took < LEASE_TTL * 2, "{} ms", took.as_millis());
    assert_eq!(
        etcd.get_prefix("/vipkeeper/main/leader").unwrap()[0].1,
        rest[next].name
    );

    // Nothing was failed over: db1 is the master, the replicas read-only,
    // no manager wrote a report.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!cluster.read_only("db1").await);
    for replica in ["db2", "db3"] {
        assert!(cluster.read_only(replica).await, "{replica} is writable");
    }
    for m in &managers {
        let reports = cluster.dir.join(format!("state-{}/main/reports", m.name));
        let n = std::fs::read_dir(&reports).map(|d| d.count()).unwrap_or(0);
        assert_eq!(n, 0, "manager {} wrote a report", m.name);
        assert!(
            !m.agent.log_text().contains("failover"),
            "{}",
            m.agent.log_text()
        );
    }
    drop(managers.remove(first));
}

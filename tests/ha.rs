//! Several vipkeeper managers coordinated through a real etcd (three
//! members on loopback, Debian's etcd-server) over one real cluster: one
//! leads and acts, the others watch; the leader killed, another leads once
//! its lease is gone, and nothing is failed over on the way.

use vipkeeper_harness as support;

use std::time::{Duration, Instant};

use support::agent::Agent;
use support::etcd::Etcd;
use support::proxy::Proxy;
use support::writer::Writer;
use support::{per_flavor, ClusterSpec, ConfigExtras, Flavor, TestCluster};

per_flavor!(
    the_leader_killed_another_leads_and_only_it_fails_over_a_dead_master,
    a_leader_cut_off_from_the_master_with_the_replicas_is_outvoted,
    a_leader_cut_off_from_etcd_stops_acting_before_another_leads,
    etcd_without_quorum_stops_every_manager_until_it_returns,
    a_leader_killed_in_the_middle_of_a_failover_is_finished_by_the_next,
    a_failover_in_flight_whose_old_master_returns_is_rolled_back,
    managers_reach_etcd_over_tls_with_a_client_certificate,
    managers_log_in_to_etcd_with_authentication_on,
);

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

/// Manager `m<i>` on `config`, with its own name, state directory and
/// HTTP port, coordinated through `etcd`.
fn start_manager(
    cluster: &TestCluster,
    etcd: &Etcd,
    config: &std::path::Path,
    i: usize,
) -> Manager {
    start_manager_via(cluster, &etcd.endpoints(), config, i)
}

/// The same, reaching etcd at `endpoints` (proxies, say).
fn start_manager_via(
    cluster: &TestCluster,
    endpoints: &[String],
    config: &std::path::Path,
    i: usize,
) -> Manager {
    start_manager_with(cluster, endpoints, config, i, &[], "")
}

/// The same, with `env` added to the manager's environment.
fn start_manager_with(
    cluster: &TestCluster,
    endpoints: &[String],
    config: &std::path::Path,
    i: usize,
    env: &[(&str, &str)],
    coordination_toml: &str,
) -> Manager {
    let name = format!("m{i}");
    let port = support::cluster::free_port().unwrap();
    let coordination = format!(
        "lease_ttl = \"{}s\"\ntimeout = \"500ms\"\n{coordination_toml}",
        LEASE_TTL.as_secs()
    );
    let path =
        support::etcd::manager_config(cluster, config, &name, port, endpoints, &coordination)
            .unwrap();
    let agent = Agent::start_with(&support::bin(), &path, &cluster.dir, None, &name, &[], env);
    Manager { name, port, agent }
}

/// The cluster's config: fast rounds, `ports` overriding where nodes are
/// reached (a proxy).
fn config(cluster: &TestCluster, ports: &[(&str, u16)]) -> std::path::PathBuf {
    config_with(cluster, ports, "")
}

/// The same, with `cluster_toml` added to the cluster's settings.
fn config_with(
    cluster: &TestCluster,
    ports: &[(&str, u16)],
    cluster_toml: &str,
) -> std::path::PathBuf {
    let extras = ConfigExtras {
        cluster_toml: format!("{FAST}{cluster_toml}"),
        ports: ports.iter().map(|(n, p)| (n.to_string(), *p)).collect(),
        ..Default::default()
    };
    let path = cluster.write_config_with("main", &extras).unwrap();
    let own = cluster
        .dir
        .join(format!("main-{}-{}.toml", ports.len(), cluster_toml.len()));
    std::fs::rename(&path, &own).unwrap();
    own
}

/// Fast rounds and timeouts: the managers see a change within a second.
const FAST: &str = "[cluster.timing]\nprobe_interval = \"200ms\"\nconnect_timeout = \"300ms\"\nquery_timeout = \"300ms\"\n";

/// Every manager but the `i`th.
fn all_but(managers: &[Manager], i: usize) -> Vec<&Manager> {
    managers
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, m)| m)
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
        if Instant::now() >= deadline {
            dump_logs(managers);
            panic!("not exactly one leader after {LONG:?}: {leading:?} (the logs are above)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every manager's log on stderr, before a failure's reason (a CI excerpt
/// shows the end).
fn dump_logs(managers: &[&Manager]) {
    for m in managers {
        eprintln!("--- {}\n{}", m.name, m.agent.log_text());
    }
}

/// Waits for one of `managers` — whichever leads by then: leadership may
/// still be settling — to replace db1; which one did.
fn the_one_that_replaced_db1(managers: &[&Manager]) -> usize {
    let deadline = Instant::now() + LONG;
    loop {
        if let Some(i) = managers
            .iter()
            .position(|m| m.agent.log_text().contains("replaced db1"))
        {
            return i;
        }
        if Instant::now() >= deadline {
            dump_logs(managers);
            panic!("no manager replaced db1 in {LONG:?} (the logs are above)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn the_leader_killed_another_leads_and_only_it_fails_over_a_dead_master(flavor: Flavor) {
    if !support::available_or_skip("the etcd tests", Etcd::available()) {
        return;
    }
    let mut cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let etcd = Etcd::start(&cluster.dir.join("etcd"), 3).unwrap();
    let config = config(&cluster, &[]);
    let mut managers: Vec<Manager> = (1..=3)
        .map(|i| start_manager(&cluster, &etcd, &config, i))
        .collect();
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
    // `status` names the leader and each manager's view of the master.
    let leader_config = cluster.dir.join(format!("{}.toml", managers[first].name));
    let deadline = Instant::now() + LONG;
    loop {
        let (_, out) = support::vipkeeper_on(&leader_config, &["status"], &[]);
        let every = (1..=3).all(|i| out.contains(&format!("  m{i}: healthy: db1 is the master (")));
        if out.contains(&format!(
            "managers of cluster main: {} leads",
            managers[first].name
        )) && every
        {
            break;
        }
        assert!(Instant::now() < deadline, "{out}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // kill -9 the leader: another leads once the lease has expired.
    managers[first]
        .agent
        .signal(nix::sys::signal::Signal::SIGKILL);
    let killed = Instant::now();
    let rest = all_but(&managers, first);
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
    let dir = cluster.dir.clone();
    let reports = |m: &Manager| {
        std::fs::read_dir(dir.join(format!("state-{}/main/reports", m.name)))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    for m in &managers {
        assert_eq!(reports(m), 0, "manager {} wrote a report", m.name);
        let log = m.agent.log_text();
        assert!(!log.contains("failover"), "{log}");
    }

    // The master dies: the two live managers both lose it; the leader
    // alone fails over, once, with a second pair of eyes on read_only.
    let (leader, follower) = (rest[next], rest[1 - next]);
    let poller = support::poller::WritablePoller::start(&cluster);
    cluster.node_mut("db1").kill9();
    leader.agent.wait_for_log(
        "the managers confirm that master db1 is dead: 2 of 2 managers cannot reach it",
        LONG,
    );
    leader.agent.wait_for_log("replaced db1", LONG);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let polled = poller.stop().await;
    assert_eq!(polled.two_writer_rounds, 0, "{polled:?}");
    assert_eq!(polled.last_writable.len(), 1, "{polled:?}");
    assert_eq!(reports(leader), 1, "the leader's report");
    assert_eq!(reports(follower), 0, "the follower failed over too");
    assert!(!follower.agent.log_text().contains("replaced db1"));
    drop(managers.remove(first));
}

/// The leader reaches the master through one proxy, the replicas
/// replicate through another; both stop forwarding. The leader and the
/// replicas lose the master, the two other managers still reach it: the
/// leader's own analysis says dead, the managers' majority does not, and
/// nothing is failed over — until the master really dies.
async fn a_leader_cut_off_from_the_master_with_the_replicas_is_outvoted(flavor: Flavor) {
    if !support::available_or_skip("the etcd tests", Etcd::available()) {
        return;
    }
    let mut cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let etcd = Etcd::start(&cluster.dir.join("etcd"), 3).unwrap();
    let db1 = cluster.master().port;
    let (to_leader, to_replicas) = (Proxy::start(db1).await, Proxy::start(db1).await);
    for replica in ["db2", "db3"] {
        cluster
            .attach_via_port(cluster.node(replica), to_replicas.port)
            .await
            .unwrap();
    }
    // m1 first, through the proxy: it leads; then m2 and m3, direct.
    let cut = config(&cluster, &[("db1", to_leader.port)]);
    let direct = config(&cluster, &[]);
    let m1 = start_manager(&cluster, &etcd, &cut, 1);
    assert_eq!(one_leader(&[&m1]), 0);
    let others = [2, 3].map(|i| start_manager(&cluster, &etcd, &direct, i));
    for m in &others {
        m.agent
            .wait_for_log("manager m1 leads cluster main: ", LONG);
    }
    m1.agent.wait_for_log("healthy: db1 is the master", LONG);

    to_leader.partition();
    to_replicas.partition();
    m1.agent.wait_for_log(
        "master db1 is dead to this manager, but the managers do not confirm it: 1 of 3 managers cannot reach it (m1); m2, m3 still do; not failing over",
        LONG,
    );
    // Keep watching: nothing changes hands.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!cluster.read_only("db1").await, "db1 was fenced");
    for replica in ["db2", "db3"] {
        assert!(cluster.read_only(replica).await, "{replica} was promoted");
    }
    for m in [&m1, &others[0], &others[1]] {
        let reports = cluster.dir.join(format!("state-{}/main/reports", m.name));
        let n = std::fs::read_dir(&reports).map(|d| d.count()).unwrap_or(0);
        assert_eq!(n, 0, "manager {} wrote a report", m.name);
        assert!(!m.agent.log_text().contains("replaced db1"));
    }

    // The master killed for real: now every manager loses it, and the
    // leader — still cut off, still leading — fails over, once.
    let poller = support::poller::WritablePoller::start(&cluster);
    cluster.node_mut("db1").kill9();
    m1.agent
        .wait_for_log("the managers confirm that master db1 is dead: ", LONG);
    m1.agent.wait_for_log("replaced db1", LONG);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let polled = poller.stop().await;
    assert_eq!(polled.two_writer_rounds, 0, "{polled:?}");
    assert_eq!(polled.last_writable.len(), 1, "{polled:?}");
    for m in &others {
        assert!(
            !m.agent.log_text().contains("replaced db1"),
            "{} failed over",
            m.name
        );
    }
}

/// When `needle` first appears in `agent`'s log (its timestamp), waiting
/// for it.
fn logged_at(agent: &Agent, needle: &str) -> std::time::SystemTime {
    agent.wait_for_log(needle, LONG);
    let text = agent.log_text();
    let line = text.lines().find(|l| l.contains(needle)).unwrap();
    humantime::parse_rfc3339(line.split_whitespace().next().unwrap()).unwrap()
}

/// The leader reaches etcd only through proxies that stop forwarding: it
/// cannot renew its lease, says so and stops acting — and it stops before
/// another manager, once the lease has expired in etcd, leads.
async fn a_leader_cut_off_from_etcd_stops_acting_before_another_leads(flavor: Flavor) {
    if !support::available_or_skip("the etcd tests", Etcd::available()) {
        return;
    }
    let cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let etcd = Etcd::start(&cluster.dir.join("etcd"), 3).unwrap();
    let mut proxies = Vec::new();
    for m in &etcd.members {
        proxies.push(Proxy::start(m.client_port).await);
    }
    let via: Vec<String> = proxies
        .iter()
        .map(|p| format!("http://127.0.0.1:{}", p.port))
        .collect();
    let config = config(&cluster, &[]);
    let m1 = start_manager_via(&cluster, &via, &config, 1);
    assert_eq!(one_leader(&[&m1]), 0);
    let others = [2, 3].map(|i| start_manager(&cluster, &etcd, &config, i));
    for m in &others {
        m.agent
            .wait_for_log("manager m1 leads cluster main: ", LONG);
    }

    for p in &proxies {
        p.partition();
    }
    let stopped = logged_at(&m1.agent, "manager m1 does not act on cluster main: ");
    let next = one_leader(&[&others[0], &others[1]]);
    let took_over = logged_at(
        &others[next].agent,
        &format!("manager {} leads cluster main: it acts", others[next].name),
    );
    assert!(
        stopped < took_over,
        "m1 stopped acting at {stopped:?}, {} led from {took_over:?}",
        others[next].name
    );
    eprintln!(
        "m1 stopped acting {} ms before {} led",
        took_over.duration_since(stopped).unwrap().as_millis(),
        others[next].name
    );
    assert!(!m1.leads(), "m1 still answers /leader with 200");
    // Nothing was failed over.
    assert!(!cluster.read_only("db1").await);
    for m in [&m1, &others[0], &others[1]] {
        assert!(!m.agent.log_text().contains("replaced db1"));
    }
}

/// Two of etcd's three members killed: no manager can know who leads, so
/// none acts — not even on a master that dies meanwhile — and each says
/// why. The members back, one manager leads again and fails the dead
/// master over, once.
async fn etcd_without_quorum_stops_every_manager_until_it_returns(flavor: Flavor) {
    if !support::available_or_skip("the etcd tests", Etcd::available()) {
        return;
    }
    let mut cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let mut etcd = Etcd::start(&cluster.dir.join("etcd"), 3).unwrap();
    let config = config(&cluster, &[]);
    let managers: Vec<Manager> = (1..=3)
        .map(|i| start_manager(&cluster, &etcd, &config, i))
        .collect();
    let all: Vec<&Manager> = managers.iter().collect();
    one_leader(&all);

    etcd.kill_member(0);
    etcd.kill_member(1);
    for m in &managers {
        m.agent.wait_for_log(
            &format!("manager {} does not act on cluster main: ", m.name),
            LONG,
        );
    }
    cluster.node_mut("db1").kill9();
    tokio::time::sleep(Duration::from_secs(3)).await;
    for replica in ["db2", "db3"] {
        assert!(
            cluster.read_only(replica).await,
            "{replica} was promoted without quorum"
        );
    }
    assert!(managers.iter().all(|m| !m.leads()));

    etcd.start_member(0).unwrap();
    etcd.start_member(1).unwrap();
    etcd.wait_healthy(LONG).unwrap();
    one_leader(&all);
    let leader = the_one_that_replaced_db1(&all);
    let writable: Vec<&str> = {
        let mut w = Vec::new();
        for n in ["db2", "db3"] {
            if !cluster.read_only(n).await {
                w.push(n);
            }
        }
        w
    };
    assert_eq!(writable.len(), 1, "{writable:?}");
    for (i, m) in managers.iter().enumerate().filter(|(i, _)| *i != leader) {
        assert!(
            !m.agent.log_text().contains("replaced db1"),
            "manager {i} failed over too"
        );
    }
}

/// The cluster's change record in etcd.
fn record_in(etcd: &Etcd) -> serde_json::Value {
    let kv = etcd.get_prefix("/vipkeeper/main/failover").unwrap();
    serde_json::from_str(&kv[0].1).unwrap()
}

/// The record once `written` holds of it (`what`: what is waited for,
/// from `by`).
async fn record_when(
    etcd: &Etcd,
    by: &Manager,
    what: &str,
    written: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + LONG;
    loop {
        let record = record_in(etcd);
        if written(&record) {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "{}\n{what} is not in etcd: {record}",
            by.agent.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A failover stopped in the middle: three managers, the leader paused
/// (a test hook) right after it detached the candidate — before the VIP
/// moved and before anything was made writable — with a client writing
/// through the VIP and a poller reading `read_only` everywhere.
struct Paused {
    cluster: TestCluster,
    etcd: Etcd,
    managers: Vec<Manager>,
    first: usize,
    writer: Writer,
    poller: support::poller::WritablePoller,
    /// The failover's record in etcd, as the paused leader left it.
    record: serde_json::Value,
    /// The steps it recorded as done.
    done: Vec<String>,
    candidate: String,
}

impl Paused {
    fn record(&self) -> serde_json::Value {
        record_in(&self.etcd)
    }

    /// The record once `by` has written how the failover ended (its log
    /// says so first: on a busy machine, the write comes later).
    async fn ended(&self, by: &Manager) -> serde_json::Value {
        let what = "the failover's end";
        record_when(&self.etcd, by, what, |r| r.get("outcome").is_some()).await
    }

    /// kill -9 the paused leader; the next one (its index), once it says
    /// it found the failover in flight.
    fn kill_leader(&self) -> usize {
        self.managers[self.first]
            .agent
            .signal(nix::sys::signal::Signal::SIGKILL);
        let rest = all_but(&self.managers, self.first);
        let next = rest[one_leader(&rest)];
        next.agent.wait_for_log(
            &format!(
                "finishing failover {} (db1 -> {}): {} of ",
                self.record["id"].as_str().unwrap(),
                self.candidate,
                self.done.len()
            ),
            LONG,
        );
        self.managers
            .iter()
            .position(|m| m.name == next.name)
            .unwrap()
    }

    /// `next`'s report of the failover: what the first leader did is
    /// there, skipped; returned for the rest.
    fn report_of(&self, next: &Manager) -> serde_json::Value {
        let dir = self
            .cluster
            .dir
            .join(format!("state-{}/main/reports", next.name));
        // Reports are written aside and renamed into place: `.json` only.
        // The report may land a moment after the end is in etcd (a CI run
        // under load looked in between): waited for.
        let find = || -> Option<serde_json::Value> {
            std::fs::read_dir(&dir)
                .ok()?
                .filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
                .find(|r: &serde_json::Value| r["id"] == self.record["id"])
        };
        let deadline = std::time::Instant::now() + LONG;
        let report = loop {
            if let Some(r) = find() {
                break r;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no report of {} in {} after {LONG:?}",
                self.record["id"],
                dir.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let by = format!("done by {}: ", self.managers[self.first].name);
        for (step, then) in report["steps"].as_array().unwrap().iter().zip(&self.done) {
            assert_eq!(step["step"], then.as_str(), "{report}");
            assert_eq!(step["outcome"], "skipped", "{report}");
            assert!(
                step["detail"].as_str().unwrap().starts_with(&by),
                "{report}"
            );
        }
        report
    }
}

async fn pause_a_failover(flavor: Flavor) -> Paused {
    let mut spec = ClusterSpec::new(flavor);
    spec.semi_sync = true;
    let mut cluster = TestCluster::start(spec).await.unwrap();
    cluster.create_writer_table(LONG).await.unwrap();
    let etcd = Etcd::start(&cluster.dir.join("etcd"), 3).unwrap();
    let config = config_with(&cluster, &[], &cluster.vip_script_toml().unwrap());
    let pause = [("VIPKEEPER_TEST_PAUSE_AFTER_STEP", "detach")];
    let managers: Vec<Manager> = (1..=3)
        .map(|i| start_manager_with(&cluster, &etcd.endpoints(), &config, i, &pause, ""))
        .collect();
    let all: Vec<&Manager> = managers.iter().collect();
    let first = one_leader(&all);
    let writer = Writer::start(cluster.vip_target());
    writer.wait_for_more(100, LONG).await;

    let poller = support::poller::WritablePoller::start(&cluster);
    cluster.node_mut("db1").kill9();
    managers[first]
        .agent
        .wait_for_log("test hook: pausing after step detach", LONG);
    let mut paused = Paused {
        cluster,
        etcd,
        managers,
        first,
        writer,
        poller,
        record: serde_json::Value::Null,
        done: Vec::new(),
        candidate: String::new(),
    };
    // In etcd: the failover in flight, its steps up to the detachment.
    let record = paused.record();
    assert_eq!(
        record["manager"],
        paused.managers[first].name.as_str(),
        "{record}"
    );
    assert!(record.get("outcome").is_none(), "{record}");
    paused.done = record["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        paused.done.last().map(String::as_str),
        Some("detach"),
        "{record}"
    );
    paused.candidate = record["plan"]["candidate"].as_str().unwrap().to_string();
    paused.record = record;
    assert!(
        paused.cluster.read_only(&paused.candidate).await,
        "{} is writable",
        paused.candidate
    );
    let db1 = paused.cluster.node("db1").port;
    assert_eq!(vip_port(&paused.cluster), db1, "the VIP moved");
    paused
}

/// The leader killed there: the next leader reads the failover from etcd
/// and finishes it — the same candidate, the steps already done not done
/// again, exactly one promotion, the VIP on the new master, and no write
/// the clients saw acknowledged (semi-sync) missing there.
async fn a_leader_killed_in_the_middle_of_a_failover_is_finished_by_the_next(flavor: Flavor) {
    if !support::available_or_skip("the etcd tests", Etcd::available()) {
        return;
    }
    let p = pause_a_failover(flavor).await;
    let next = &p.managers[p.kill_leader()];
    next.agent.wait_for_log("replaced db1", LONG);
    p.writer.wait_for_more(100, LONG).await;
    let candidate = p.candidate.clone();

    let ended = p.ended(next).await;
    assert_eq!(ended["outcome"]["outcome"], "success", "{ended}");
    assert_eq!(ended["manager"], next.name.as_str(), "{ended}");
    let report = p.report_of(next);
    let promoted = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["step"] == "make-writable" && s["outcome"] == "ok")
        .count();
    assert_eq!(promoted, 1, "{report}");
    for m in all_but(&p.managers, p.first) {
        if m.name != next.name {
            assert!(!m.agent.log_text().contains("replaced db1"));
        }
    }
    let (mut cluster, writes, polled) = (p.cluster, p.writer.stop().await, p.poller.stop().await);
    // One promotion: the candidate alone became writable, never two.
    assert_eq!(polled.two_writer_rounds, 0, "{polled:?}");
    assert_eq!(
        polled.last_writable,
        std::slice::from_ref(&candidate),
        "{polled:?}"
    );
    assert_eq!(vip_port(&cluster), cluster.node(&candidate).port);
    writes.assert_none_lost(cluster.node(&candidate)).await;
    cluster
        .wait_replicated_from(&candidate, LONG)
        .await
        .unwrap();

    // The block period is the record in etcd, and so is `ack`: the new
    // master dies too, and the leader waits for the operator.
    let id = ended["id"].as_str().unwrap();
    cluster.node_mut(&candidate).kill9();
    next.agent.wait_for_log(
        &format!("master {candidate} is dead, but failover {id} (db1 -> {candidate}) happened within the block period"),
        LONG,
    );
    let config = cluster.dir.join(format!("{}.toml", next.name));
    let (code, out) = support::vipkeeper_on(&config, &["ack", "main"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("acknowledged failover {id} of cluster main")),
        "{out}"
    );
    // Acknowledged in etcd, the block is lifted for the leader, which
    // reads it there: the next failover starts (and stops at the test
    // hook, as the first did) and replaces the record.
    next.agent.wait_for_log(
        &format!("failover of cluster main: {candidate} is dead"),
        LONG,
    );
    let old_master = |r: &serde_json::Value| r["plan"]["old_master"] == candidate.as_str();
    record_when(&p.etcd, next, "the next failover", old_master).await;
}

/// The old master back before the next leader takes over (nothing was
/// made writable yet): the failover's premise is gone, and the next
/// leader undoes it — the candidate replicates from db1 again, db1 is the
/// one writable node, the VIP stays on it, nothing the clients wrote is
/// lost.
async fn a_failover_in_flight_whose_old_master_returns_is_rolled_back(flavor: Flavor) {
    if !support::available_or_skip("the etcd tests", Etcd::available()) {
        return;
    }
    let mut p = pause_a_failover(flavor).await;
    p.cluster.node_mut("db1").start().unwrap();
    let next = &p.managers[p.kill_leader()];
    next.agent.wait_for_log("rolling back", LONG);
    let ended = p.ended(next).await;
    assert_eq!(ended["outcome"]["outcome"], "rolled-back", "{ended}");
    let report = p.report_of(next);
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["step"] == "reattach" && s["outcome"] == "ok"),
        "{report}"
    );
    p.writer.wait_for_more(100, LONG).await;
    let (cluster, writes, polled) = (p.cluster, p.writer.stop().await, p.poller.stop().await);
    assert_eq!(polled.two_writer_rounds, 0, "{polled:?}");
    assert_eq!(polled.last_writable, ["db1".to_string()], "{polled:?}");
    assert!(cluster.read_only(&p.candidate).await);
    assert_eq!(vip_port(&cluster), cluster.node("db1").port);
    cluster.wait_replicated_from("db1", LONG).await.unwrap();
    writes.assert_none_lost(cluster.node("db1")).await;
    writes.assert_none_lost(cluster.node(&p.candidate)).await;
}

/// The port the VIP script last pointed clients at.
fn vip_port(cluster: &TestCluster) -> u16 {
    std::fs::read_to_string(cluster.vip_target())
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// etcd that accepts clients over TLS only, with a certificate its CA
/// signed: the manager that shows one leads; the one that trusts the CA
/// but shows no certificate is refused, and says it does not act.
async fn managers_reach_etcd_over_tls_with_a_client_certificate(flavor: Flavor) {
    if !support::available_or_skip("the etcd tests", Etcd::available()) {
        return;
    }
    let cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let tls = support::tls::make(&cluster.dir).unwrap();
    let etcd = Etcd::start_tls(&cluster.dir.join("etcd"), 1, &tls).unwrap();
    let config = config(&cluster, &[]);
    let with_cert = format!(
        "[coordination.tls]\nca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        tls.ca.display(),
        tls.other_cert.display(),
        tls.other_key.display()
    );
    let m1 = start_manager_with(&cluster, &etcd.endpoints(), &config, 1, &[], &with_cert);
    assert_eq!(one_leader(&[&m1]), 0);
    assert_eq!(
        etcd.get_prefix("/vipkeeper/main/leader").unwrap(),
        [("/vipkeeper/main/leader".to_string(), "m1".to_string())]
    );
    let ca_only = format!("[coordination.tls]\nca_file = \"{}\"\n", tls.ca.display());
    let m2 = start_manager_with(&cluster, &etcd.endpoints(), &config, 2, &[], &ca_only);
    m2.agent
        .wait_for_log("manager m2 does not act on cluster main: ", LONG);
    // It says why, in words: etcd refused what it was asked.
    m2.agent
        .wait_for_log("manager m2 does not act on cluster main: etcd", LONG);
    assert!(!m2.agent.log_text().contains("MetadataMap"));
    assert!(!m2.leads());
    assert!(m1.leads());
}

/// etcd with authentication on: the manager with the right password (in
/// a 0600 file) leads; the one with a wrong password says why it does not
/// act, and neither password shows in a log or on a command line.
async fn managers_log_in_to_etcd_with_authentication_on(flavor: Flavor) {
    if !support::available_or_skip("the etcd tests", Etcd::available()) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let cluster = TestCluster::start(ClusterSpec::new(flavor)).await.unwrap();
    let mut etcd = Etcd::start(&cluster.dir.join("etcd"), 1).unwrap();
    let (right, wrong) = ("etcd-R1ght-pw", "etcd-Wr0ng-pw");
    etcd.enable_auth(right).unwrap();
    let config = config(&cluster, &[]);
    let login = |i: usize, password: &str| {
        let file = cluster.dir.join(format!("etcd-{i}.password"));
        std::fs::write(&file, password).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        format!(
            "[coordination.auth]\nuser = \"root\"\npassword_file = \"{}\"\n",
            file.display()
        )
    };
    let m1 = start_manager_with(
        &cluster,
        &etcd.endpoints(),
        &config,
        1,
        &[],
        &login(1, right),
    );
    assert_eq!(one_leader(&[&m1]), 0);
    assert_eq!(
        etcd.get_prefix("/vipkeeper/main/leader").unwrap(),
        [("/vipkeeper/main/leader".to_string(), "m1".to_string())]
    );
    let m2 = start_manager_with(
        &cluster,
        &etcd.endpoints(),
        &config,
        2,
        &[],
        &login(2, wrong),
    );
    m2.agent
        .wait_for_log("manager m2 does not act on cluster main: etcd", LONG);
    assert!(!m2.leads());
    for m in [&m1, &m2] {
        let log = m.agent.log_text();
        assert!(!log.contains(right) && !log.contains(wrong), "{log}");
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", m.agent.pid())).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline);
        assert!(!cmdline.contains(right) && !cmdline.contains(wrong));
    }
}

//! A chaos scenario's cluster: three fresh nodes, salvage configured with a
//! host agent on every node (the dead master's only when its host is to
//! stay alive), the VIP script the client follows, and the manager.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::{Fault, Scenario};
use crate::agent::Agent;
use crate::cluster::free_port;
use crate::fault_proxy::FaultProxy;
use crate::moto::{seed, Moto, SeededVpc};
use crate::proxy::Proxy;
use crate::vpc::{RouteTables, Vpc, VpcHosts, VpcOptions};
use crate::{ClusterSpec, ConfigExtras, TestCluster};

pub const LONG: Duration = Duration::from_secs(40);

/// The VIP the harness's script backend is configured with.
pub const VIP: &str = "10.254.0.10";

/// The EC2 emulator, its route tables, and the throttling proxy in front.
pub struct Aws {
    pub proxy: FaultProxy,
    pub vpc: SeededVpc,
    pub moto: Moto,
}

/// How many of the failover's first route changes the API throttles.
const THROTTLED: usize = 3;

/// The step after which the manager of `Fault::ManagerKilled` pauses
/// (`VIPKEEPER_TEST_PAUSE_AFTER_STEP`) to be killed.
pub const KILLED_AFTER: &str = "detach";

/// Fields drop in order: the agents stop before the servers go.
pub struct Stage {
    pub manager: Agent,
    /// The vipkeeper binary, to start the manager again.
    pub bin: PathBuf,
    /// Held until the stage drops.
    _host_agents: Vec<Agent>,
    pub proxy: Option<Proxy>,
    pub aws: Option<Aws>,
    pub config: PathBuf,
    pub cluster: TestCluster,
    /// The namespaces, when the cluster runs in a VPC in a box: last, as
    /// they go after the servers and agents in them.
    pub vpc: Option<Vpc>,
}

impl Stage {
    pub async fn build(bin: &Path, sc: &Scenario) -> Result<Stage> {
        if sc.fault.in_vpc() {
            return Self::build_in_vpc(bin, sc).await;
        }
        let mut spec = ClusterSpec::new(sc.flavor);
        spec.semi_sync = sc.semi_sync;
        let cluster = TestCluster::start(spec).await?;
        cluster.create_writer_table(LONG).await?;
        let mut extras = ConfigExtras {
            cluster_toml: format!(
                "{}{}",
                cluster.vip_script_toml()?,
                cluster.salvage_toml(TOKEN)?
            ),
            agent_toml: cluster.notify_toml()?,
            ..Default::default()
        };
        if sc.fault == Fault::PreferredBehind {
            extras
                .cluster_toml
                .push_str("\n[cluster.failover]\nprefer = [\"db2\"]\n");
        }
        let aws = match sc.fault {
            Fault::AwsThrottled => Some(aws(&mut extras, THROTTLED).await?),
            f if f.in_aws() => Some(aws(&mut extras, 0).await?),
            _ => None,
        };
        let mut host_ports = Vec::new();
        for (i, node) in ["db1", "db2", "db3"].into_iter().enumerate() {
            let port = free_port()?;
            let mut toml = format!("host_agent = \"127.0.0.1:{port}\"\n");
            if let Some(a) = &aws {
                toml.push_str(&format!("eni_id = \"{}\"\n", a.vpc.enis[i]));
            }
            toml.push_str(&cluster.index_paths_toml(node));
            extras.node_toml.insert(node.into(), toml);
            host_ports.push((node, port));
        }
        let proxy = match sc.fault {
            Fault::BlackHole | Fault::ManagerCutOff => {
                Some(Proxy::start(cluster.master().port).await)
            }
            _ => None,
        };
        match (sc.fault, &proxy) {
            // The replicas and the client reach db1 through it too.
            (Fault::BlackHole, Some(p)) => cluster.master_through(p.port, &mut extras).await?,
            // Only the manager does.
            (_, Some(p)) => {
                extras.ports.insert("db1".into(), p.port);
            }
            _ => {}
        }
        let config = cluster.write_config_with("main", &extras)?;
        let mut host_agents = Vec::new();
        for (node, port) in host_ports {
            if node == "db1" && !sc.host_alive {
                continue;
            }
            let listen = format!("127.0.0.1:{port}");
            let a = Agent::start_with(
                bin,
                &config,
                &cluster.dir,
                None,
                &format!("host-{node}"),
                &["--local-node", node, "--listen", &listen],
                &[],
            );
            wait_log(&a, "the binlog index is", LONG).await?;
            host_agents.push(a);
        }
        let pause = [("VIPKEEPER_TEST_PAUSE_AFTER_STEP", KILLED_AFTER)];
        let env: &[(&str, &str)] = match sc.fault {
            Fault::ManagerKilled => &pause,
            _ => &[],
        };
        let manager = Agent::start_with(bin, &config, &cluster.dir, None, "agent", &[], env);
        wait_log(&manager, "healthy: db1 is the master", LONG).await?;
        Ok(Stage {
            manager,
            bin: bin.to_path_buf(),
            _host_agents: host_agents,
            proxy,
            aws,
            config,
            cluster,
            vpc: None,
        })
    }

    /// The cluster in network namespaces: the manager on the router
    /// (moving the VIP's /32 route there), a host agent on each database
    /// host (the VIP on `lo`, and salvage), the client behind the router.
    async fn build_in_vpc(bin: &Path, sc: &Scenario) -> Result<Stage> {
        let opts = VpcOptions {
            async_replication: !sc.semi_sync,
            salvage_token: Some(TOKEN.into()),
        };
        let VpcHosts {
            hosts,
            cluster,
            config,
            vpc,
        } = VpcHosts::start_with(sc.flavor, bin, "main", RouteTables::Router, &opts).await?;
        for a in &hosts {
            wait_log(a, "the binlog index is", LONG).await?;
        }
        let manager = vpc.start_manager(bin, &config, &cluster.dir, "agent");
        wait_log(&manager, "healthy: db1 is the master", LONG).await?;
        Ok(Stage {
            manager,
            bin: bin.to_path_buf(),
            _host_agents: hosts,
            proxy: None,
            aws: None,
            config,
            cluster,
            vpc: Some(vpc),
        })
    }
}

/// The salvage token of every chaos cluster.
const TOKEN: &str = "chaos-salvage-token-0123456789";

/// The emulator with three route tables routing the VIP to db1's ENI, a
/// proxy that throttles the first `throttled` route changes (and fails
/// what it is told to), and the VIP config that moves the route beside
/// the script the client follows.
async fn aws(extras: &mut ConfigExtras, throttled: usize) -> Result<Aws> {
    let moto = Moto::start()?;
    let vpc = seed(&moto, 3, VIP).await?;
    let proxy = FaultProxy::start(moto.port, "ReplaceRoute", throttled).await;
    let tables: Vec<String> = vpc
        .route_tables
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect();
    extras.cluster_toml = extras.cluster_toml.replace(
        "backends = [\"script\"]",
        "backends = [\"script\", \"aws-route-table\"]",
    );
    extras.cluster_toml.push_str(&format!(
        "\n[cluster.vip.aws-route-table]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\
         deadline = \"15s\"\nroute_tables = [{}]\n",
        proxy.endpoint(),
        tables.join(", ")
    ));
    Ok(Aws { proxy, vpc, moto })
}

/// Waits for `needle` in the agent's log; an error naming it after `timeout`.
pub async fn wait_log(agent: &Agent, needle: &str, timeout: Duration) -> Result<()> {
    if until(timeout, || agent.log_text().contains(needle)).await {
        return Ok(());
    }
    let log = agent.log_text();
    let tail: Vec<&str> = log.lines().rev().take(12).collect();
    bail!(
        "no {needle:?} in the agent's log after {timeout:?}; its last lines:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )
}

/// Polls `ok` every 20 ms until it holds (true) or `timeout` passes.
pub async fn until(timeout: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

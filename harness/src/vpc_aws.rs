//! The VPC's route tables in the moto EC2 emulator instead of the router's
//! own table: the emulator is the control plane vipkeeper talks to (the
//! `aws-route-table` backend), the router namespace is the data plane that
//! carries the packets. A follower thread plays the part of AWS's VPC router:
//! it reads the client subnet's route table from the emulator every few
//! milliseconds and points the router's VIP route at the host whose ENI the
//! table names (or deletes it when the table has none). The emulator runs inside the router namespace, where the
//! manager agent runs too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use vipkeeper::aws::AwsTarget;

use super::moto::{seed_at, vip_targets_at, Moto, SeededVpc};
use super::netns::Netns;
use super::vpc::VIP;

/// One route table per availability zone, as a three-AZ VPC has.
const TABLES: usize = 3;
/// The table of the client's subnet: the one the data plane follows.
const CLIENT_TABLE: usize = 0;
const FOLLOW_EVERY: Duration = Duration::from_millis(5);

pub struct AwsPlane {
    /// First: the follower stops before the emulator does.
    follower: Follower,
    pub moto: Moto,
    pub seeded: SeededVpc,
    router: String,
}

/// When the data plane last changed the VIP's next hop, and to which node.
pub type Switch = (Instant, String);

impl AwsPlane {
    /// Starts the emulator in `router`, seeds a VPC whose route tables send
    /// the VIP to the first host's ENI, and starts the follower. `hosts` are
    /// the database hosts' addresses in the router's network, db1 first.
    pub fn start(router: &Netns, hosts: &[String]) -> Result<Self> {
        let moto = Moto::start_in(Some(router))?;
        let target = moto.target();
        let seeded = router
            .run_inside(move || -> Result<SeededVpc> {
                runtime()?.block_on(seed_at(&target, TABLES, VIP))
            })
            .context("seeding the emulator")??;
        let by_eni: HashMap<String, (String, String)> = seeded
            .enis
            .iter()
            .zip(hosts)
            .enumerate()
            .map(|(i, (eni, ip))| (eni.clone(), (format!("db{}", i + 1), ip.clone())))
            .collect();
        let follower = Follower::start(
            router,
            moto.target(),
            Source::RouteTable {
                table: seeded.route_tables[CLIENT_TABLE].clone(),
                by_eni,
            },
        );
        let plane = Self {
            follower,
            moto,
            seeded,
            router: router.name.clone(),
        };
        plane.follower.wait_first("the emulator's VIP route")?;
        Ok(plane)
    }

    /// The `[cluster.vip]` section: the route tables in the emulator, and
    /// the VIP on the master's loopback.
    pub fn vip_toml(&self) -> String {
        let tables = self
            .seeded
            .route_tables
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "[cluster.vip]\naddress = \"{VIP}\"\nbackends = [\"aws-route-table\", \"local-address\"]\n\n\
             [cluster.vip.aws-route-table]\nroute_tables = [{tables}]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n",
            self.moto.endpoint()
        )
    }

    /// Each node's instance and ENI, as `[[cluster.node]]` lines.
    pub fn node_toml(&self) -> HashMap<String, String> {
        (0..self.seeded.enis.len())
            .map(|i| {
                (
                    format!("db{}", i + 1),
                    format!(
                        "instance_id = \"{}\"\neni_id = \"{}\"\n",
                        self.seeded.instances[i], self.seeded.enis[i]
                    ),
                )
            })
            .collect()
    }

    /// The VIP route's target in every table, read from the emulator.
    pub fn vip_targets(&self) -> Result<Vec<Option<String>>> {
        let target = self.moto.target();
        let tables = self.seeded.route_tables.clone();
        let ns = Netns::existing(&self.router);
        ns.run_inside(move || -> Result<Vec<Option<String>>> {
            runtime()?.block_on(vip_targets_at(&target, &tables, VIP))
        })?
    }

    /// The data plane's last change of the VIP's next hop.
    pub fn last_switch(&self) -> Option<Switch> {
        self.follower.last.lock().unwrap().clone()
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Where a follower reads the VIP's next hop.
pub enum Source {
    /// The VIP route of this route table; ENI -> (node, address).
    RouteTable {
        table: String,
        by_eni: HashMap<String, (String, String)>,
    },
    /// The one target of this target group (an NLB's stand-in); address
    /// -> node.
    TargetGroup {
        arn: String,
        by_ip: HashMap<String, String>,
    },
}

/// What the control plane says now.
#[derive(Clone, PartialEq, Eq)]
enum Hop {
    /// One node: (node, address).
    To(String, String),
    /// No route, no target (or several): no packet goes anywhere.
    Nowhere,
    /// Something that is not one of ours: leave the router as it is.
    Foreign,
}

impl Source {
    async fn read(&self, target: &AwsTarget) -> Result<Hop> {
        Ok(match self {
            Source::RouteTable { table, by_eni } => {
                let targets = vip_targets_at(target, std::slice::from_ref(table), VIP).await?;
                match targets.into_iter().next().flatten() {
                    None => Hop::Nowhere,
                    Some(eni) => match by_eni.get(&eni) {
                        Some((node, ip)) => Hop::To(node.clone(), ip.clone()),
                        None => Hop::Foreign,
                    },
                }
            }
            Source::TargetGroup { arn, by_ip } => {
                match &super::nlb_dns::targets(target, arn).await?[..] {
                    [(ip, _)] => match by_ip.get(ip) {
                        Some(node) => Hop::To(node.clone(), ip.clone()),
                        None => Hop::Foreign,
                    },
                    _ => Hop::Nowhere,
                }
            }
        })
    }
}

pub(crate) struct Follower {
    stop: Arc<AtomicBool>,
    pub(crate) last: Arc<Mutex<Option<Switch>>>,
    thread: Option<std::thread::JoinHandle<Result<Result<()>>>>,
}

impl Follower {
    pub(crate) fn start(router: &Netns, target: AwsTarget, source: Source) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let last = Arc::new(Mutex::new(None));
        let router_name = router.name.clone();
        let (stop2, last2) = (stop.clone(), last.clone());
        let thread = router.spawn_inside(move || -> Result<()> {
            runtime()?.block_on(async move {
                let mut current: Option<Hop> = None;
                while !stop2.load(Ordering::SeqCst) {
                    // A failed read keeps the last route, as a real data plane would.
                    if let Ok(hop) = source.read(&target).await {
                        if Some(&hop) != current.as_ref() {
                            let ns = Netns::existing(&router_name);
                            match &hop {
                                Hop::To(node, ip) => {
                                    ns.ip(&["route", "replace", &format!("{VIP}/32"), "via", ip])?;
                                    *last2.lock().unwrap() = Some((Instant::now(), node.clone()));
                                }
                                Hop::Foreign => {}
                                // (None there already is as good.)
                                Hop::Nowhere => {
                                    let _ = ns.ip(&["route", "del", &format!("{VIP}/32")]);
                                }
                            }
                            current = Some(hop);
                        }
                    }
                    tokio::time::sleep(FOLLOW_EVERY).await;
                }
                Ok(())
            })
        });
        Self {
            stop,
            last,
            thread: Some(thread),
        }
    }
}

impl Follower {
    /// Until the router has taken `what` from the control plane once.
    pub(crate) fn wait_first(&self, what: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.last.lock().unwrap().is_none() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the data plane did not take {what} within 10 s"
            );
            std::thread::sleep(FOLLOW_EVERY);
        }
        Ok(())
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

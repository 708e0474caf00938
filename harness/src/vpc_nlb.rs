//! The VPC's clients reach the master through an NLB instead of a route
//! table: the target group (in the moto emulator) is the control plane the
//! `aws-nlb` backend talks to, with a private Route 53 zone beside it for
//! `aws-route53`; the router namespace plays the NLB's data plane, sending
//! the VIP (the NLB's address, to the client) to the target group's one
//! target, as the route-table follower does for a route table.

use std::collections::HashMap;

use anyhow::{Context, Result};

use super::moto::Moto;
use super::netns::Netns;
use super::nlb_dns::{self, Seeded};
use super::vpc_aws::{runtime, Follower, Source, Switch};

pub struct NlbPlane {
    /// First: the follower stops before the emulator does.
    follower: Follower,
    pub moto: Moto,
    pub seeded: Seeded,
    router: String,
}

impl NlbPlane {
    /// Starts the emulator in `router`, seeds a target group holding the
    /// first host alone (port 3306) and a zone whose record names it, and
    /// starts the follower. `fast_settings`: the target group drains
    /// nothing and ends connections (else AWS's defaults).
    pub fn start(router: &Netns, hosts: &[String], fast_settings: bool) -> Result<Self> {
        let moto = Moto::start_in(Some(router))?;
        let target = moto.target();
        let master = hosts[0].clone();
        let seeded = router
            .run_inside(move || -> Result<Seeded> {
                runtime()?.block_on(nlb_dns::seed(&target, &master, 3306, fast_settings))
            })
            .context("seeding the emulator")??;
        let by_ip: HashMap<String, String> = hosts
            .iter()
            .enumerate()
            .map(|(i, ip)| (ip.clone(), format!("db{}", i + 1)))
            .collect();
        let follower = Follower::start(
            router,
            moto.target(),
            Source::TargetGroup {
                arn: seeded.target_group_arn.clone(),
                by_ip,
            },
        );
        let plane = Self {
            follower,
            moto,
            seeded,
            router: router.name.clone(),
        };
        plane.follower.wait_first("the target group's target")?;
        Ok(plane)
    }

    /// The `[cluster.vip]` section: the target group and the record in the
    /// emulator, and the VIP on the master's loopback (for the stand-in).
    pub fn vip_toml(&self) -> String {
        nlb_dns::vip_toml(
            &self.moto.endpoint(),
            &self.seeded,
            &["aws-nlb", "aws-route53", "local-address"],
        )
    }

    /// The target group's targets, read from the emulator.
    pub fn targets(&self) -> Result<Vec<(String, i32)>> {
        let (target, arn) = (self.moto.target(), self.seeded.target_group_arn.clone());
        Netns::existing(&self.router).run_inside(move || -> Result<Vec<(String, i32)>> {
            runtime()?.block_on(nlb_dns::targets(&target, &arn))
        })?
    }

    /// The writer record's values, read from the emulator.
    pub fn record(&self) -> Result<Vec<String>> {
        let (target, zone) = (self.moto.target(), self.seeded.zone_id.clone());
        Netns::existing(&self.router).run_inside(move || -> Result<Vec<String>> {
            runtime()?.block_on(nlb_dns::record(&target, &zone))
        })?
    }

    /// An Aurora cluster in the same emulator, one instance per host (db1
    /// the writer); returns its `[cluster.aurora]` table.
    pub fn seed_aurora(&self, instances: usize) -> Result<String> {
        let target = self.moto.target();
        Netns::existing(&self.router).run_inside(move || -> Result<()> {
            runtime()?.block_on(super::aurora::seed(&target, instances))
        })??;
        Ok(super::aurora::aurora_toml(&self.moto.endpoint()))
    }

    /// Aurora promotes `to`, as the RDS API sees it.
    pub fn aurora_fail_over(&self, to: &str) -> Result<()> {
        let (target, to) = (self.moto.target(), to.to_string());
        Netns::existing(&self.router).run_inside(move || -> Result<()> {
            runtime()?.block_on(super::aurora::fail_over(&target, &to))
        })?
    }

    /// The values of Aurora's reader record, sorted.
    pub fn readers(&self) -> Result<Vec<String>> {
        let (target, zone) = (self.moto.target(), self.seeded.zone_id.clone());
        Netns::existing(&self.router).run_inside(move || -> Result<Vec<String>> {
            runtime()?.block_on(nlb_dns::record_named(&target, &zone, nlb_dns::READERS))
        })?
    }

    /// The reader record's sets: (set identifier, value), sorted.
    pub fn reader_sets(&self) -> Result<Vec<(Option<String>, String)>> {
        let (target, zone) = (self.moto.target(), self.seeded.zone_id.clone());
        Netns::existing(&self.router).run_inside(
            move || -> Result<Vec<(Option<String>, String)>> {
                runtime()?.block_on(nlb_dns::record_sets(&target, &zone, nlb_dns::READERS))
            },
        )?
    }

    /// Each Aurora instance's endpoint: (instance, address).
    pub fn aurora_endpoints(&self) -> Result<Vec<(String, String)>> {
        let target = self.moto.target();
        Netns::existing(&self.router).run_inside(move || -> Result<Vec<(String, String)>> {
            runtime()?.block_on(super::aurora::endpoints(&target))
        })?
    }

    /// The writer the RDS API names.
    pub fn aurora_writer(&self) -> Result<Option<String>> {
        let target = self.moto.target();
        Netns::existing(&self.router).run_inside(move || -> Result<Option<String>> {
            runtime()?.block_on(super::aurora::writer(&target))
        })?
    }

    /// The data plane's last change of the VIP's next hop.
    pub fn last_switch(&self) -> Option<Switch> {
        self.follower.last.lock().unwrap().clone()
    }
}

//! `make chaos`: a bounded, seeded, randomized run of faults against real
//! clusters, each fault on a fresh 3-node cluster with a manager (`vipkeeper
//! agent`), a host agent on every node, a client writing through the VIP all
//! along and an independent checker reading every node's `read_only` every
//! few milliseconds. What it counts, per fault and in total: acknowledged
//! writes lost, moments with two writable nodes, faults whose expected end
//! never came (hangs), and the time from the fault to the client's first
//! write on the new master. The same seed draws the same faults.

pub mod checker;
mod flows;
mod run;
mod setup;
pub mod tally;

pub use run::run;
pub use tally::{Outcome, Totals};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::Flavor;

/// The default seed of `make chaos`: the figures in docs/RELIABILITY.md.
pub const DEFAULT_SEED: u64 = 20261205;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9` of the master's mysqld.
    Kill,
    /// SIGSTOP of the master's mysqld (its port stays open; nothing answers).
    Stop,
    /// Every connection to the master (manager, replicas, client) passes
    /// through a proxy that stops forwarding: host or network gone.
    BlackHole,
    /// The master's host cut off by the network itself, in a VPC of
    /// network namespaces: its link down and the router keeping a
    /// permanent neighbour entry for it, so every packet to it vanishes (no
    /// RST, no ICMP). The VIP is a /32 route on the router (`linux-route`)
    /// and held on each master's `lo`; the client and the checker sit in
    /// their own namespace behind the router.
    NetBlackHole,
    /// Only the manager's connections to the master are cut: no failover.
    ManagerCutOff,
    /// A replica's IO thread stopped and the master written on, then kill -9.
    LaggingReplica,
    /// The preferred candidate (`prefer = ["db2"]`) behind, then kill -9.
    PreferredBehind,
    /// An errant transaction on a replica, then kill -9.
    ErrantGtid,
    /// kill -9, and the candidate killed in the middle of the failover (at
    /// the VIP step, after it was detached); the operator acks, the manager
    /// fails over to the last node.
    CandidateKilled,
    /// kill -9, and the new master killed too within the block period: no
    /// automatic second failover until the operator acks.
    SecondFailure,
    /// Async only: both replicas' IO threads stopped while the client
    /// writes on, then kill -9: what was written since lives only in the
    /// dead master's binlog.
    HeldBack,
    /// The VIP is also a route in three VPC route tables (the EC2 emulator)
    /// and the EC2 API throttles the failover's first route changes
    /// (`RequestLimitExceeded`, HTTP 503), then kill -9.
    AwsThrottled,
    /// The same route tables, and the EC2 API down (every call answered
    /// 503) from the kill -9 until well past the backend's deadline: the
    /// failover keeps trying, makes nothing writable while the routes
    /// point elsewhere, and ends by itself once the API is back.
    AwsDown,
    /// The same, with the EC2 API unreachable instead: every call read and
    /// never answered, so each attempt ends at its deadline.
    AwsUnreachable,
    /// The same route tables, and one of the three refusing its route
    /// change for a while: the same end.
    RouteTableFails,
    /// kill -9, and the manager killed right after it detached the
    /// candidate (a test hook pauses it there); started again, as systemd
    /// would, it finishes the failover from its record.
    ManagerKilled,
}

impl Fault {
    pub const ALL: [Fault; 16] = [
        Fault::Kill,
        Fault::Stop,
        Fault::BlackHole,
        Fault::NetBlackHole,
        Fault::ManagerCutOff,
        Fault::LaggingReplica,
        Fault::PreferredBehind,
        Fault::ErrantGtid,
        Fault::CandidateKilled,
        Fault::SecondFailure,
        Fault::HeldBack,
        Fault::AwsThrottled,
        Fault::AwsDown,
        Fault::AwsUnreachable,
        Fault::RouteTableFails,
        Fault::ManagerKilled,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Fault::Kill => "kill-9",
            Fault::Stop => "sigstop",
            Fault::BlackHole => "black-hole",
            Fault::NetBlackHole => "black-hole-net",
            Fault::ManagerCutOff => "manager-cut-off",
            Fault::LaggingReplica => "lagging-replica",
            Fault::PreferredBehind => "preferred-behind",
            Fault::ErrantGtid => "errant-gtid",
            Fault::CandidateKilled => "candidate-killed",
            Fault::SecondFailure => "second-failure",
            Fault::HeldBack => "held-back",
            Fault::AwsThrottled => "aws-throttled",
            Fault::AwsDown => "aws-down",
            Fault::AwsUnreachable => "aws-unreachable",
            Fault::RouteTableFails => "route-table-fails",
            Fault::ManagerKilled => "manager-killed",
        }
    }

    /// Whether the manager is expected to replace the master.
    pub fn fails_over(self) -> bool {
        self != Fault::ManagerCutOff
    }

    /// Whether the cluster runs in network namespaces (a VPC in a box).
    pub fn in_vpc(self) -> bool {
        self == Fault::NetBlackHole
    }

    /// Whether the VIP is also a route in the emulated VPC's tables.
    pub fn in_aws(self) -> bool {
        matches!(
            self,
            Fault::AwsThrottled | Fault::AwsDown | Fault::AwsUnreachable | Fault::RouteTableFails
        )
    }
}

/// One fault on one fresh cluster.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    pub index: usize,
    pub fault: Fault,
    pub flavor: Flavor,
    pub semi_sync: bool,
    /// Whether the dead master's host (its host agent) still answers.
    pub host_alive: bool,
    /// The replica a fault concerns (lagging, errant): db2 or db3.
    pub replica: &'static str,
}

impl Scenario {
    pub fn describe(&self) -> String {
        format!(
            "#{} {} {} {}{}{}",
            self.index,
            self.fault.slug(),
            self.flavor.name(),
            if self.semi_sync { "semi-sync" } else { "async" },
            if self.host_alive { "" } else { ", host dead" },
            match self.fault {
                Fault::LaggingReplica | Fault::ErrantGtid => format!(", on {}", self.replica),
                _ => String::new(),
            }
        )
    }
}

/// `n` scenarios drawn from `seed`, over `flavors` in turn.
pub fn draw(seed: u64, n: usize, flavors: &[Flavor]) -> Vec<Scenario> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|index| {
            let fault = Fault::ALL[rng.random_range(0..Fault::ALL.len())];
            let semi_sync = fault != Fault::HeldBack && rng.random_bool(0.5);
            Scenario {
                index: index + 1,
                fault,
                flavor: flavors[index % flavors.len()],
                semi_sync,
                host_alive: host_alive(fault, rng.random_bool(0.6)),
                replica: if rng.random_bool(0.5) { "db2" } else { "db3" },
            }
        })
        .collect()
}

/// Whether the dead master's host still answers: never when the network
/// cut it off.
fn host_alive(fault: Fault, drawn: bool) -> bool {
    drawn && !fault.in_vpc()
}

/// The short run: `n` different faults on `flavor`, drawn from `seed`.
pub fn short(seed: u64, n: usize, flavor: Flavor) -> Vec<Scenario> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut faults = Fault::ALL.to_vec();
    faults.shuffle(&mut rng);
    faults
        .into_iter()
        .take(n)
        .enumerate()
        .map(|(index, fault)| Scenario {
            index: index + 1,
            fault,
            flavor,
            semi_sync: fault != Fault::HeldBack && rng.random_bool(0.5),
            host_alive: host_alive(fault, rng.random_bool(0.6)),
            replica: if rng.random_bool(0.5) { "db2" } else { "db3" },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_faults_and_held_back_is_async() {
        let a = draw(7, 40, &[Flavor::Mariadb, Flavor::Mysql]);
        let b = draw(7, 40, &[Flavor::Mariadb, Flavor::Mysql]);
        assert_eq!(
            a.iter().map(Scenario::describe).collect::<Vec<_>>(),
            b.iter().map(Scenario::describe).collect::<Vec<_>>()
        );
        assert!(a
            .iter()
            .filter(|s| s.fault == Fault::HeldBack)
            .all(|s| !s.semi_sync));
        let s = short(7, 4, Flavor::Mysql);
        let distinct: std::collections::BTreeSet<&str> = s.iter().map(|s| s.fault.slug()).collect();
        assert_eq!(distinct.len(), 4);
        assert_ne!(
            a.iter().map(Scenario::describe).collect::<Vec<_>>(),
            draw(8, 40, &[Flavor::Mariadb, Flavor::Mysql])
                .iter()
                .map(Scenario::describe)
                .collect::<Vec<_>>()
        );
    }
}

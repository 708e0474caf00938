//! End to end in network namespaces: a client writes through the VIP, the
//! router's table (the "VPC route table") points the VIP at the master, each
//! database host holds the VIP on `lo` only while it is master. kill -9 of
//! the master: the client's writes land on the new master through the same
//! address, and the restarted old master gets no VIP traffic and is
//! read-only.

use vipkeeper_harness as support;

use std::time::Duration;

use support::moto::Moto;
use support::netns::Netns;
use support::vpc::{RouteTables, VpcCluster, VIP};
use support::writer::{WriteTarget, Writer};
use support::{per_flavor, Flavor};

per_flavor!(
    writes_through_the_vip_follow_a_crashed_master,
    writes_through_the_vip_follow_a_crashed_master_with_route_tables_in_the_emulator,
    a_switchover_and_back_moves_the_router_route,
    a_switchover_and_back_moves_every_route_table_in_the_emulator,
    writes_through_an_nlb_follow_a_crashed_master_and_the_writer_record_names_it,
    a_switchover_and_back_moves_the_nlb_target_and_the_writer_record,
);

const LONG: Duration = Duration::from_secs(40);

fn lo_holds_vip(ns: &Netns) -> bool {
    ns.ip(&["-4", "addr", "show", "dev", "lo"])
        .unwrap()
        .contains(&format!("{VIP}/32"))
}

async fn writes_through_the_vip_follow_a_crashed_master(flavor: Flavor) {
    follow_a_crashed_master(flavor, RouteTables::Router).await
}

/// The production AWS layout: every VPC route table (in the emulator) is
/// switched to the new master's ENI; the router forwards as the client
/// subnet's table says.
async fn writes_through_the_vip_follow_a_crashed_master_with_route_tables_in_the_emulator(
    flavor: Flavor,
) {
    if support::available_or_skip("the AWS tests", Moto::available()) {
        follow_a_crashed_master(flavor, RouteTables::Emulator).await
    }
}

/// Clients through an NLB (the router plays its data plane and follows the
/// target group in the emulator), and a Route 53 record naming the master:
/// after the failover the group holds the new master alone and the record
/// names it.
async fn writes_through_an_nlb_follow_a_crashed_master_and_the_writer_record_names_it(
    flavor: Flavor,
) {
    if support::available_or_skip("the AWS tests", Moto::available()) {
        follow_a_crashed_master(flavor, RouteTables::Nlb).await
    }
}

async fn a_switchover_and_back_moves_the_nlb_target_and_the_writer_record(flavor: Flavor) {
    if support::available_or_skip("the AWS tests", Moto::available()) {
        switch_over_and_back(flavor, RouteTables::Nlb).await
    }
}

/// With the NLB plane: the target group holds node `i` alone, and the
/// writer record names it.
fn assert_nlb_and_record_at(vpc: &support::vpc::Vpc, i: usize) {
    if let Some(nlb) = &vpc.nlb {
        let ip = &vpc.hosts[i].1;
        assert_eq!(nlb.targets().unwrap(), [(ip.clone(), 3306)]);
        assert_eq!(nlb.record().unwrap(), std::slice::from_ref(ip));
    }
}

async fn follow_a_crashed_master(flavor: Flavor, tables: RouteTables) {
    if !support::available_or_skip("the namespace test", Netns::available()) {
        return;
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_vipkeeper"));
    // Bound in this order so that they drop in reverse: agents, servers, then the namespaces.
    let VpcCluster {
        vpc,
        mut cluster,
        manager,
        hosts,
        ..
    } = VpcCluster::start_with(flavor, bin, "main", tables)
        .await
        .unwrap();
    assert!(lo_holds_vip(&vpc.hosts[0].0));
    assert!(!lo_holds_vip(&vpc.hosts[1].0) && !lo_holds_vip(&vpc.hosts[2].0));

    let writer = Writer::start_to(
        WriteTarget::Address(VIP.into(), 3306),
        Some(vpc.client.name.clone()),
    );
    writer.wait_for_more(100, LONG).await;

    cluster.node_mut("db1").kill9();
    manager.wait_for_log("replaced db1", LONG);
    writer.wait_for_more(100, LONG).await;

    let route = vpc.vip_route();
    let (new_master, i) = if route.contains(&vpc.hosts[1].1) {
        ("db2", 1)
    } else {
        ("db3", 2)
    };
    assert!(
        route.contains(&format!("via {}", vpc.hosts[i].1)),
        "{route}"
    );
    if let Some(aws) = &vpc.aws {
        let eni = &aws.seeded.enis[i];
        let targets = aws.vip_targets().unwrap();
        assert!(
            targets.iter().all(|t| t.as_ref() == Some(eni)),
            "every route table targets {new_master}'s ENI {eni}: {targets:?}"
        );
    }
    assert_nlb_and_record_at(&vpc, i);
    hosts[i].wait_for_log(
        &format!("{new_master} is the master: VIP 10.254.0.10 held on lo"),
        LONG,
    );
    assert!(lo_holds_vip(&vpc.hosts[i].0));
    hosts[0].wait_for_log(
        "db1 is not the master: VIP 10.254.0.10 released from lo",
        LONG,
    );
    assert!(
        !lo_holds_vip(&vpc.hosts[0].0),
        "the dead master's host let the VIP go"
    );

    // The old master comes back: fenced, and no VIP traffic reaches it.
    cluster.node_mut("db1").start().unwrap();
    manager.wait_for_log(
        &format!("db1 was writable beside the master {new_master}: fenced it"),
        LONG,
    );
    let rows_on_old = cluster.row_count("db1").await;
    writer.wait_for_more(100, LONG).await;
    let writes = writer.stop().await;
    assert_eq!(
        cluster.row_count("db1").await,
        rows_on_old,
        "no write reached the old master"
    );
    assert_eq!(
        cluster
            .node("db1")
            .query_value("SELECT @@GLOBAL.read_only AS ro", "ro")
            .await
            .unwrap()
            .as_deref(),
        Some("1")
    );
    assert!(!lo_holds_vip(&vpc.hosts[0].0));

    // Every acknowledged write is on the new master (semi-sync).
    writes.assert_none_lost(cluster.node(new_master)).await;
}

async fn a_switchover_and_back_moves_the_router_route(flavor: Flavor) {
    switch_over_and_back(flavor, RouteTables::Router).await
}

async fn a_switchover_and_back_moves_every_route_table_in_the_emulator(flavor: Flavor) {
    if support::available_or_skip("the AWS tests", Moto::available()) {
        switch_over_and_back(flavor, RouteTables::Emulator).await
    }
}

/// `vipkeeper switchover` run on the router (the manager's host) while the
/// agents run: the client's writes through the VIP move to the new master
/// and back, and nothing is lost.
async fn switch_over_and_back(flavor: Flavor, tables: RouteTables) {
    if !support::available_or_skip("the namespace test", Netns::available()) {
        return;
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_vipkeeper"));
    let VpcCluster {
        vpc,
        cluster,
        manager,
        hosts,
        config,
    } = VpcCluster::start_with(flavor, bin, "main", tables)
        .await
        .unwrap();
    let writer = Writer::start_to(
        WriteTarget::Address(VIP.into(), 3306),
        Some(vpc.client.name.clone()),
    );
    for (from, to, i) in [("db1", "db2", 1), ("db2", "db1", 0)] {
        writer.wait_for_more(100, LONG).await;
        let config = config.to_str().unwrap();
        let out = vpc
            .run_on_router(
                bin,
                &["-c", config, "switchover", "main", "--to", to, "--yes"],
            )
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(&format!("{to} replaced {from}")), "{text}");
        assert_eq!(vpc.vip_node().as_deref(), Some(to), "{}", vpc.vip_route());
        if let Some(aws) = &vpc.aws {
            let eni = &aws.seeded.enis[i];
            let targets = aws.vip_targets().unwrap();
            assert!(
                targets.iter().all(|t| t.as_ref() == Some(eni)),
                "every route table targets {to}'s ENI {eni}: {targets:?}"
            );
        }
        assert_nlb_and_record_at(&vpc, i);
        hosts[i].wait_for_log(
            &format!("{to} is the master: VIP 10.254.0.10 held on lo"),
            LONG,
        );
        hosts[1 - i].wait_for_log(
            &format!("{from} is not the master: VIP 10.254.0.10 released from lo"),
            LONG,
        );
        assert!(!lo_holds_vip(&vpc.hosts[1 - i].0));
        // Only the new master accepts writes: the old one is a read-only replica.
        writer.wait_for_more(100, LONG).await;
    }
    let writes = writer.stop().await;
    writes.assert_none_lost(cluster.node("db1")).await;
    assert!(
        !manager.log_text().contains("failover plan"),
        "the agent did not mistake the switchover for a failure"
    );
}

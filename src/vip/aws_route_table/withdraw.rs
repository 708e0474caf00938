//! Taking the VIP route away from the old master (MHA's `stop`): in every
//! configured table whose route targets the old master's interface, the
//! route is deleted, so that a master wrongly judged dead gets no more
//! clients while the new one is chosen. `point` creates it again.

use std::net::Ipv4Addr;

use futures::future::join_all;

use super::{aws_failed, read_route, resolve_eni, target, Settings};
use crate::aws::ec2;
use crate::config::NodeConfig;
use crate::vip::{Moved, VipError};

pub async fn unroute(vip: Ipv4Addr, s: &Settings, from: &NodeConfig) -> Result<Moved, VipError> {
    if s.route_tables.is_empty() {
        // Discovered tables are found by their VIP route: deleting it would
        // lose them before `start` could switch them.
        return Ok(Moved::NotHere(format!(
            "kept: the route tables are found by their route for {vip}/32, which must stay; \
             list them in route_tables to have the route taken away from {} here",
            from.name
        )));
    }
    let within = async {
        let client = ec2(&target(s)).await;
        let cidr = format!("{vip}/32");
        let eni = resolve_eni(&client, from).await?;
        let results = join_all(s.route_tables.iter().map(|t| {
            let (client, cidr, eni) = (&client, &cidr, &eni);
            async move {
                match read_route(client, t, cidr).await? {
                    Some(now) if now == *eni => client
                        .delete_route()
                        .route_table_id(t)
                        .destination_cidr_block(cidr)
                        .send()
                        .await
                        .map(|_| true)
                        .map_err(|e| aws_failed(&e, format!("DeleteRoute {t}"))),
                    _ => Ok(false),
                }
            }
        }))
        .await;
        let mut deleted = Vec::new();
        let mut failed = Vec::new();
        for (t, r) in s.route_tables.iter().zip(results) {
            match r {
                Ok(true) => deleted.push(t.as_str()),
                Ok(false) => {}
                Err(e) => failed.push((t, e)),
            }
        }
        if let Some((_, first)) = failed.first() {
            let words: Vec<String> = failed.iter().map(|(t, e)| format!("{t}: {e}")).collect();
            return Err(VipError {
                message: format!(
                    "{cidr} -> {eni} ({}) deleted from {} table(s); FAILED: {}",
                    from.name,
                    deleted.len(),
                    words.join("; ")
                ),
                aws_code: first.aws_code.clone(),
            });
        }
        Ok(if deleted.is_empty() {
            Moved::NotHere(format!(
                "no table routes {cidr} to {eni} ({}): nothing to take away",
                from.name
            ))
        } else {
            Moved::Done(format!(
                "{cidr} -> {eni} ({}) deleted from {}",
                from.name,
                deleted.join(", ")
            ))
        })
    };
    crate::vip::within(
        s.deadline,
        "aws-route-table.deadline",
        || "every route table".into(),
        within,
    )
    .await
}

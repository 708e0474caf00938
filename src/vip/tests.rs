//! A backend written in one file: the trait is all the mover and the
//! status code need.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::*;

/// Remembers where it was pointed; fails when told to.
struct NoOp {
    at: Mutex<Option<String>>,
    fail: bool,
}

impl VipBackend for NoOp {
    fn name(&self) -> &'static str {
        "no-op"
    }

    fn describe(&self) -> String {
        "nothing".into()
    }

    fn settle_time(&self) -> Duration {
        Duration::from_millis(30)
    }

    fn status<'a>(&'a self, _: Site<'a>) -> BoxFuture<'a, Vec<Result<Placement, String>>> {
        Box::pin(async move {
            let node = self.at.lock().unwrap().clone();
            vec![Ok(Placement {
                backend: "no-op",
                target: node.clone().unwrap_or_else(|| "nowhere".into()),
                node,
                no_node_is_wrong: false,
            })]
        })
    }

    fn move_to<'a>(
        &'a self,
        _: Site<'a>,
        _: Option<&'a NodeConfig>,
        to: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        Box::pin(async move {
            if self.fail {
                return Err("told to fail".into());
            }
            *self.at.lock().unwrap() = Some(to.name.clone());
            Ok(Moved::Done(format!("now at {}", to.name)))
        })
    }
}

fn noop(fail: bool) -> NoOp {
    NoOp {
        at: Mutex::new(None),
        fail,
    }
}

#[tokio::test]
async fn a_backend_is_moved_and_read_through_the_trait_alone() {
    let nodes = crate::testkit::cluster_config(2, false).nodes;
    let site = Site {
        address: "10.254.0.10".parse().unwrap(),
        nodes: &nodes,
    };
    let b = noop(false);
    let started = Instant::now();
    let moved = move_through(&[&b], site, Some(&nodes[0]), &nodes[1])
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(30),
        "settled first"
    );
    assert_eq!(moved, [("no-op", Moved::Done("now at db2".into()))]);
    let status = status_of(&[&b], site).await;
    assert_eq!(status[0].as_ref().unwrap().node.as_deref(), Some("db2"));
}

#[tokio::test]
async fn the_first_failing_backend_stops_the_move_and_is_named() {
    let nodes = crate::testkit::cluster_config(2, false).nodes;
    let site = Site {
        address: "10.254.0.10".parse().unwrap(),
        nodes: &nodes,
    };
    let (broken, after) = (noop(true), noop(false));
    let e = move_through(&[&broken, &after], site, None, &nodes[1])
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "VIP backend no-op: told to fail");
    assert_eq!(e.backend, "no-op");
    assert!(after.at.lock().unwrap().is_none(), "the next one never ran");
}

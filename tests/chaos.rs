//! The short chaos run of `make test`: three different faults per flavor,
//! drawn from a fixed seed (`make chaos` runs the long one). Every fault must end
//! clean: no acknowledged write lost that could be saved, never two
//! writable nodes, no hang, no wrong action.

use vipkeeper_harness as support;

use support::chaos::{self, Totals};
use support::Flavor;

/// Faults per flavor in the short run (different ones).
const SHORT: usize = 3;

async fn short_run(flavor: Flavor) {
    // One seed per flavor: each flavor meets other faults.
    let seed = chaos::DEFAULT_SEED + u64::from(flavor == Flavor::Mysql);
    let scenarios = chaos::short(seed, SHORT, flavor);
    let mut outcomes = Vec::new();
    for sc in scenarios {
        let o = chaos::run(support::bin(), sc).await;
        eprintln!("{}", o.line());
        outcomes.push(o);
    }
    let totals = Totals::of(&outcomes);
    let lines: Vec<String> = outcomes.iter().map(|o| o.line()).collect();
    assert!(
        totals.clean(),
        "{}\n{}",
        totals.markdown(),
        lines.join("\n")
    );
}

async fn a_short_chaos_run_ends_clean(flavor: Flavor) {
    short_run(flavor).await
}

support::per_flavor!(a_short_chaos_run_ends_clean);

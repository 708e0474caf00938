//! Aurora clusters: Aurora promotes its own writer; vipkeeper notices at
//! once and moves what clients use (an NLB target group, Route 53 records,
//! a script) through the same VIP backends as a failover.
//!
//! `probe` asks every instance "am I the writer?" over SQL, `api` asks the
//! RDS API (the second opinion, and the fallback when SQL is unreachable),
//! `decide` turns both into a decision (pure), `act` carries it out and
//! reports, `episode` journals a change from its first sign to its end. The agent's loop (`agent::aurora`) ties them together.

pub mod act;
pub mod api;
pub mod decide;
pub mod discover;
pub mod episode;
pub mod probe;
pub mod status;
pub mod switch;

pub use decide::{Basis, Decision, Evidence, Follower};

//! `vipkeeper switchover`: a planned handover from a live master. Writes
//! stop on the old master, the candidate applies everything it wrote, the
//! VIP moves, the candidate turns writable and everyone else (the old master
//! included) replicates from it. Until the candidate is writable every step
//! can be undone, and is, on any error or when the write block outlasts
//! `switchover.deadline`.

pub mod preflight;
mod run;

#[cfg(test)]
mod tests;

pub use preflight::{preflight, Check, Facts, OpenTransaction, Preflight};
pub use run::{gather_facts, switch_over};

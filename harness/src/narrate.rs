//! The demos' narration: one line per event, with the wall clock and, for
//! events of the change being shown, the milliseconds since it began.

use std::time::{Instant, SystemTime};

pub fn say(at: Option<Instant>, text: &str) {
    let clock = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let time = &clock[11..23];
    match at {
        Some(t0) => println!("{time}  +{:>5} ms  {text}", t0.elapsed().as_millis()),
        None => println!("{time}             {text}"),
    }
}

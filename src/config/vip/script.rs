//! `script`: a program of the operator's that moves the VIP.

use std::time::Duration;

use serde::Deserialize;

use super::{Backend, BackendConfig, Context, S};
use crate::config::fields::{command, duration};
use crate::config::model::Command;
use crate::config::problem::Problems;
use crate::config::raw::RawCommand;

pub(super) const BACKEND: Backend = Backend {
    name: ScriptConfig::NAME,
    validate,
    table: |v| v.script.as_ref().map(|t| t.span()),
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptConfig {
    pub command: Command,
    pub timeout: Duration,
}

impl ScriptConfig {
    /// Its name in `vip.backends`.
    pub const NAME: &str = "script";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScript {
    pub command: S<RawCommand>,
    pub timeout: Option<S<String>>,
}

fn validate(cx: &Context, p: &mut Problems) -> Option<BackendConfig> {
    let Some(t) = &cx.vip.script else {
        cx.missing(p, "command = \"/usr/local/bin/move-vip\"");
        return None;
    };
    let t = t.get_ref();
    let command = command(&t.command, "vip.script.command", p);
    let timeout = duration(&t.timeout, Duration::from_secs(10), "vip.script.timeout", p);
    Some(BackendConfig::Script(ScriptConfig {
        command: command?,
        timeout: timeout?,
    }))
}

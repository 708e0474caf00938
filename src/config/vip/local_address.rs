//! `local-address`: the VIP held on the master's own interface (`lo`).

use serde::Deserialize;

use super::{Backend, BackendConfig, Context, S};
use crate::config::problem::Problems;

pub(super) const BACKEND: Backend = Backend {
    name: LocalAddressConfig::NAME,
    validate,
    table: |v| v.local_address.as_ref().map(|t| t.span()),
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddressConfig {
    pub interface: String,
}

impl LocalAddressConfig {
    /// Its name in `vip.backends`.
    pub const NAME: &str = "local-address";
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLocalAddress {
    pub interface: Option<S<String>>,
}

fn validate(cx: &Context, _: &mut Problems) -> Option<BackendConfig> {
    let interface = cx
        .vip
        .local_address
        .as_ref()
        .and_then(|t| t.get_ref().interface.as_ref())
        .map(|i| i.get_ref().clone())
        .unwrap_or_else(|| "lo".to_string());
    Some(BackendConfig::LocalAddress(LocalAddressConfig {
        interface,
    }))
}

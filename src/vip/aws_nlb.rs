//! `aws-nlb`: the master as the one healthy target of an NLB target group.
//! Configured and validated today; driven once the Aurora issue lands.

use futures::future::BoxFuture;

use super::{not_built_move, not_built_status, Moved, Placement, Site, VipBackend, VipError};
use crate::config::{AwsNlbConfig, NodeConfig};

impl VipBackend for AwsNlbConfig {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn describe(&self) -> String {
        format!("target group {}", self.target_group_arn)
    }

    fn status<'a>(&'a self, _: Site<'a>) -> BoxFuture<'a, Vec<Result<Placement, String>>> {
        not_built_status(Self::NAME)
    }

    fn move_to<'a>(
        &'a self,
        _: Site<'a>,
        _: Option<&'a NodeConfig>,
        _: &'a NodeConfig,
    ) -> BoxFuture<'a, Result<Moved, VipError>> {
        not_built_move(Self::NAME)
    }
}

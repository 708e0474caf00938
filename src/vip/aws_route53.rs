//! `aws-route53`: a DNS record naming the master. Configured and validated
//! today; driven once the Aurora issue lands.

use futures::future::BoxFuture;

use super::{not_built_move, not_built_status, Moved, Placement, Site, VipBackend, VipError};
use crate::config::{AwsRoute53Config, NodeConfig};

impl VipBackend for AwsRoute53Config {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn describe(&self) -> String {
        format!(
            "record {} in zone {}",
            self.record_name, self.hosted_zone_id
        )
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

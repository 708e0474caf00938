//! `aws-route53`: a DNS record that names the master.

use std::time::Duration;

use serde::Deserialize;

use super::{Backend, BackendConfig, Context, S};
use crate::config::fields::duration;
use crate::config::problem::Problems;

pub(super) const BACKEND: Backend = Backend {
    name: AwsRoute53Config::NAME,
    validate,
    table: |v| v.aws_route53.as_ref().map(|t| t.span()),
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsRoute53Config {
    pub hosted_zone_id: String,
    pub record_name: String,
    /// A (the master's address) or CNAME (its host name).
    pub record_type: RecordType,
    /// Aurora: a record holding every healthy reader (the writer when no
    /// reader is healthy), kept by the agent.
    pub reader_record_name: Option<String>,
    /// How the reader record holds several readers.
    pub reader_routing: ReaderRouting,
    pub ttl: u32,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Every call of one move, retries included.
    pub deadline: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    A,
    Cname,
}

impl RecordType {
    pub fn label(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Cname => "CNAME",
        }
    }
}

/// The reader record's routing policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderRouting {
    /// One record set, a value per reader (resolvers get them all).
    Simple,
    /// A record set per reader (set identifier: the instance), equal
    /// weights: Route 53 answers one at random.
    Weighted,
    /// A record set per reader, multivalue answer: Route 53 answers up to
    /// eight at random.
    Multivalue,
}

impl ReaderRouting {
    pub fn label(self) -> &'static str {
        match self {
            ReaderRouting::Simple => "simple",
            ReaderRouting::Weighted => "weighted",
            ReaderRouting::Multivalue => "multivalue",
        }
    }
}

impl AwsRoute53Config {
    /// Its name in `vip.backends`.
    pub const NAME: &str = "aws-route53";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAwsRoute53 {
    pub hosted_zone_id: S<String>,
    pub record_name: S<String>,
    pub reader_record_name: Option<S<String>>,
    pub reader_routing: Option<S<String>>,
    #[serde(rename = "type")]
    pub record_type: Option<S<String>>,
    pub ttl: Option<S<i64>>,
    pub region: Option<S<String>>,
    pub endpoint_url: Option<S<String>>,
    pub deadline: Option<S<String>>,
}

fn validate(cx: &Context, p: &mut Problems) -> Option<BackendConfig> {
    let Some(t) = &cx.vip.aws_route53 else {
        cx.missing(
            p,
            "hosted_zone_id = \"Z123...\", record_name = \"db.example.internal\"",
        );
        return None;
    };
    let t = t.get_ref();
    let ttl = match &t.ttl {
        None => Some(1),
        Some(ttl) => match u32::try_from(*ttl.get_ref()) {
            Ok(n) if n <= 3600 => Some(n),
            _ => {
                p.error(
                    Some(ttl.span()),
                    format!("ttl {} is out of range", ttl.get_ref()),
                    "use 0-3600 seconds; low is what makes a move quick".to_string(),
                );
                None
            }
        },
    };
    let record_type = match t.record_type.as_ref().map(|r| (r, r.get_ref().as_str())) {
        None | Some((_, "A")) => Some(RecordType::A),
        Some((_, "CNAME")) => Some(RecordType::Cname),
        Some((r, other)) => {
            p.error(
                Some(r.span()),
                format!("vip.aws-route53.type = \"{other}\" is not a record type it writes"),
                "use \"A\" (the master's address) or \"CNAME\" (its host name)".to_string(),
            );
            None
        }
    };
    let reader_routing = match t.reader_routing.as_ref().map(|r| (r, r.get_ref().as_str())) {
        None | Some((_, "simple")) => Some(ReaderRouting::Simple),
        Some((_, "weighted")) => Some(ReaderRouting::Weighted),
        Some((_, "multivalue")) => Some(ReaderRouting::Multivalue),
        Some((r, other)) => {
            p.error(
                Some(r.span()),
                format!("vip.aws-route53.reader_routing = \"{other}\" is not a routing policy it writes"),
                "use \"simple\" (one record set), \"weighted\" or \"multivalue\" (a record set per reader)".to_string(),
            );
            None
        }
    };
    if record_type == Some(RecordType::A) {
        cx.ipv4_hosts(
            p,
            "an A record holds an IPv4 address",
            "give the node's address as its host, or set vip.aws-route53.type = \"CNAME\"",
        );
    }
    let deadline = duration(
        &t.deadline,
        Duration::from_secs(5),
        "vip.aws-route53.deadline",
        p,
    );
    Some(BackendConfig::AwsRoute53(AwsRoute53Config {
        hosted_zone_id: t.hosted_zone_id.get_ref().clone(),
        record_name: t.record_name.get_ref().clone(),
        record_type: record_type?,
        reader_record_name: t.reader_record_name.as_ref().map(|r| r.get_ref().clone()),
        reader_routing: reader_routing?,
        ttl: ttl?,
        region: t.region.as_ref().map(|r| r.get_ref().clone()),
        endpoint_url: t.endpoint_url.as_ref().map(|e| e.get_ref().clone()),
        deadline: deadline?,
    }))
}

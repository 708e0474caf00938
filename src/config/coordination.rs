//! `[coordination]`: several vipkeeper managers (one per AZ) coordinated
//! through etcd. Without it, one manager acts alone, as always.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::fields::duration;
use super::problem::Problems;
use super::raw::RawCredentials;
use super::Credentials;

type S<T> = Spanned<T>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinationConfig {
    /// etcd's client URLs (`http://` or `https://`).
    pub endpoints: Vec<String>,
    /// This manager's name among the others (default: the host name).
    pub name: String,
    /// Keys live under it: `<prefix>/<cluster>/leader`, `.../views/<name>`.
    pub prefix: String,
    /// The lease that holds leadership and views.
    pub lease_ttl: Duration,
    /// Each etcd call.
    pub timeout: Duration,
    pub auth: Option<Credentials>,
    pub tls: Option<EtcdTls>,
}

/// TLS to etcd: the CA that signed its certificates, and a client
/// certificate when etcd asks for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdTls {
    pub ca_file: PathBuf,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCoordination {
    pub etcd: S<Vec<String>>,
    pub name: Option<S<String>>,
    pub prefix: Option<S<String>>,
    pub lease_ttl: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub auth: Option<S<RawCredentials>>,
    pub tls: Option<S<RawEtcdTls>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEtcdTls {
    pub ca_file: S<String>,
    pub cert_file: Option<S<String>>,
    pub key_file: Option<S<String>>,
}

pub fn validate(
    path: &Path,
    raw: &RawCoordination,
    p: &mut Problems,
) -> Option<CoordinationConfig> {
    let mut ok = true;
    let endpoints = raw.etcd.get_ref();
    if endpoints.is_empty() {
        p.error(
            Some(raw.etcd.span()),
            "coordination.etcd lists no endpoint",
            "list etcd's client URLs, e.g. [\"https://10.0.1.5:2379\", \"https://10.0.2.5:2379\", \"https://10.0.3.5:2379\"]"
                .to_string(),
        );
        ok = false;
    }
    for e in endpoints {
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            p.error(
                Some(raw.etcd.span()),
                format!("coordination.etcd `{e}` is not an http:// or https:// URL"),
                "give each member's client URL, e.g. https://10.0.1.5:2379".to_string(),
            );
            ok = false;
        }
    }
    let tls_given = raw.tls.is_some();
    if endpoints.iter().any(|e| e.starts_with("https://")) != tls_given && ok {
        p.error(
            Some(raw.etcd.span()),
            if tls_given {
                "coordination.tls is set but the etcd endpoints are http://"
            } else {
                "the etcd endpoints are https:// but coordination.tls is missing"
            },
            "use https:// endpoints with [coordination.tls] ca_file = \"...\", or http:// without it"
                .to_string(),
        );
        ok = false;
    }
    let name = match &raw.name {
        Some(n) if valid_name(n.get_ref()) => n.get_ref().clone(),
        Some(n) => {
            p.error(
                Some(n.span()),
                format!("coordination.name `{}` is not a manager name", n.get_ref()),
                "use letters, digits, '-', '_' or '.', e.g. the host name".to_string(),
            );
            ok = false;
            String::new()
        }
        None => host_name(),
    };
    let prefix = match &raw.prefix {
        Some(x) if x.get_ref().starts_with('/') && !x.get_ref().ends_with('/') => {
            x.get_ref().clone()
        }
        Some(x) => {
            p.error(
                Some(x.span()),
                format!(
                    "coordination.prefix `{}` must start with '/' and not end with one",
                    x.get_ref()
                ),
                "e.g. /vipkeeper".to_string(),
            );
            ok = false;
            String::new()
        }
        None => "/vipkeeper".into(),
    };
    let lease_ttl = duration(
        &raw.lease_ttl,
        Duration::from_secs(10),
        "coordination.lease_ttl",
        p,
    );
    if let (Some(t), Some(span)) = (lease_ttl, raw.lease_ttl.as_ref().map(|t| t.span())) {
        if t < Duration::from_secs(2) || t.subsec_nanos() != 0 {
            p.error(
                Some(span),
                "coordination.lease_ttl must be whole seconds, at least 2",
                "etcd grants leases in seconds; 10s is the default".to_string(),
            );
            ok = false;
        }
    }
    let timeout = duration(
        &raw.timeout,
        Duration::from_secs(2),
        "coordination.timeout",
        p,
    );
    let auth = match &raw.auth {
        Some(a) => Some(super::users::credentials(path, "coordination.auth", a, p)?),
        None => None,
    };
    let file = |f: &S<String>, key: &str, p: &mut Problems| -> Option<PathBuf> {
        let path = PathBuf::from(f.get_ref());
        if path.is_absolute() {
            Some(path)
        } else {
            p.error(
                Some(f.span()),
                format!(
                    "coordination.tls.{key} `{}` is not an absolute path",
                    f.get_ref()
                ),
                "use an absolute path".to_string(),
            );
            None
        }
    };
    let tls = match &raw.tls {
        None => None,
        Some(t) => {
            let t = t.get_ref();
            let ca_file = file(&t.ca_file, "ca_file", p);
            let cert_file = t.cert_file.as_ref().map(|f| file(f, "cert_file", p));
            let key_file = t.key_file.as_ref().map(|f| file(f, "key_file", p));
            if cert_file.is_some() != key_file.is_some() {
                p.error(
                    raw.tls.as_ref().map(|t| t.span()),
                    "coordination.tls has one of cert_file and key_file without the other",
                    "give both (a client certificate) or neither".to_string(),
                );
                ok = false;
            }
            Some(EtcdTls {
                ca_file: ca_file?,
                cert_file: cert_file.flatten(),
                key_file: key_file.flatten(),
            })
        }
    };
    let config = CoordinationConfig {
        endpoints: endpoints.clone(),
        name,
        prefix,
        lease_ttl: lease_ttl?,
        timeout: timeout?,
        auth,
        tls,
    };
    ok.then_some(config)
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The host name, as this manager's default name.
fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| valid_name(h))
        .unwrap_or_else(|| "manager".into())
}

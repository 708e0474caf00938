//! `[cluster.tls]`: how vipkeeper's connections to the cluster's servers
//! are encrypted and verified (the same modes as the mysql client's
//! `--ssl-mode`), with the CA and an optional client certificate.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::problem::Problems;
use super::raw::RawNode;

type S<T> = Spanned<T>;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// Clear text (the default: set one of the others in production).
    #[default]
    Disabled,
    /// Encrypted when the server offers TLS, clear text otherwise; the
    /// certificate is not checked.
    Preferred,
    /// Encrypted, or no connection; the certificate is not checked.
    Required,
    /// Encrypted, and the server's certificate chains to `ca_file`.
    /// Refused by validation for now: mysql_async 0.37.1 cannot leave the
    /// name unchecked on its rustls path (its issue #404, fixed upstream,
    /// unreleased); `verify-identity` with `server_name` is the way.
    VerifyCa,
    /// As `VerifyCa`, and the certificate names the host connected to.
    VerifyIdentity,
}

impl TlsMode {
    pub fn label(self) -> &'static str {
        match self {
            TlsMode::Disabled => "disabled",
            TlsMode::Preferred => "preferred",
            TlsMode::Required => "required",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyIdentity => "verify-identity",
        }
    }

    const ALL: [TlsMode; 5] = [
        TlsMode::Disabled,
        TlsMode::Preferred,
        TlsMode::Required,
        TlsMode::VerifyCa,
        TlsMode::VerifyIdentity,
    ];
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    pub mode: TlsMode,
    /// PEM: the CA certificates the servers' certificates must chain to.
    pub ca_file: Option<PathBuf>,
    /// PEM: a client certificate chain and its key, for servers that
    /// require one (`REQUIRE X509`).
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// The name every server's certificate must carry, instead of the
    /// node's host (one certificate for all, or hosts given as addresses).
    pub server_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub mode: Option<S<String>>,
    pub ca_file: Option<S<String>>,
    pub cert_file: Option<S<String>>,
    pub key_file: Option<S<String>>,
    pub server_name: Option<S<String>>,
}

pub fn validate(
    raw: Option<&S<RawTls>>,
    nodes: &[S<RawNode>],
    p: &mut Problems,
) -> Option<TlsConfig> {
    let Some(raw) = raw else {
        return Some(TlsConfig::default());
    };
    let t = raw.get_ref();
    let mode = match &t.mode {
        None => TlsMode::VerifyIdentity,
        Some(m) => match TlsMode::ALL.iter().find(|x| x.label() == m.get_ref()) {
            Some(x) => *x,
            None => {
                let all: Vec<&str> = TlsMode::ALL.iter().map(|x| x.label()).collect();
                p.error(
                    Some(m.span()),
                    format!("tls.mode `{}` is not a TLS mode", m.get_ref()),
                    format!("use one of: {}", all.join(", ")),
                );
                return None;
            }
        },
    };
    let mut ok = true;
    let mut file = |f: &Option<S<String>>, key: &str, p: &mut Problems| -> Option<PathBuf> {
        let f = f.as_ref()?;
        let path = PathBuf::from(f.get_ref());
        if let Err(e) = std::fs::File::open(&path) {
            p.error(
                Some(f.span()),
                format!("tls.{key} `{}` cannot be read: {e}", f.get_ref()),
                "give the path of a PEM file vipkeeper's user can read".to_string(),
            );
            ok = false;
        }
        Some(path)
    };
    let ca_file = file(&t.ca_file, "ca_file", p);
    let cert_file = file(&t.cert_file, "cert_file", p);
    let key_file = file(&t.key_file, "key_file", p);
    if cert_file.is_some() != key_file.is_some() {
        p.error(
            Some(raw.span()),
            "tls.cert_file and tls.key_file go together",
            "give both (a client certificate and its key), or neither".to_string(),
        );
        ok = false;
    }
    if matches!(mode, TlsMode::VerifyCa | TlsMode::VerifyIdentity) && ca_file.is_none() {
        p.warning(
            Some(raw.span()),
            format!(
                "tls.mode = \"{}\" without tls.ca_file trusts the public CAs only",
                mode.label()
            ),
            "servers usually have certificates of a private CA: set tls.ca_file to it".to_string(),
        );
    }
    if mode == TlsMode::VerifyCa {
        p.error(
            t.mode.as_ref().map(|m| m.span()),
            "tls.mode = \"verify-ca\" is not available in this build: the MySQL driver (mysql_async 0.37.1) cannot check the chain without also checking the name",
            "use mode = \"verify-identity\" with the host names in the certificates, or with tls.server_name = \"<the name they carry>\"".to_string(),
        );
        ok = false;
    }
    let server_name = t.server_name.as_ref().map(|n| n.get_ref().clone());
    if let (Some(n), false) = (&t.server_name, mode == TlsMode::VerifyIdentity) {
        p.warning(
            Some(n.span()),
            format!(
                "tls.server_name is used only with mode = \"verify-identity\", not \"{}\"",
                mode.label()
            ),
            "remove it, or set mode = \"verify-identity\"".to_string(),
        );
    }
    if mode == TlsMode::VerifyIdentity && server_name.is_none() {
        for n in nodes {
            let host = n.get_ref().host.get_ref();
            if host.parse::<IpAddr>().is_ok() {
                p.error(
                    Some(n.get_ref().host.span()),
                    format!(
                        "node `{}` has the IP address {host} as host, but tls.mode = \"verify-identity\" checks the name in its certificate",
                        n.get_ref().name.get_ref()
                    ),
                    "use the host name the certificate was issued for, or set tls.server_name to the name it carries".to_string(),
                );
                ok = false;
            }
        }
    }
    ok.then_some(TlsConfig {
        mode,
        ca_file,
        cert_file,
        key_file,
        server_name,
    })
}

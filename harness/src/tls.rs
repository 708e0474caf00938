//! A certificate authority of the test's own and server certificates it
//! signs (openssl), for clusters whose servers require TLS.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The files, in the cluster's directory.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    /// The servers' certificate and key: names `localhost` and 127.0.0.1.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Another certificate of the same CA, for `db.example.invalid` only.
    pub other_cert: PathBuf,
    pub other_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .context("running openssl (apt-get install openssl)")?;
    if !out.status.success() {
        bail!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Signs a certificate for `names` (subjectAltName) with the CA in `dir`.
fn sign(dir: &Path, stem: &str, names: &str) -> Result<()> {
    let key = format!("{stem}.key");
    let csr = format!("{stem}.csr");
    let pem = format!("{stem}.pem");
    let ext = format!("{stem}.ext");
    std::fs::write(dir.join(&ext), format!("subjectAltName={names}\n"))?;
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=vipkeeper test server",
        ],
    )?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    )
}

pub fn make(dir: &Path) -> Result<TlsFiles> {
    let dir = dir.join("tls");
    std::fs::create_dir_all(&dir)?;
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=vipkeeper test CA",
        ],
    )?;
    sign(&dir, "server", "DNS:localhost,IP:127.0.0.1")?;
    sign(&dir, "other", "DNS:db.example.invalid")?;
    Ok(TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        other_cert: dir.join("other.pem"),
        other_key: dir.join("other.key"),
    })
}

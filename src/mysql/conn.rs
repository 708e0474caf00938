//! A session with one server where every call has a deadline: mysql_async
//! has no read timeout of its own, so a black-holed or SIGSTOP'd server
//! would otherwise hang the caller forever.

use std::time::Duration;

use mysql_async::prelude::*;

use super::error::{DbError, Phase};
use super::replica_status::Row;
use crate::config::{Secret, TlsConfig, TlsMode};

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    pub connect_timeout: Duration,
    pub query_timeout: Duration,
    pub tls: TlsConfig,
}

/// rustls is built with two cryptography providers (aws-lc-rs, which
/// mysql_async and the AWS SDK use; ring, which etcd's gRPC client brings):
/// with two, rustls cannot choose a process default by itself and a TLS
/// connection made without naming one would panic. aws-lc-rs is named,
/// once; later calls change nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

pub struct Session {
    conn: mysql_async::Conn,
    query_timeout: Duration,
}

impl Session {
    /// Opens a TCP connection (never the Unix socket: mysql_async would
    /// switch to it for loopback addresses unless told not to).
    pub async fn connect(t: &Target) -> Result<Self, DbError> {
        install_crypto_provider();
        let started = std::time::Instant::now();
        match Self::connect_with(t, ssl_opts(&t.tls), t.connect_timeout).await {
            // `preferred`: a server without TLS is talked to in clear text.
            Err(e) if t.tls.mode == TlsMode::Preferred && e.no_tls_offered => {
                let left = t.connect_timeout.saturating_sub(started.elapsed());
                Self::connect_with(t, None, left).await.map_err(|e| e.error)
            }
            r => r.map_err(|e| e.error),
        }
    }

    async fn connect_with(
        t: &Target,
        ssl: Option<mysql_async::SslOpts>,
        within: Duration,
    ) -> Result<Self, ConnectFailed> {
        let opts = mysql_async::OptsBuilder::default()
            .ssl_opts(ssl)
            .ip_or_hostname(t.host.clone())
            .tcp_port(t.port)
            .user(Some(t.user.clone()))
            .pass(Some(t.password.expose().to_string()))
            .prefer_socket(false)
            .tcp_nodelay(true)
            .stmt_cache_size(0)
            .tcp_keepalive(Some(Duration::from_secs(10)));
        let conn = tokio::time::timeout(within, mysql_async::Conn::new(opts))
            .await
            .map_err(|_| ConnectFailed::from(DbError::timeout(Phase::Connect, t.connect_timeout)))?
            .map_err(|e| ConnectFailed {
                no_tls_offered: matches!(
                    e,
                    mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)
                ),
                error: DbError::classify(&e, Phase::Connect),
            })?;
        Ok(Self {
            conn,
            query_timeout: t.query_timeout,
        })
    }

    /// All rows of `sql` as column → text maps.
    pub async fn rows(&mut self, sql: &str) -> Result<Vec<Row>, DbError> {
        let started = std::time::Instant::now();
        let rows: Vec<mysql_async::Row> =
            tokio::time::timeout(self.query_timeout, self.conn.query(sql))
                .await
                .map_err(|_| DbError::timeout(Phase::Query, self.query_timeout))?
                .map_err(|e| with_statement(DbError::classify(&e, Phase::Query), sql))?;
        tracing::trace!("{sql}: {} ms", started.elapsed().as_millis());
        Ok(rows.iter().map(to_row).collect())
    }

    pub async fn first(&mut self, sql: &str) -> Result<Option<Row>, DbError> {
        Ok(self.rows(sql).await?.into_iter().next())
    }

    /// Runs a statement that returns no rows. Its duration is logged at
    /// debug level: an administrative statement that takes long is worth
    /// seeing (STOP REPLICA waiting on a thread, SET GLOBAL on a lock).
    pub async fn exec(&mut self, sql: &str) -> Result<(), DbError> {
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(self.query_timeout, self.conn.query_drop(sql))
            .await
            .map_err(|_| DbError::timeout(Phase::Query, self.query_timeout))?
            .map_err(|e| with_statement(DbError::classify(&e, Phase::Query), sql));
        tracing::debug!("{sql}: {} ms", started.elapsed().as_millis());
        result
    }

    /// Runs a statement that contains a secret: on failure the error names
    /// `label`, never the statement's text.
    pub async fn exec_secret(&mut self, sql: &str, label: &str) -> Result<(), DbError> {
        tokio::time::timeout(self.query_timeout, self.conn.query_drop(sql))
            .await
            .map_err(|_| DbError::timeout(Phase::Query, self.query_timeout))?
            .map_err(|e| {
                let mut e = DbError::classify(&e, Phase::Query);
                e.message = format!("{} [statement: {label}]", e.message);
                e
            })
    }

    /// The server's host:port, for messages.
    pub fn address(&self) -> String {
        let o = self.conn.opts();
        format!("{}:{}", o.ip_or_hostname(), o.tcp_port())
    }

    /// The deadline of each statement.
    pub fn query_timeout(&self) -> Duration {
        self.query_timeout
    }

    /// Changes the deadline of the statements that follow.
    pub fn set_query_timeout(&mut self, timeout: Duration) {
        self.query_timeout = timeout;
    }

    /// Name/value pairs of a `SHOW VARIABLES`-style statement.
    pub async fn variables(&mut self, sql: &str) -> Result<Row, DbError> {
        let rows = self.rows(sql).await?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| {
                let name = r.remove("Variable_name")??;
                Some((name.to_ascii_lowercase(), r.remove("Value").flatten()))
            })
            .collect())
    }

    /// Closes politely, but never waits longer than a query would.
    pub async fn close(self) {
        let _ = tokio::time::timeout(self.query_timeout, self.conn.disconnect()).await;
    }
}

struct ConnectFailed {
    error: DbError,
    /// The server does not offer TLS at all.
    no_tls_offered: bool,
}

impl From<DbError> for ConnectFailed {
    fn from(error: DbError) -> Self {
        Self {
            error,
            no_tls_offered: false,
        }
    }
}

/// The driver's TLS settings for `tls`: none when disabled; encryption
/// without checks for `preferred` and `required`; the chain to `ca_file`
/// for `verify-ca`; the chain and the host name for `verify-identity`.
fn ssl_opts(tls: &TlsConfig) -> Option<mysql_async::SslOpts> {
    let mut o = mysql_async::SslOpts::default();
    match tls.mode {
        TlsMode::Disabled => return None,
        TlsMode::Preferred | TlsMode::Required => {
            o = o
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true);
        }
        TlsMode::VerifyCa => o = o.with_danger_skip_domain_validation(true),
        TlsMode::VerifyIdentity => {
            if let Some(name) = &tls.server_name {
                o = o.with_danger_tls_hostname_override(Some(name.clone()));
            }
        }
    }
    if let Some(ca) = &tls.ca_file {
        o = o.with_root_certs(vec![ca.clone().into()]);
    }
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        o = o.with_client_identity(Some(mysql_async::ClientIdentity::new(
            cert.clone().into(),
            key.clone().into(),
        )));
    }
    Some(o)
}

fn with_statement(mut e: DbError, sql: &str) -> DbError {
    let short: String = sql.chars().take(80).collect();
    e.message = format!("{} [statement: {short}]", e.message);
    e
}

fn to_row(row: &mysql_async::Row) -> Row {
    row.columns_ref()
        .iter()
        .enumerate()
        .map(|(i, col)| {
            let value = match row.as_ref(i) {
                None | Some(mysql_async::Value::NULL) => None,
                Some(mysql_async::Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
                Some(other) => Some(other.as_sql(true)),
            };
            (col.name_str().into_owned(), value)
        })
        .collect()
}

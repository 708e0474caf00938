//! What went wrong talking to a server, classified the way failure
//! detection needs it: a refused connection is proof mysqld is gone from a
//! host that answers; a timeout proves nothing yet; an access-denied or
//! too-many-connections answer proves the server is alive.

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// TCP connection refused: the host answers, nothing listens.
    Refused,
    /// No answer within the deadline (host down, black-holed, or stopped).
    Timeout,
    /// The network says the host cannot be reached.
    Unreachable,
    /// An established connection broke (reset, closed, EOF).
    ConnectionLost,
    /// The server answered: wrong user or password.
    AccessDenied,
    /// The server answered: max_connections reached.
    TooManyConnections,
    /// The server answered: the user lacks a privilege for a statement.
    MissingPrivilege,
    /// Any other error the server returned.
    Server,
    /// TLS failed: the server offers none, its certificate does not check
    /// out, or it requires TLS and was asked without. The server answered.
    Tls,
    /// Anything else (name resolution, protocol).
    Other,
}

impl ErrorKind {
    /// The kind in one word, as metrics and JSON name it.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Refused => "refused",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::ConnectionLost => "connection-lost",
            ErrorKind::AccessDenied => "access-denied",
            ErrorKind::TooManyConnections => "too-many-connections",
            ErrorKind::MissingPrivilege => "missing-privilege",
            ErrorKind::Server => "server",
            ErrorKind::Tls => "tls",
            ErrorKind::Other => "other",
        }
    }

    /// True when the error itself shows that the server process is running.
    pub fn proves_server_alive(self) -> bool {
        matches!(
            self,
            ErrorKind::AccessDenied
                | ErrorKind::TooManyConnections
                | ErrorKind::MissingPrivilege
                | ErrorKind::Server
                | ErrorKind::Tls
        )
    }
}

/// Connecting or querying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Connect,
    Query,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct DbError {
    pub kind: ErrorKind,
    pub phase: Phase,
    /// Server error code, when the server sent one.
    pub code: Option<u16>,
    pub message: String,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Refused => "connection refused",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Unreachable => "host unreachable",
            ErrorKind::ConnectionLost => "connection lost",
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::TooManyConnections => "too many connections",
            ErrorKind::MissingPrivilege => "missing privilege",
            ErrorKind::Server => "server error",
            ErrorKind::Tls => "TLS failed",
            ErrorKind::Other => "error",
        };
        let phase = match self.phase {
            Phase::Connect => "connecting",
            Phase::Query => "querying",
        };
        write!(f, "{what} while {phase}")?;
        if let Some(code) = self.code {
            write!(f, " (error {code})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl DbError {
    pub fn timeout(phase: Phase, after: std::time::Duration) -> Self {
        Self {
            kind: ErrorKind::Timeout,
            phase,
            code: None,
            message: format!("no answer within {}", humantime::format_duration(after)),
        }
    }

    pub fn classify(err: &mysql_async::Error, phase: Phase) -> Self {
        use mysql_async::{DriverError, Error, IoError};
        let (kind, code) = match err {
            Error::Io(IoError::Io(e)) => (io_kind(e), None),
            Error::Io(IoError::Tls(_)) | Error::Driver(DriverError::NoClientSslFlagFromServer) => {
                (ErrorKind::Tls, None)
            }
            Error::Driver(DriverError::ConnectionClosed) => (ErrorKind::ConnectionLost, None),
            Error::Server(s) => (server_kind(s.code), Some(s.code)),
            _ => (ErrorKind::Other, None),
        };
        let message = match err {
            Error::Server(s) => s.message.clone(),
            Error::Io(IoError::Io(e)) => e.to_string(),
            other => other.to_string(),
        };
        Self {
            kind,
            phase,
            code,
            // A server may echo what it was sent, a password included.
            message: crate::config::redact::scrub(&message),
        }
    }
}

fn io_kind(e: &io::Error) -> ErrorKind {
    // The TLS layer reports a refused certificate as an I/O error.
    if e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
    {
        return ErrorKind::Tls;
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::Refused,
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            ErrorKind::Unreachable
        }
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => ErrorKind::ConnectionLost,
        _ => ErrorKind::Other,
    }
}

fn server_kind(code: u16) -> ErrorKind {
    match code {
        // ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR
        1044 | 1045 | 1698 => ErrorKind::AccessDenied,
        // ER_CON_COUNT_ERROR, ER_TOO_MANY_USER_CONNECTIONS
        1040 | 1203 => ErrorKind::TooManyConnections,
        // ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR
        1227 | 1142 => ErrorKind::MissingPrivilege,
        // ER_SECURE_TRANSPORT_REQUIRED (MySQL 3159, MariaDB 4036): the
        // server refuses clear text.
        3159 | 4036 => ErrorKind::Tls,
        _ => ErrorKind::Server,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let refused = mysql_async::Error::Io(mysql_async::IoError::Io(io::Error::from(
            io::ErrorKind::ConnectionRefused,
        )));
        let e = DbError::classify(&refused, Phase::Connect);
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(!e.kind.proves_server_alive());
        let denied = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1045,
            message: "Access denied for user 'x'@'h' (using password: YES)".into(),
            state: "28000".into(),
        });
        let e = DbError::classify(&denied, Phase::Connect);
        assert_eq!(e.kind, ErrorKind::AccessDenied);
        assert!(e.kind.proves_server_alive());
        assert_eq!(
            e.to_string(),
            "access denied while connecting (error 1045): Access denied for user 'x'@'h' (using password: YES)"
        );
        let t = DbError::timeout(Phase::Query, std::time::Duration::from_millis(1500));
        assert_eq!(
            t.to_string(),
            "timed out while querying: no answer within 1s 500ms"
        );
    }
}

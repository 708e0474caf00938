//! Which server we talk to, and which words it understands.
//!
//! * MySQL before 8.0.22: `SHOW SLAVE STATUS`, `CHANGE MASTER TO`, `Master_*` fields.
//! * MySQL 8.0.22 and later (8.4, 9.x): `SHOW REPLICA STATUS`, `CHANGE
//!   REPLICATION SOURCE TO`, `Source_*` fields; 8.4 removed the old words
//!   (`SHOW SLAVE STATUS` is a syntax error), and `SHOW MASTER STATUS` became
//!   `SHOW BINARY LOG STATUS` (8.2+).
//! * MariaDB: `SHOW SLAVE STATUS` with `Master_*` fields, MariaDB GTIDs.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    Mysql,
    Mariadb,
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::Mysql => "mysql",
            Flavor::Mariadb => "mariadb",
        })
    }
}

/// The replication vocabulary a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Syntax {
    /// MySQL < 8.0.22: SLAVE / MASTER.
    MysqlLegacy,
    /// MySQL >= 8.0.22: REPLICA / SOURCE.
    MysqlModern,
    Mariadb,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerVersion {
    pub flavor: Flavor,
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// `@@version` as the server reported it.
    pub text: String,
}

impl ServerVersion {
    /// From `@@version` and `@@version_comment`. MariaDB says so in its
    /// version string (`10.11.6-MariaDB-0+deb12u1-log`); everything else
    /// (Oracle, Percona, Debian builds) is MySQL.
    pub fn parse(version: &str, comment: &str) -> Option<Self> {
        let flavor = if version.to_ascii_lowercase().contains("mariadb")
            || comment.to_ascii_lowercase().contains("mariadb")
        {
            Flavor::Mariadb
        } else {
            Flavor::Mysql
        };
        let numeric = version.split(['-', '+', ' ']).next()?;
        let mut parts = numeric.split('.').map(|p| p.parse::<u32>());
        let major = parts.next()?.ok()?;
        let minor = parts.next().unwrap_or(Ok(0)).ok()?;
        let patch = parts.next().unwrap_or(Ok(0)).ok()?;
        Some(Self {
            flavor,
            major,
            minor,
            patch,
            text: version.to_string(),
        })
    }

    pub fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        (self.major, self.minor, self.patch) >= (major, minor, patch)
    }

    pub fn syntax(&self) -> Syntax {
        match self.flavor {
            Flavor::Mariadb => Syntax::Mariadb,
            Flavor::Mysql if self.at_least(8, 0, 22) => Syntax::MysqlModern,
            Flavor::Mysql => Syntax::MysqlLegacy,
        }
    }

    /// The statement that shows the current binlog file and position.
    pub fn binlog_status_sql(&self) -> &'static str {
        match self.flavor {
            Flavor::Mysql if self.at_least(8, 2, 0) => "SHOW BINARY LOG STATUS",
            _ => "SHOW MASTER STATUS",
        }
    }

    pub fn replica_status_sql(&self) -> &'static str {
        match self.syntax() {
            Syntax::MysqlModern => "SHOW REPLICA STATUS",
            Syntax::MysqlLegacy | Syntax::Mariadb => "SHOW SLAVE STATUS",
        }
    }

    /// The longest replication password `CHANGE REPLICATION SOURCE TO` /
    /// `CHANGE MASTER TO` accepts (measured: MySQL 9.7 refuses 33 characters
    /// with error 3056, MariaDB 10.11 refuses 97 with error 1470).
    pub fn max_replication_password(&self) -> usize {
        match self.flavor {
            Flavor::Mysql => 32,
            Flavor::Mariadb => 96,
        }
    }

    /// Why `password` cannot be used to repoint replicas on this server, if so.
    pub fn replication_password_problem(&self, password: &str) -> Option<String> {
        let len = password.chars().count();
        let max = self.max_replication_password();
        (len > max).then(|| {
            format!(
                "the replication password is {len} characters long; {} accepts at most {max} in CHANGE {} TO, so no replica could be repointed",
                self.label(),
                match self.flavor {
                    Flavor::Mysql => "REPLICATION SOURCE",
                    Flavor::Mariadb => "MASTER",
                }
            )
        })
    }

    /// Short label, e.g. `mysql 9.7.4`.
    pub fn label(&self) -> String {
        format!(
            "{} {}.{}.{}",
            self.flavor, self.major, self.minor, self.patch
        )
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_flavor_and_its_words() {
        let cases = [
            (
                "10.11.6-MariaDB-0+deb12u1-log",
                "Debian 12",
                Flavor::Mariadb,
                Syntax::Mariadb,
                "SHOW MASTER STATUS",
                "SHOW SLAVE STATUS",
            ),
            (
                "9.7.4",
                "(Debian)",
                Flavor::Mysql,
                Syntax::MysqlModern,
                "SHOW BINARY LOG STATUS",
                "SHOW REPLICA STATUS",
            ),
            (
                "8.4.3",
                "MySQL Community Server - GPL",
                Flavor::Mysql,
                Syntax::MysqlModern,
                "SHOW BINARY LOG STATUS",
                "SHOW REPLICA STATUS",
            ),
            (
                "8.0.36-28",
                "Percona Server (GPL), Release 28",
                Flavor::Mysql,
                Syntax::MysqlModern,
                "SHOW MASTER STATUS",
                "SHOW REPLICA STATUS",
            ),
            (
                "8.0.21-log",
                "MySQL Community Server - GPL",
                Flavor::Mysql,
                Syntax::MysqlLegacy,
                "SHOW MASTER STATUS",
                "SHOW SLAVE STATUS",
            ),
            (
                "11.4.2-MariaDB",
                "",
                Flavor::Mariadb,
                Syntax::Mariadb,
                "SHOW MASTER STATUS",
                "SHOW SLAVE STATUS",
            ),
        ];
        for (version, comment, flavor, syntax, binlog_sql, replica_sql) in cases {
            let v = ServerVersion::parse(version, comment).unwrap();
            assert_eq!(v.flavor, flavor, "{version}");
            assert_eq!(v.syntax(), syntax, "{version}");
            assert_eq!(v.binlog_status_sql(), binlog_sql, "{version}");
            assert_eq!(v.replica_status_sql(), replica_sql, "{version}");
        }
    }

    #[test]
    fn version_numbers() {
        let v = ServerVersion::parse("10.11.6-MariaDB-0+deb12u1-log", "").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (10, 11, 6));
        assert_eq!(v.label(), "mariadb 10.11.6");
        assert!(ServerVersion::parse("garbage", "").is_none());
    }
}

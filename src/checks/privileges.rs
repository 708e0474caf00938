//! The privileges each vipkeeper user needs, per flavor (documented in
//! docs/PRIVILEGES.md), and which of them a user lacks.

use crate::mysql::flavor::{Flavor, ServerVersion};

/// The three accounts vipkeeper uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRole {
    /// Probes every node every tick.
    Monitor,
    /// Changes replication and read-only state, kills connections.
    Admin,
    /// Replicas log in to their source with it.
    Replication,
}

impl UserRole {
    pub fn name(self) -> &'static str {
        match self {
            UserRole::Monitor => "monitor",
            UserRole::Admin => "admin",
            UserRole::Replication => "replication",
        }
    }
}

/// A privilege and the grants that also satisfy it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    pub privilege: &'static str,
    pub also_satisfied_by: &'static [&'static str],
    /// Why vipkeeper needs it.
    pub why: &'static str,
}

const fn req(
    privilege: &'static str,
    also: &'static [&'static str],
    why: &'static str,
) -> Requirement {
    Requirement {
        privilege,
        also_satisfied_by: also,
        why,
    }
}

// MySQL 8.0+ (dynamic privileges; SUPER still works on 8.0 but is deprecated).
const MYSQL_REPLICATION_CLIENT: Requirement = req(
    "REPLICATION CLIENT",
    &["SUPER"],
    "SHOW REPLICA STATUS, SHOW BINARY LOG STATUS",
);
const MYSQL_PROCESS: Requirement = req("PROCESS", &[], "see every connection and transaction");
const MYSQL_SYSTEM_VARIABLES_ADMIN: Requirement = req(
    "SYSTEM_VARIABLES_ADMIN",
    &["SUPER"],
    "SET GLOBAL read_only / super_read_only",
);
const MYSQL_REPLICATION_SLAVE_ADMIN: Requirement = req(
    "REPLICATION_SLAVE_ADMIN",
    &["SUPER"],
    "STOP/START REPLICA, CHANGE REPLICATION SOURCE, RESET REPLICA",
);
const MYSQL_CONNECTION_ADMIN: Requirement = req(
    "CONNECTION_ADMIN",
    &["SUPER"],
    "KILL client connections when fencing",
);

// MariaDB 10.5.9+ fine-grained privileges; SUPER implies most of them.
const MARIADB_SLAVE_MONITOR: Requirement = req(
    "SLAVE MONITOR",
    &["REPLICA MONITOR", "SUPER"],
    "SHOW SLAVE STATUS",
);
const MARIADB_BINLOG_MONITOR: Requirement = req(
    "BINLOG MONITOR",
    &["REPLICATION CLIENT", "SUPER"],
    "SHOW MASTER STATUS",
);
const MARIADB_PROCESS: Requirement = req("PROCESS", &[], "see every connection and transaction");
const MARIADB_REPLICATION_SLAVE_ADMIN: Requirement = req(
    "REPLICATION SLAVE ADMIN",
    &["SUPER"],
    "STOP/START SLAVE, CHANGE MASTER, RESET SLAVE",
);
const MARIADB_CONNECTION_ADMIN: Requirement = req(
    "CONNECTION ADMIN",
    &["SUPER"],
    "KILL client connections when fencing",
);
const MARIADB_REPLICATION_MASTER_ADMIN: Requirement = req(
    "REPLICATION MASTER ADMIN",
    &["SUPER"],
    "SET GLOBAL rpl_semi_sync_master_enabled when a node is promoted or demoted",
);
const MARIADB_READ_ONLY_ADMIN_OR_SUPER: Requirement =
    req("READ_ONLY ADMIN", &["SUPER"], "SET GLOBAL read_only");
// From 11.0.1 SUPER no longer implies READ_ONLY ADMIN.
const MARIADB_READ_ONLY_ADMIN: Requirement = req("READ_ONLY ADMIN", &[], "SET GLOBAL read_only");

const REPLICATION_SLAVE: Requirement = req("REPLICATION SLAVE", &[], "replicas read the binlog");

/// What `role` needs on a server of `version`.
pub fn required(role: UserRole, version: &ServerVersion) -> Vec<Requirement> {
    match (version.flavor, role) {
        (_, UserRole::Replication) => vec![REPLICATION_SLAVE],
        (Flavor::Mysql, UserRole::Monitor) => vec![MYSQL_REPLICATION_CLIENT, MYSQL_PROCESS],
        (Flavor::Mysql, UserRole::Admin) => vec![
            MYSQL_REPLICATION_CLIENT,
            MYSQL_PROCESS,
            MYSQL_SYSTEM_VARIABLES_ADMIN,
            MYSQL_REPLICATION_SLAVE_ADMIN,
            MYSQL_CONNECTION_ADMIN,
        ],
        (Flavor::Mariadb, UserRole::Monitor) => {
            vec![
                MARIADB_SLAVE_MONITOR,
                MARIADB_BINLOG_MONITOR,
                MARIADB_PROCESS,
            ]
        }
        (Flavor::Mariadb, UserRole::Admin) => vec![
            MARIADB_SLAVE_MONITOR,
            MARIADB_BINLOG_MONITOR,
            MARIADB_PROCESS,
            MARIADB_REPLICATION_SLAVE_ADMIN,
            MARIADB_REPLICATION_MASTER_ADMIN,
            MARIADB_CONNECTION_ADMIN,
            if version.at_least(11, 0, 1) {
                MARIADB_READ_ONLY_ADMIN
            } else {
                MARIADB_READ_ONLY_ADMIN_OR_SUPER
            },
        ],
    }
}

const MYSQL_BINLOG_ADMIN: Requirement = req(
    "BINLOG_ADMIN",
    &["SUPER"],
    "salvage: replay the dead master's rows events (BINLOG statement)",
);
const MARIADB_BINLOG_REPLAY: Requirement = req(
    "BINLOG REPLAY",
    &["SUPER"],
    "salvage: replay the dead master's events (BINLOG statement, the session's gtid_seq_no and server_id)",
);

/// What the admin user needs besides, when `[cluster.salvage]` is set.
pub fn required_for_salvage(version: &ServerVersion) -> Vec<Requirement> {
    match version.flavor {
        Flavor::Mysql => vec![MYSQL_BINLOG_ADMIN],
        Flavor::Mariadb => vec![MARIADB_BINLOG_REPLAY],
    }
}

const MYSQL_SYSTEM_USER: Requirement = req(
    "SYSTEM_USER",
    &[],
    "KILL a replica's applier stuck inside a transaction its source never finished sending; without it, stopping that applier takes the server's 60 s",
);

/// What `role` should have besides: without it vipkeeper still works, slower.
pub fn recommended(role: UserRole, version: &ServerVersion) -> Vec<Requirement> {
    match (version.flavor, role) {
        (Flavor::Mysql, UserRole::Admin) => vec![MYSQL_SYSTEM_USER],
        _ => Vec::new(),
    }
}

/// The recommendations not met by the privileges `held`.
pub fn not_recommended(
    role: UserRole,
    version: &ServerVersion,
    held: &[String],
) -> Vec<Requirement> {
    unmet(recommended(role, version), held)
}

fn unmet(needed: Vec<Requirement>, held: &[String]) -> Vec<Requirement> {
    let has = |p: &str| held.iter().any(|h| h.eq_ignore_ascii_case(p));
    needed
        .into_iter()
        .filter(|r| !has(r.privilege) && !r.also_satisfied_by.iter().any(|p| has(p)))
        .collect()
}

/// The requirements not met by the privileges `held` (as
/// information_schema.USER_PRIVILEGES lists them); with `salvage`, the
/// admin user's salvage privileges too.
pub fn missing(
    role: UserRole,
    version: &ServerVersion,
    held: &[String],
    salvage: bool,
) -> Vec<Requirement> {
    let mut needed = required(role, version);
    if salvage && role == UserRole::Admin {
        needed.extend(required_for_salvage(version));
    }
    unmet(needed, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn names(reqs: Vec<Requirement>) -> Vec<&'static str> {
        reqs.into_iter().map(|r| r.privilege).collect()
    }

    #[test]
    fn salvage_adds_the_binlog_replay_privilege_to_the_admin_user_only() {
        let m = ServerVersion::parse("9.7.4", "").unwrap();
        let admin = held(&[
            "REPLICATION CLIENT",
            "PROCESS",
            "SYSTEM_VARIABLES_ADMIN",
            "REPLICATION_SLAVE_ADMIN",
            "CONNECTION_ADMIN",
        ]);
        assert!(missing(UserRole::Admin, &m, &admin, false).is_empty());
        assert_eq!(
            names(missing(UserRole::Admin, &m, &admin, true)),
            ["BINLOG_ADMIN"]
        );
        assert!(missing(
            UserRole::Monitor,
            &m,
            &held(&["REPLICATION CLIENT", "PROCESS"]),
            true
        )
        .is_empty());
        let v = ServerVersion::parse("10.11.9-MariaDB", "").unwrap();
        assert_eq!(
            names(missing(
                UserRole::Admin,
                &v,
                &held(&["SUPER", "PROCESS"]),
                true
            )),
            Vec::<&str>::new()
        );
        assert_eq!(names(required_for_salvage(&v)), ["BINLOG REPLAY"]);
    }

    #[test]
    fn system_user_is_recommended_to_the_mysql_admin_only() {
        let m = ServerVersion::parse("9.7.4", "").unwrap();
        let v = ServerVersion::parse("10.11.9-MariaDB", "").unwrap();
        // SUPER does not cover it.
        assert_eq!(
            names(not_recommended(UserRole::Admin, &m, &held(&["SUPER"]))),
            ["SYSTEM_USER"]
        );
        assert!(not_recommended(UserRole::Admin, &m, &held(&["SYSTEM_USER"])).is_empty());
        assert!(not_recommended(UserRole::Monitor, &m, &held(&[])).is_empty());
        assert!(not_recommended(UserRole::Admin, &v, &held(&[])).is_empty());
    }

    #[test]
    fn mysql_admin_needs_dynamic_privileges_or_super() {
        let v = ServerVersion::parse("9.7.4", "").unwrap();
        let some = held(&["REPLICATION CLIENT", "PROCESS", "SYSTEM_VARIABLES_ADMIN"]);
        assert_eq!(
            names(missing(UserRole::Admin, &v, &some, false)),
            ["REPLICATION_SLAVE_ADMIN", "CONNECTION_ADMIN"]
        );
        let sup = held(&["SUPER", "PROCESS"]);
        assert!(missing(UserRole::Admin, &v, &sup, false).is_empty());
    }

    #[test]
    fn mariadb_names_and_aliases() {
        let v = ServerVersion::parse("10.11.6-MariaDB", "").unwrap();
        // As USER_PRIVILEGES lists a user granted REPLICA MONITOR, BINLOG MONITOR, PROCESS.
        let monitor = held(&["PROCESS", "BINLOG MONITOR", "SLAVE MONITOR"]);
        assert!(missing(UserRole::Monitor, &v, &monitor, false).is_empty());
        assert_eq!(
            names(missing(UserRole::Monitor, &v, &held(&["PROCESS"]), false)),
            ["SLAVE MONITOR", "BINLOG MONITOR"]
        );
        // SUPER covers read_only before 11.0.1, not after.
        assert!(missing(UserRole::Admin, &v, &held(&["SUPER", "PROCESS"]), false).is_empty());
        let v11 = ServerVersion::parse("11.4.2-MariaDB", "").unwrap();
        assert_eq!(
            names(missing(
                UserRole::Admin,
                &v11,
                &held(&["SUPER", "PROCESS"]),
                false
            )),
            ["READ_ONLY ADMIN"]
        );
    }

    #[test]
    fn replication_user() {
        let v = ServerVersion::parse("9.7.4", "").unwrap();
        assert!(missing(
            UserRole::Replication,
            &v,
            &held(&["REPLICATION SLAVE"]),
            false
        )
        .is_empty());
        assert_eq!(
            names(missing(UserRole::Replication, &v, &held(&["USAGE"]), false)),
            ["REPLICATION SLAVE"]
        );
    }
}

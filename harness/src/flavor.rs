//! What differs between MariaDB (Debian packages on the host) and Oracle MySQL
//! 9.x (Debian sid's `mysql-server-core` in a private root, see
//! scripts/install-mysql-root.sh): binaries, config, data-directory template
//! and replication SQL.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Mariadb,
    Mysql,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Mariadb => "mariadb",
            Flavor::Mysql => "mysql",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "mariadb" => Ok(Flavor::Mariadb),
            "mysql" => Ok(Flavor::Mysql),
            other => bail!("unknown flavor {other:?}: use mariadb or mysql"),
        }
    }

    /// The filesystem root the server sees: `/` for MariaDB, the private sid
    /// root for MySQL.
    pub fn root(self) -> PathBuf {
        match self {
            Flavor::Mariadb => PathBuf::from("/"),
            Flavor::Mysql => mysql_root(),
        }
    }

    /// Where node directories are created (must be inside `root`).
    pub fn scratch_dir(self) -> PathBuf {
        match self {
            Flavor::Mariadb => std::env::temp_dir(),
            Flavor::Mysql => mysql_root().join("var/tmp"),
        }
    }

    /// Whether this flavor can run here; the reason when it cannot.
    pub fn available(self) -> Result<(), String> {
        match self {
            Flavor::Mariadb => which("mariadbd")
                .map(|_| ())
                .ok_or_else(|| "mariadbd not installed (apt-get install mariadb-server-core mariadb-client, or run `make deps`)".into()),
            Flavor::Mysql => {
                let bin = mysql_root().join("usr/sbin/mysqld");
                if bin.exists() {
                    Ok(())
                } else {
                    Err(format!(
                        "no MySQL root at {} (run scripts/install-mysql-root.sh, or `make deps`)",
                        mysql_root().display()
                    ))
                }
            }
        }
    }

    /// Command that starts the server with `cnf` (a path as the server sees it).
    /// The spawned process *is* the server (chroot execs it), so its PID is
    /// the server's PID.
    pub fn server_command(self, cnf_inside: &Path) -> Command {
        let defaults = format!("--defaults-file={}", cnf_inside.display());
        match self {
            Flavor::Mariadb => {
                let mut c = Command::new("mariadbd");
                c.arg(defaults);
                c
            }
            Flavor::Mysql => {
                let mut c = Command::new("chroot");
                c.arg(mysql_root()).arg("/usr/sbin/mysqld").arg(defaults);
                c
            }
        }
    }

    /// Initialises an empty data directory for the config at `cnf_inside`.
    pub fn initialize_command(self, cnf_inside: &Path) -> Command {
        let defaults = format!("--defaults-file={}", cnf_inside.display());
        match self {
            Flavor::Mariadb => {
                let mut c = Command::new("mariadb-install-db");
                c.arg(defaults)
                    .arg("--auth-root-authentication-method=socket")
                    .arg("--skip-test-db");
                c
            }
            Flavor::Mysql => {
                let mut c = Command::new("chroot");
                c.arg(mysql_root())
                    .arg("/usr/sbin/mysqld")
                    .arg(defaults)
                    .arg("--initialize-insecure");
                c
            }
        }
    }

    /// Server version string, used to key the data-directory template cache.
    pub fn version(self) -> Result<String> {
        let out = match self {
            Flavor::Mariadb => Command::new("mariadbd").arg("--version").output(),
            Flavor::Mysql => Command::new("chroot")
                .arg(mysql_root())
                .arg("/usr/sbin/mysqld")
                .arg("--version")
                .output(),
        }
        .with_context(|| format!("running {} --version", self.name()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text
            .split_whitespace()
            .skip_while(|w| *w != "Ver")
            .nth(1)
            .unwrap_or("unknown")
            .to_string();
        Ok(version)
    }

    /// my.cnf for one node. `dir` is the node directory as the server sees it.
    pub fn my_cnf(self, dir: &Path, server_id: u32, port: u16, opts: &CnfOptions) -> String {
        let d = dir.display();
        let mut cnf = format!(
            "[mysqld]\n\
             user=root\n\
             datadir={d}/data\n\
             tmpdir={d}/tmp\n\
             socket={d}/mysqld.sock\n\
             pid-file={d}/mysqld.pid\n\
             log-error={d}/error.log\n\
             port={port}\n\
             bind-address={bind}\n\
             skip-name-resolve\n\
             server_id={server_id}\n\
             log_bin=mysql-bin\n\
             relay_log=relay-bin\n\
             binlog_format=ROW\n\
             sync_binlog=1\n\
             innodb_buffer_pool_size=32M\n\
             max_connections=40\n",
            bind = opts.bind_address,
        );
        if let Some((ca, cert, key)) = &opts.tls {
            cnf.push_str(&format!(
                "ssl_ca={}\nssl_cert={}\nssl_key={}\nrequire_secure_transport=ON\n",
                ca.display(),
                cert.display(),
                key.display()
            ));
        }
        match self {
            Flavor::Mariadb => {
                cnf.push_str(
                    "performance_schema=OFF\n\
                     log_slave_updates=ON\n\
                     gtid_strict_mode=ON\n\
                     innodb_log_file_size=16M\n\
                     rpl_semi_sync_master_wait_point=AFTER_SYNC\n\
                     rpl_semi_sync_master_timeout=1000\n",
                );
                if opts.semi_sync {
                    cnf.push_str(
                        "rpl_semi_sync_master_enabled=ON\nrpl_semi_sync_slave_enabled=ON\n",
                    );
                }
            }
            Flavor::Mysql => {
                cnf.push_str(&format!(
                    "secure_file_priv={d}/tmp\n\
                     mysqlx=OFF\n\
                     {ps}\
                     innodb_redo_log_capacity=32M\n\
                     log_replica_updates=ON\n\
                     enforce_gtid_consistency=ON\n\
                     gtid_mode={}\n\
                     plugin-load-add=semisync_source.so\n\
                     plugin-load-add=semisync_replica.so\n\
                     loose-rpl_semi_sync_source_wait_point=AFTER_SYNC\n\
                     loose-rpl_semi_sync_source_timeout=1000\n",
                    if opts.gtid { "ON" } else { "OFF" },
                    ps = Self::PERFORMANCE_SCHEMA,
                ));
                if opts.semi_sync {
                    cnf.push_str(
                        "loose-rpl_semi_sync_source_enabled=ON\n\
                         loose-rpl_semi_sync_replica_enabled=ON\n",
                    );
                }
            }
        }
        cnf
    }

    /// MySQL's performance_schema on — as in production, where it is on by
    /// default — for what a replica last heard from its source (the
    /// replication_connection_* tables need no instruments); everything that
    /// would cost memory or time off.
    const PERFORMANCE_SCHEMA: &str = "performance_schema=ON\n\
    performance_schema_instrument='%=OFF'\n\
    performance_schema_consumer_events_statements_current=OFF\n\
    performance_schema_consumer_events_transactions_current=OFF\n\
    performance_schema_consumer_global_instrumentation=OFF\n\
    performance_schema_consumer_thread_instrumentation=OFF\n\
    performance_schema_consumer_statements_digest=OFF\n\
    performance_schema_max_digest_length=0\n\
    performance_schema_max_sql_text_length=0\n";

    /// SQL that points a replica at `host:port` and starts replication.
    pub fn change_source_sql(
        self,
        host: &str,
        port: u16,
        user: &str,
        password: &str,
        file_pos: Option<(&str, u64)>,
        tls: bool,
    ) -> Vec<String> {
        let ssl = |name: &str| {
            if tls {
                format!(", {name}=1")
            } else {
                String::new()
            }
        };
        match self {
            Flavor::Mariadb => {
                let position = match file_pos {
                    Some((file, pos)) => format!(
                        "MASTER_USE_GTID=no, MASTER_LOG_FILE='{file}', MASTER_LOG_POS={pos}"
                    ),
                    None => "MASTER_USE_GTID=slave_pos".into(),
                };
                vec![
                    format!(
                        "CHANGE MASTER TO MASTER_HOST='{host}', MASTER_PORT={port}, \
                         MASTER_USER='{user}', MASTER_PASSWORD='{password}', \
                         MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD={}, {position}{}",
                        vipkeeper::mysql::admin::HEARTBEAT_PERIOD,
                        ssl("MASTER_SSL")
                    ),
                    "START SLAVE".into(),
                ]
            }
            Flavor::Mysql => {
                let position = match file_pos {
                    Some((file, pos)) => format!(
                        "SOURCE_AUTO_POSITION=0, SOURCE_LOG_FILE='{file}', SOURCE_LOG_POS={pos}"
                    ),
                    None => "SOURCE_AUTO_POSITION=1".into(),
                };
                vec![
                    format!(
                        "CHANGE REPLICATION SOURCE TO SOURCE_HOST='{host}', SOURCE_PORT={port}, \
                         SOURCE_USER='{user}', SOURCE_PASSWORD='{password}', \
                         SOURCE_CONNECT_RETRY=1, SOURCE_HEARTBEAT_PERIOD={}, \
                         GET_SOURCE_PUBLIC_KEY=1, {position}{}",
                        vipkeeper::mysql::admin::HEARTBEAT_PERIOD,
                        ssl("SOURCE_SSL")
                    ),
                    "START REPLICA".into(),
                ]
            }
        }
    }

    pub fn binlog_status_sql(self) -> &'static str {
        match self {
            Flavor::Mariadb => "SHOW MASTER STATUS",
            Flavor::Mysql => "SHOW BINARY LOG STATUS",
        }
    }

    pub fn replica_status_sql(self) -> &'static str {
        match self {
            Flavor::Mariadb => "SHOW SLAVE STATUS",
            Flavor::Mysql => "SHOW REPLICA STATUS",
        }
    }

    pub fn stop_replica_sql(self) -> &'static str {
        match self {
            Flavor::Mariadb => "STOP SLAVE",
            Flavor::Mysql => "STOP REPLICA",
        }
    }

    pub fn start_replica_sql(self) -> &'static str {
        match self {
            Flavor::Mariadb => "START SLAVE",
            Flavor::Mysql => "START REPLICA",
        }
    }

    /// Makes a node refuse ordinary writes.
    pub fn read_only_sql(self) -> &'static str {
        match self {
            Flavor::Mariadb => "SET GLOBAL read_only=ON",
            Flavor::Mysql => "SET GLOBAL super_read_only=ON",
        }
    }

    /// Makes a node accept writes (replicas are read-only).
    pub fn writable_sql(self) -> &'static str {
        match self {
            Flavor::Mariadb => "SET GLOBAL read_only=OFF",
            Flavor::Mysql => "SET GLOBAL super_read_only=OFF, GLOBAL read_only=OFF",
        }
    }

    /// Stops a replica's IO thread only: it receives nothing more.
    pub fn stop_io_thread_sql(self) -> &'static str {
        match self {
            Flavor::Mariadb => "STOP SLAVE IO_THREAD",
            Flavor::Mysql => "STOP REPLICA IO_THREAD",
        }
    }

    /// GRANTs for the users the harness creates on every node. These are the
    /// minimal grants documented in docs/PRIVILEGES.md: `vipkeeper check`
    /// would complain if they were short.
    pub fn grants(self) -> UserGrants {
        match self {
            Flavor::Mariadb => UserGrants {
                monitor: "REPLICA MONITOR, BINLOG MONITOR, PROCESS",
                admin: "READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, \
                        BINLOG ADMIN, BINLOG MONITOR, BINLOG REPLAY, REPLICA MONITOR, \
                        CONNECTION ADMIN, PROCESS, RELOAD",
                replication: "REPLICATION SLAVE",
            },
            Flavor::Mysql => UserGrants {
                monitor: "REPLICATION CLIENT, PROCESS",
                admin: "REPLICATION CLIENT, PROCESS, RELOAD, SYSTEM_VARIABLES_ADMIN, \
                        REPLICATION_SLAVE_ADMIN, CONNECTION_ADMIN, SYSTEM_USER, \
                        SESSION_VARIABLES_ADMIN, BINLOG_ADMIN",
                replication: "REPLICATION SLAVE",
            },
        }
    }
}

pub struct UserGrants {
    pub monitor: &'static str,
    pub admin: &'static str,
    pub replication: &'static str,
}

#[derive(Debug, Clone)]
pub struct CnfOptions {
    pub gtid: bool,
    pub semi_sync: bool,
    pub bind_address: String,
    /// CA, certificate and key as the server sees them: TLS on and
    /// `require_secure_transport=ON`.
    pub tls: Option<(PathBuf, PathBuf, PathBuf)>,
}

pub fn mysql_root() -> PathBuf {
    std::env::var_os("VIPKEEPER_MYSQL_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/vipkeeper-test/mysql-root"))
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

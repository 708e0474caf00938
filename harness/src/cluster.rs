//! A real replication cluster on loopback: node 1 is the master, the others
//! replicate from it (GTID or file/position, optionally semi-sync). Dropping
//! the cluster kills every server by PID and removes its directory, also
//! when a test fails or panics.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::flavor::{CnfOptions, Flavor};
use super::server::{inside, Server};

pub const MONITOR_USER: &str = "vk_monitor";
pub const MONITOR_PASSWORD: &str = "monitor-Secret-1";
pub const ADMIN_USER: &str = "vk_admin";
pub const ADMIN_PASSWORD: &str = "admin-Secret-2";
pub const REPL_USER: &str = "vk_repl";
pub const REPL_PASSWORD: &str = "repl-Secret-3";
pub const APP_USER: &str = "app";
pub const APP_PASSWORD: &str = "app-Secret-4";

#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub flavor: Flavor,
    pub nodes: usize,
    pub gtid: bool,
    pub semi_sync: bool,
    /// Servers with certificates of a CA of the test's own that refuse
    /// clear text (`require_secure_transport=ON`); replication over TLS.
    pub tls: bool,
    /// Run node i in namespace `hosts[i].0`, reached at `hosts[i].1`:3306.
    pub hosts: Option<Vec<(String, String)>>,
}

impl ClusterSpec {
    pub fn new(flavor: Flavor) -> Self {
        Self {
            flavor,
            nodes: 3,
            gtid: true,
            semi_sync: false,
            tls: false,
            hosts: None,
        }
    }
}

pub struct TestCluster {
    pub spec: ClusterSpec,
    /// The CA and certificates, when `spec.tls`.
    pub tls: Option<super::tls::TlsFiles>,
    /// Servers before `dir`: fields drop in order, so processes die first.
    pub servers: Vec<Server>,
    pub dir: PathBuf,
    keep_dir: bool,
}

impl TestCluster {
    /// Starts `spec.nodes` servers and wires replication from node 1.
    pub async fn start(spec: ClusterSpec) -> Result<Self> {
        if let Err(why) = spec.flavor.available() {
            bail!("cannot start a {} cluster: {why}", spec.flavor.name());
        }
        let scratch = spec.flavor.scratch_dir();
        fs::create_dir_all(&scratch)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("vk-{}-", spec.flavor.name()))
            .tempdir_in(&scratch)?
            .keep();
        let mut cluster = TestCluster {
            spec: spec.clone(),
            tls: None,
            servers: Vec::new(),
            dir,
            keep_dir: false,
        };
        if spec.tls {
            cluster.tls = Some(super::tls::make(&cluster.dir)?);
        }
        let opts = CnfOptions {
            gtid: spec.gtid,
            semi_sync: spec.semi_sync,
            bind_address: "127.0.0.1".into(),
            tls: cluster.tls.as_ref().map(|t| {
                let f = spec.flavor;
                (inside(f, &t.ca), inside(f, &t.cert), inside(f, &t.key))
            }),
        };
        for i in 1..=spec.nodes {
            let server = match &spec.hosts {
                Some(hosts) => {
                    let (ns, ip) = &hosts[i - 1];
                    let opts = CnfOptions {
                        bind_address: "0.0.0.0".into(),
                        ..opts.clone()
                    };
                    Server::create_in(
                        spec.flavor,
                        &cluster.dir,
                        &format!("db{i}"),
                        i as u32,
                        3306,
                        &opts,
                        Some(ns),
                        ip,
                    )?
                }
                None => create_on_free_port(spec.flavor, &cluster.dir, i as u32, &opts)?,
            };
            cluster.servers.push(server);
        }
        cluster.bootstrap().await?;
        Ok(cluster)
    }

    async fn bootstrap(&self) -> Result<()> {
        let f = self.spec.flavor;
        let g = f.grants();
        let reset = match f {
            Flavor::Mariadb => "RESET MASTER",
            Flavor::Mysql => "RESET BINARY LOGS AND GTIDS",
        };
        let users = [
            (MONITOR_USER, MONITOR_PASSWORD, g.monitor.to_string()),
            (ADMIN_USER, ADMIN_PASSWORD, g.admin.to_string()),
            (REPL_USER, REPL_PASSWORD, g.replication.to_string()),
        ];
        for server in &self.servers {
            let mut sql = vec![reset.to_string(), "SET sql_log_bin=0".to_string()];
            for (user, password, grants) in &users {
                sql.push(format!(
                    "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"
                ));
                sql.push(format!("GRANT {grants} ON *.* TO '{user}'@'%'"));
                // When a replica last heard from its source (docs/PRIVILEGES.md).
                if f == Flavor::Mysql && *user != REPL_USER {
                    for table in [
                        "replication_connection_status",
                        "replication_connection_configuration",
                    ] {
                        sql.push(format!(
                            "GRANT SELECT ON performance_schema.{table} TO '{user}'@'%'"
                        ));
                    }
                }
                // Whether an applier waits inside a transaction that will
                // not arrive whole (docs/PRIVILEGES.md).
                if f == Flavor::Mysql && *user == ADMIN_USER {
                    for table in vipkeeper::mysql::unfinished_group::TABLES {
                        sql.push(format!(
                            "GRANT SELECT ON performance_schema.{table} TO '{user}'@'%'"
                        ));
                    }
                }
            }
            sql.push(format!(
                "CREATE USER '{APP_USER}'@'%' IDENTIFIED BY '{APP_PASSWORD}'"
            ));
            sql.push(format!("GRANT ALL ON app.* TO '{APP_USER}'@'%'"));
            sql.push("SET sql_log_bin=1".into());
            let refs: Vec<&str> = sql.iter().map(String::as_str).collect();
            server.exec(&refs).await?;
        }
        let master = &self.servers[0];
        let file_pos = if self.spec.gtid {
            None
        } else {
            Some(self.binlog_position(master).await?)
        };
        for replica in &self.servers[1..] {
            self.attach(
                replica,
                master,
                file_pos.as_ref().map(|(f, p)| (f.as_str(), *p)),
            )
            .await?;
            replica.exec(&[f.read_only_sql()]).await?;
        }
        // After the replicas attached, so file/position replicas get it too.
        master.exec(&["CREATE DATABASE app"]).await?;
        self.wait_replicated(Duration::from_secs(30)).await
    }

    /// Points `replica` at `source` and starts replication.
    pub async fn attach(
        &self,
        replica: &Server,
        source: &Server,
        file_pos: Option<(&str, u64)>,
    ) -> Result<()> {
        let sql = self.spec.flavor.change_source_sql(
            &source.host,
            source.port,
            REPL_USER,
            REPL_PASSWORD,
            file_pos,
            self.spec.tls,
        );
        let refs: Vec<&str> = sql.iter().map(String::as_str).collect();
        replica.exec(&refs).await
    }

    /// Re-points `replica` (GTID) at whatever listens on 127.0.0.1:`port`
    /// (a proxy in front of the master).
    pub async fn attach_via_port(&self, replica: &Server, port: u16) -> Result<()> {
        let mut sql = vec![self.spec.flavor.stop_replica_sql().to_string()];
        sql.extend(self.spec.flavor.change_source_sql(
            "127.0.0.1",
            port,
            REPL_USER,
            REPL_PASSWORD,
            None,
            self.spec.tls,
        ));
        let refs: Vec<&str> = sql.iter().map(String::as_str).collect();
        replica.exec(&refs).await
    }

    pub fn master(&self) -> &Server {
        &self.servers[0]
    }

    pub fn node(&self, name: &str) -> &Server {
        self.servers
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    pub fn node_mut(&mut self, name: &str) -> &mut Server {
        self.servers
            .iter_mut()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// Current binlog file and position of `server`.
    pub async fn binlog_position(&self, server: &Server) -> Result<(String, u64)> {
        let row = server
            .query_row(self.spec.flavor.binlog_status_sql())
            .await?
            .context("binary logging is off")?;
        let get = |name: &str| {
            row.iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Ok((get("File"), get("Position").parse()?))
    }

    /// (file, position) of the master's binlog that `replica` has executed.
    pub async fn executed_position(&self, replica: &Server) -> Result<Option<(String, u64)>> {
        let (file_col, pos_col) = match self.spec.flavor {
            Flavor::Mariadb => ("Relay_Master_Log_File", "Exec_Master_Log_Pos"),
            Flavor::Mysql => ("Relay_Source_Log_File", "Exec_Source_Log_Pos"),
        };
        let Some(row) = self.replica_row(replica).await? else {
            return Ok(None);
        };
        let get = |name: &str| row.get(name).cloned().flatten().unwrap_or_default();
        Ok(Some((get(file_col), get(pos_col).parse().unwrap_or(0))))
    }

    /// `replica`'s replica status, column by column; None when it is none.
    async fn replica_row(
        &self,
        replica: &Server,
    ) -> Result<Option<std::collections::BTreeMap<String, Option<String>>>> {
        let row = replica
            .query_row(self.spec.flavor.replica_status_sql())
            .await?;
        Ok(row.map(|r| r.into_iter().collect()))
    }

    /// Position in its source's binlog up to which `replica` has received.
    pub async fn received_position(&self, replica: &Server) -> Result<Option<u64>> {
        let column = match self.spec.flavor {
            Flavor::Mariadb => "Read_Master_Log_Pos",
            Flavor::Mysql => "Read_Source_Log_Pos",
        };
        let row = self.replica_row(replica).await?;
        Ok(row.and_then(|r| r.get(column)?.as_ref()?.parse().ok()))
    }

    /// Creates the table the test writer fills (`app.w`) on the master and
    /// waits until every replica has it.
    pub async fn create_writer_table(&self, timeout: Duration) -> Result<()> {
        self.master()
            .exec(&["CREATE TABLE app.w (id BIGINT PRIMARY KEY, port INT NOT NULL)"])
            .await?;
        self.wait_replicated(timeout).await
    }

    /// Whether `node` refuses client writes (read_only on).
    pub async fn read_only(&self, node: &str) -> bool {
        self.node(node)
            .query_value("SELECT @@GLOBAL.read_only AS ro", "ro")
            .await
            .unwrap()
            .as_deref()
            == Some("1")
    }

    /// The rows of the test table `app.w` on `node`.
    pub async fn row_count(&self, node: &str) -> usize {
        self.node(node)
            .query_value("SELECT COUNT(*) AS n FROM app.w", "n")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Rows in `table` on `node`.
    pub async fn row_count_of(&self, node: &str, table: &str) -> u64 {
        self.node(node)
            .query_value(&format!("SELECT COUNT(*) AS n FROM {table}"), "n")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Waits until every running replica has executed the master's binlog.
    pub async fn wait_replicated(&self, timeout: Duration) -> Result<()> {
        self.wait_replicated_from(&self.master().name, timeout)
            .await
    }

    /// Waits until every other running node has executed `master`'s binlog.
    pub async fn wait_replicated_from(&self, master: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let master = self.node(master);
        let target = self.binlog_position(master).await?;
        for replica in self
            .servers
            .iter()
            .filter(|s| s.is_alive() && s.name != master.name)
        {
            loop {
                let at = self.executed_position(replica).await?;
                // At or past the target: writes may go on meanwhile.
                if at.as_ref().is_some_and(|(file, pos)| {
                    (file.as_str(), *pos) >= (target.0.as_str(), target.1)
                }) {
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "{} did not catch up with the master ({}:{}) within {timeout:?}; it is at {at:?}",
                        replica.name,
                        target.0,
                        target.1
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(())
    }

    /// Everything reaches the master through the proxy on `port`: the
    /// replicas (re-pointed by GTID), the manager (the config's port for
    /// it, in `extras`) and the client (the VIP script's target: call this
    /// after `vip_script_toml`).
    pub async fn master_through(&self, port: u16, extras: &mut ConfigExtras) -> Result<()> {
        for replica in &self.servers[1..] {
            self.attach_via_port(replica, port).await?;
        }
        extras.ports.insert(self.master().name.clone(), port);
        fs::write(self.vip_target(), format!("{port}\n"))?;
        Ok(())
    }

    /// The port `node` replicates from; None when it does not replicate.
    pub async fn source_port(&self, node: &str) -> Result<Option<u16>> {
        let col = match self.spec.flavor {
            Flavor::Mariadb => "Master_Port",
            Flavor::Mysql => "Source_Port",
        };
        let port = self
            .node(node)
            .query_value(self.spec.flavor.replica_status_sql(), col)
            .await?;
        Ok(port.and_then(|p| p.parse().ok()))
    }

    /// The address and port `node` replicates from.
    pub async fn source_address(&self, node: &str) -> Result<Option<(String, u16)>> {
        let (host, port) = match self.spec.flavor {
            Flavor::Mariadb => ("Master_Host", "Master_Port"),
            Flavor::Mysql => ("Source_Host", "Source_Port"),
        };
        let Some(row) = self.replica_row(self.node(node)).await? else {
            return Ok(None);
        };
        let get = |name: &str| row.get(name).cloned().flatten();
        Ok(get(host).zip(get(port).and_then(|p| p.parse().ok())))
    }

    /// Writes the salvage `token` to a 0600 file and returns the
    /// `[cluster.salvage]` section that names it.
    pub fn salvage_toml(&self, token: &str) -> Result<String> {
        let file = self.dir.join("secrets").join("salvage.token");
        fs::create_dir_all(self.dir.join("secrets"))?;
        write_secret(&file, token)?;
        Ok(format!(
            "\n[cluster.salvage]\ntoken_file = \"{}\"\n",
            file.display()
        ))
    }

    /// A host agent's node lines for `node`'s binlog and relay-log index:
    /// MySQL runs under its own root, so the host's paths are configured
    /// (MariaDB's are learned from the server: nothing).
    pub fn index_paths_toml(&self, node: &str) -> String {
        if self.spec.flavor != Flavor::Mysql {
            return String::new();
        }
        let data = self.dir.join(node).join("data");
        format!(
            "binlog_index = \"{}\"\nrelay_log_index = \"{}\"\n",
            data.join("mysql-bin.index").display(),
            data.join("relay-bin.index").display()
        )
    }

    /// Writes a vipkeeper config for this cluster (passwords in 0600 files)
    /// and returns its path.
    pub fn write_config(&self, cluster_name: &str) -> Result<PathBuf> {
        self.write_config_with(cluster_name, &ConfigExtras::default())
    }

    /// As `write_config`, with extra TOML and per-node port overrides.
    pub fn write_config_with(&self, cluster_name: &str, extras: &ConfigExtras) -> Result<PathBuf> {
        let secrets = self.dir.join("secrets");
        fs::create_dir_all(&secrets)?;
        let mut toml = String::new();
        writeln!(
            toml,
            "# vipkeeper config for the {} sandbox cluster (written by the test harness)\n",
            self.spec.flavor.name()
        )?;
        // Tests run side by side: no HTTP API unless a test asks for one.
        let listen = if extras.agent_toml.contains("listen") {
            ""
        } else {
            "listen = \"\"\n"
        };
        writeln!(
            toml,
            "[agent]\nstate_dir = \"{}\"\n{listen}{}\n",
            self.dir.join("state").display(),
            extras.agent_toml
        )?;
        writeln!(toml, "[[cluster]]\nname = \"{cluster_name}\"\n")?;
        for (role, user, password) in [
            ("monitor", MONITOR_USER, MONITOR_PASSWORD),
            ("admin", ADMIN_USER, ADMIN_PASSWORD),
            ("replication", REPL_USER, REPL_PASSWORD),
        ] {
            let file = secrets.join(format!("{role}.password"));
            write_secret(&file, password)?;
            writeln!(
                toml,
                "[cluster.users.{role}]\nuser = \"{user}\"\npassword_file = \"{}\"\n",
                file.display()
            )?;
        }
        writeln!(toml, "{}", extras.cluster_toml)?;
        for s in &self.servers {
            let port = extras.ports.get(&s.name).copied().unwrap_or(s.port);
            writeln!(
                toml,
                "[[cluster.node]]\nname = \"{}\"\nhost = \"{}\"\nport = {port}\n{}",
                s.name,
                s.host,
                extras.node_toml.get(&s.name).map_or("", String::as_str)
            )?;
        }
        let path = self.dir.join("vipkeeper.toml");
        fs::write(&path, toml)?;
        Ok(path)
    }

    /// A VIP script for the `script` backend: it writes the new master's
    /// port to `vip_target()` (what the test writer follows) and logs each
    /// call to `vip-calls`. If `vip-hook` exists in the cluster directory it
    /// runs first, with the same arguments; when it fails, the script fails
    /// with its exit status. Returns the TOML that configures it.
    pub fn vip_script_toml(&self) -> Result<String> {
        let d = self.dir.display();
        let script = self.dir.join("vip-script.sh");
        fs::write(
            &script,
            format!(
                "#!/bin/sh\n\
                 if [ -x {d}/vip-hook ]; then {d}/vip-hook \"$@\" || exit $?; fi\n\
                 echo \"$@\" >> {d}/vip-calls\n\
                 for a in \"$@\"; do case \"$a\" in --new_master_port=*) port=\"${{a#*=}}\";; esac; done\n\
                 echo \"$port\" > {d}/vip-target.tmp && mv {d}/vip-target.tmp {d}/vip-target\n"
            ),
        )?;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755))?;
        fs::write(self.vip_target(), format!("{}\n", self.master().port))?;
        Ok(format!(
            "[cluster.vip]\naddress = \"10.254.0.10\"\nbackends = [\"script\"]\n\n[cluster.vip.script]\ncommand = \"{}\"\n",
            script.display()
        ))
    }

    /// The file the VIP script keeps the current master's port in.
    pub fn vip_target(&self) -> PathBuf {
        self.dir.join("vip-target")
    }

    /// The node the VIP script points clients at now.
    pub fn vip_node(&self) -> String {
        let port: u16 = fs::read_to_string(self.vip_target())
            .expect("the VIP script has run")
            .trim()
            .parse()
            .expect("a port");
        self.servers
            .iter()
            .find(|s| s.port == port)
            .expect("the VIP points at a node")
            .name
            .clone()
    }

    /// The report the notify command (`notify_toml`) received, once it
    /// has (it runs just after the agent logs the outcome).
    pub fn notified_report(&self, timeout: Duration) -> serde_json::Value {
        let path = self.dir.join("notified.json");
        let deadline = Instant::now() + timeout;
        loop {
            let text = fs::read_to_string(&path).unwrap_or_default();
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "the notify command never got a report"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A notify command that saves the report it is given to `notified.json`
    /// and its VIPKEEPER_EVENT to `notified.event`.
    pub fn notify_toml(&self) -> Result<String> {
        let script = self.dir.join("notify.sh");
        fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$VIPKEEPER_EVENT\" > {d}/notified.event\ncat > {d}/notified.json\n",
                d = self.dir.display()
            ),
        )?;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755))?;
        Ok(format!("notify = \"{}\"", script.display()))
    }

    /// Leave servers and files in place when dropped (the sandbox).
    pub fn detach(&mut self) {
        self.keep_dir = true;
        for s in &mut self.servers {
            s.detach();
        }
    }

    /// PIDs of the running servers, by node name.
    pub fn pids(&self) -> Vec<(String, i32)> {
        self.servers
            .iter()
            .filter_map(|s| s.pid().map(|p| (s.name.clone(), p)))
            .collect()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // Servers first (their Drop kills them), then the directory.
        self.servers.clear();
        if !self.keep_dir {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Additions to the generated vipkeeper config.
#[derive(Debug, Default, Clone)]
pub struct ConfigExtras {
    /// Inserted after the users, before the nodes ([cluster.timing], [cluster.vip], ...).
    pub cluster_toml: String,
    /// Inserted into [agent].
    pub agent_toml: String,
    /// Nodes whose configured port differs from the server's (a proxy).
    pub ports: std::collections::HashMap<String, u16>,
    /// Extra lines for a node's `[[cluster.node]]` table, by node name.
    pub node_toml: std::collections::HashMap<String, String>,
}

pub fn write_secret(path: &Path, secret: &str) -> Result<()> {
    fs::write(path, format!("{secret}\n"))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// Starts node `dbN` on a free port. Another test may take the port between
/// our check and the server's bind: then try again with another one.
fn create_on_free_port(flavor: Flavor, dir: &Path, n: u32, opts: &CnfOptions) -> Result<Server> {
    let name = format!("db{n}");
    let mut attempt = 0;
    loop {
        attempt += 1;
        match Server::create(flavor, dir, &name, n, free_port()?, opts) {
            Ok(server) => return Ok(server),
            Err(e) if attempt < 4 && format!("{e:#}").contains("already in use") => {
                let _ = fs::remove_dir_all(dir.join(&name));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A TCP port that is free on 127.0.0.1 right now.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

//! `vipkeeper mha import`: an MHA application config (`/etc/masterha/app1.cnf`)
//! turned into a vipkeeper config. Pure: the caller reads the file and
//! writes the result; passwords come back separately, for files of their own.

use std::collections::BTreeMap;

use ini::Ini;

/// What the import made.
#[derive(Debug, Default)]
pub struct Imported {
    /// The vipkeeper config (TOML), passwords referenced by file.
    pub toml: String,
    /// Password files to write (name under the output directory → secret).
    pub passwords: BTreeMap<String, String>,
    /// What has no place in vipkeeper, one sentence each.
    pub unmapped: Vec<String>,
}

/// MHA keys vipkeeper takes over or has no need of, with why.
const NOT_NEEDED: [(&str, &str); 12] = [
    (
        "manager_workdir",
        "vipkeeper keeps its state in agent.state_dir",
    ),
    ("manager_log", "vipkeeper logs to stderr / the journal"),
    (
        "remote_workdir",
        "vipkeeper runs nothing on the database hosts over SSH",
    ),
    ("ssh_user", "vipkeeper never logs in over SSH"),
    ("ssh_port", "vipkeeper never logs in over SSH"),
    ("ssh_host", "vipkeeper never logs in over SSH"),
    ("ssh_options", "vipkeeper never logs in over SSH"),
    (
        "master_binlog_dir",
        "vipkeeper does not copy binlogs from a dead master (yet)",
    ),
    ("ping_type", "vipkeeper probes with a login and a query"),
    ("log_level", "use vipkeeper's --log"),
    ("check_repl_delay", "see failover.max_lag"),
    (
        "ignore_fail",
        "an unreachable replica is left alone and named in the report",
    ),
];

pub fn import(text: &str, cluster: &str, vip: Option<&str>) -> Result<Imported, String> {
    let ini = Ini::load_from_str(text).map_err(|e| format!("not an MHA config: {e}"))?;
    let default: BTreeMap<String, String> = ini
        .section(Some("server default"))
        .map(|s| {
            s.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mut servers: Vec<(String, BTreeMap<String, String>)> = ini
        .iter()
        .filter_map(|(name, props)| {
            let name = name?;
            (name != "server default" && name != "binlog default").then(|| {
                let mut merged = default.clone();
                merged.extend(props.iter().map(|(k, v)| (k.to_string(), v.to_string())));
                (name.to_string(), merged)
            })
        })
        .collect();
    servers.sort_by(|a, b| a.0.cmp(&b.0));
    if servers.is_empty() {
        return Err("no [server...] section: this MHA config names no database".into());
    }
    let mut out = Imported::default();
    let get = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().filter(|v| !v.is_empty());
    let mut t = format!(
        "# Imported from an MHA configuration by `vipkeeper mha import`.\n# Check it: vipkeeper check --offline, then vipkeeper check.\n\n[[cluster]]\nname = \"{cluster}\"\n"
    );

    // Accounts: MHA's `user` administers (vipkeeper's monitor and admin),
    // `repl_user` replicates.
    let user = get(&default, "user").unwrap_or_else(|| "root".into());
    let repl = get(&default, "repl_user").unwrap_or_else(|| "repl".into());
    for (role, name, secret) in [
        ("monitor", &user, get(&default, "password")),
        ("admin", &user, get(&default, "password")),
        ("replication", &repl, get(&default, "repl_password")),
    ] {
        t.push_str(&format!("\n[cluster.users.{role}]\nuser = \"{name}\"\n"));
        match secret {
            Some(s) => {
                let file = format!("{cluster}-{role}.password");
                t.push_str(&format!("password_file = \"@DIR@/{file}\"\n"));
                out.passwords.insert(file, s);
            }
            None => {
                out.unmapped.push(format!(
                    "no password for the {role} account ({name}) in [server default]: set password_file for it"
                ));
                t.push_str(&format!(
                    "password_file = \"/etc/vipkeeper/{role}.password\"\n"
                ));
            }
        }
    }
    out.unmapped.push(format!(
        "MHA's account `{user}` is used for monitor and admin; give vipkeeper its own accounts with the privileges in docs/PRIVILEGES.md when you can"
    ));

    if let Some(s) = get(&default, "ping_interval") {
        match s.parse::<u64>() {
            Ok(n) if n > 0 => t.push_str(&format!(
                "\n[cluster.timing]\n# MHA's ping_interval; vipkeeper's default is 1s.\nprobe_interval = \"{n}s\"\n"
            )),
            _ => out.unmapped.push(format!("ping_interval = {s} is not a number of seconds")),
        }
    }

    let prefer: Vec<&String> = servers
        .iter()
        .filter(|(_, m)| get(m, "candidate_master").as_deref() == Some("1"))
        .map(|(n, _)| n)
        .collect();
    let never: Vec<&String> = servers
        .iter()
        .filter(|(_, m)| get(m, "no_master").as_deref() == Some("1"))
        .map(|(n, _)| n)
        .collect();
    if !prefer.is_empty() || !never.is_empty() {
        let list = |v: &[&String]| {
            v.iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        t.push_str(&format!(
            "\n[cluster.failover]\nprefer = [{}]\nnever_promote = [{}]\n",
            list(&prefer),
            list(&never)
        ));
    }

    match (get(&default, "master_ip_failover_script"), vip) {
        (Some(script), Some(vip)) if !script.contains("vipkeeper") => t.push_str(&format!(
            "\n# MHA's master_ip_failover_script, called as MHA calls it.\n[cluster.vip]\naddress = \"{vip}\"\nbackends = [\"script\"]\n\n[cluster.vip.script]\ncommand = \"{script}\"\n"
        )),
        (Some(_), None) => out.unmapped.push(
            "master_ip_failover_script: give --vip ADDRESS to keep it as the VIP script (or set [cluster.vip] by hand)".into(),
        ),
        (Some(_), Some(_)) => out.unmapped.push(
            "master_ip_failover_script is vipkeeper's own hook: configure [cluster.vip] with the backend it used".into(),
        ),
        (None, _) => {}
    }
    for key in [
        "master_ip_online_change_script",
        "shutdown_script",
        "report_script",
        "secondary_check_script",
    ] {
        if get(&default, key).is_some() {
            out.unmapped.push(match key {
                "master_ip_online_change_script" => "master_ip_online_change_script: `vipkeeper switchover` moves the VIP itself".into(),
                "report_script" => "report_script: agent.notify takes the report as JSON on standard input (a different interface)".into(),
                "secondary_check_script" => "secondary_check_script: vipkeeper confirms a death through the replicas instead".into(),
                _ => "shutdown_script (power-off fencing): not available; vipkeeper fences with read_only".into(),
            });
        }
    }
    for (key, why) in NOT_NEEDED {
        // Each server's keys include [server default]'s.
        if servers.iter().any(|(_, m)| m.contains_key(key)) {
            out.unmapped.push(format!("{key}: {why}"));
        }
    }

    for (name, m) in &servers {
        let Some(host) = get(m, "hostname").or_else(|| get(m, "ip")) else {
            return Err(format!("[{name}] has no hostname"));
        };
        let port = get(m, "port").unwrap_or_else(|| "3306".into());
        if port.parse::<u16>().is_err() {
            return Err(format!("[{name}] port = {port} is not a port"));
        }
        t.push_str(&format!(
            "\n[[cluster.node]]\nname = \"{name}\"\nhost = \"{host}\"\nport = {port}\n"
        ));
    }
    out.toml = t;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_candidates_and_never_promote() {
        let mha = "[server default]\nuser=mha\npassword=Pw-1\nrepl_user=repl\nrepl_password=Pw-2\nping_interval=3\nmanager_workdir=/var/log/masterha/app1\nssh_user=root\n\n[server1]\nhostname=10.0.1.10\ncandidate_master=1\n\n[server2]\nhostname=10.0.2.10\nport=3307\n\n[server3]\nhostname=10.0.3.10\nno_master=1\n";
        let i = import(mha, "app1", None).unwrap();
        assert!(i.toml.contains("prefer = [\"server1\"]"), "{}", i.toml);
        assert!(i.toml.contains("never_promote = [\"server3\"]"));
        assert!(i.toml.contains("host = \"10.0.2.10\"\nport = 3307"));
        assert!(i.toml.contains("probe_interval = \"3s\""));
        assert!(!i.toml.contains("Pw-1") && !i.toml.contains("Pw-2"));
        assert_eq!(i.passwords["app1-admin.password"], "Pw-1");
        assert_eq!(i.passwords["app1-replication.password"], "Pw-2");
        assert!(i.unmapped.iter().any(|u| u.starts_with("ssh_user")));
        assert!(i.unmapped.iter().any(|u| u.starts_with("manager_workdir")));
    }

    #[test]
    fn no_server_sections_is_an_error() {
        assert!(import("[server default]\nuser=mha\n", "app1", None).is_err());
    }
}

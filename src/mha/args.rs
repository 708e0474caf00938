//! MHA's script interface, parsed: what `master_ip_failover_script` and
//! `master_ip_online_change_script` are called with (MHA 0.58:
//! MasterMonitor.pm, MasterFailover.pm, MasterRotate.pm). Options come as
//! `--key=value` or `--key value`; unknown ones are ignored (later MHA forks
//! add some); passwords are kept as secrets, never shown.

use std::fmt;

use crate::config::Secret;

/// Which phase MHA is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// At `masterha_manager` start and in `masterha_check_repl`.
    Status,
    /// Take the VIP from the old master (`stopssh`: its host answers SSH).
    Stop { host_reachable: bool },
    /// Give the VIP to the new master.
    Start,
}

/// One server as MHA names it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Server {
    pub host: Option<String>,
    pub ip: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub ssh_user: Option<String>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("host", &self.host)
            .field("ip", &self.ip)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<secret>"))
            .field("ssh_user", &self.ssh_user)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub phase: Phase,
    pub orig: Server,
    pub new: Server,
    /// Online change: the old master is to replicate from the new one.
    pub orig_master_is_new_slave: bool,
    /// Options this version does not know, by name (values not kept).
    pub ignored: Vec<String>,
}

/// Why MHA's arguments cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    #[error("no --command: MHA always passes --command=status|stop|stopssh|start")]
    NoCommand,
    #[error("--command={0} is not one MHA sends (status, stop, stopssh, start)")]
    UnknownCommand(String),
    #[error("--{key} needs a value")]
    NoValue { key: String },
    #[error("--{key}={value} is not a port number")]
    BadPort { key: String, value: String },
    #[error("`{0}` is not an option (MHA passes --key=value)")]
    NotAnOption(String),
}

/// Options that take no value.
const FLAGS: [&str; 1] = ["orig_master_is_new_slave"];

pub fn parse(args: &[String]) -> Result<Call, ArgError> {
    let mut command = None;
    let mut orig = Server::default();
    let mut new = Server::default();
    let mut ssh_user = None;
    let mut is_new_slave = false;
    let mut ignored = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(opt) = arg.strip_prefix("--") else {
            return Err(ArgError::NotAnOption(arg.clone()));
        };
        let (key, value) = match opt.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None if FLAGS.contains(&opt) => (opt.to_string(), None),
            None => {
                // `--key value`, unless the next word is an option itself.
                match args.get(i) {
                    Some(v) if !v.starts_with("--") => {
                        i += 1;
                        (opt.to_string(), Some(v.clone()))
                    }
                    _ => (opt.to_string(), None),
                }
            }
        };
        let need = |v: Option<String>| v.ok_or(ArgError::NoValue { key: key.clone() });
        let port = |v: Option<String>| -> Result<Option<u16>, ArgError> {
            let v = need(v)?;
            if v.is_empty() {
                return Ok(None);
            }
            v.parse().map(Some).map_err(|_| ArgError::BadPort {
                key: key.clone(),
                value: v,
            })
        };
        let text = |v: Option<String>| need(v).map(|v| (!v.is_empty()).then_some(v));
        match key.as_str() {
            "command" => command = Some(need(value)?),
            "orig_master_host" => orig.host = text(value)?,
            "orig_master_ip" => orig.ip = text(value)?,
            "orig_master_port" => orig.port = port(value)?,
            "orig_master_user" => orig.user = text(value)?,
            "orig_master_password" => orig.password = text(value)?.map(Secret::new),
            "orig_master_ssh_user" => orig.ssh_user = text(value)?,
            "new_master_host" => new.host = text(value)?,
            "new_master_ip" => new.ip = text(value)?,
            "new_master_port" => new.port = port(value)?,
            "new_master_user" => new.user = text(value)?,
            "new_master_password" => new.password = text(value)?.map(Secret::new),
            "new_master_ssh_user" => new.ssh_user = text(value)?,
            "ssh_user" => ssh_user = text(value)?,
            "orig_master_is_new_slave" => is_new_slave = true,
            // SSH details vipkeeper does not use: it never logs in over SSH.
            "orig_master_ssh_host"
            | "orig_master_ssh_ip"
            | "orig_master_ssh_port"
            | "new_master_ssh_host"
            | "new_master_ssh_ip"
            | "new_master_ssh_port"
            | "ssh_options" => {}
            _ => ignored.push(key.clone()),
        }
    }
    let phase = match command.as_deref() {
        None => return Err(ArgError::NoCommand),
        Some("status") => Phase::Status,
        Some("stop") => Phase::Stop {
            host_reachable: false,
        },
        Some("stopssh") => Phase::Stop {
            host_reachable: true,
        },
        Some("start") => Phase::Start,
        Some(other) => return Err(ArgError::UnknownCommand(other.to_string())),
    };
    // The failover script gets one --ssh_user for the old master.
    if orig.ssh_user.is_none() {
        orig.ssh_user = ssh_user;
    }
    Ok(Call {
        phase,
        orig,
        new,
        orig_master_is_new_slave: is_new_slave,
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        shell_words::split(line).unwrap()
    }

    // The argument lists below are MHA 0.58's own, as its modules build them.

    #[test]
    fn failover_status_at_manager_start() {
        let c = parse(&args(
            "--command=status --ssh_user=root --orig_master_host=db1 --orig_master_ip=10.0.1.10 --orig_master_port=3306",
        ))
        .unwrap();
        assert_eq!(c.phase, Phase::Status);
        assert_eq!(c.orig.host.as_deref(), Some("db1"));
        assert_eq!(c.orig.ip.as_deref(), Some("10.0.1.10"));
        assert_eq!(c.orig.port, Some(3306));
        assert_eq!(c.orig.ssh_user.as_deref(), Some("root"));
        assert!(c.ignored.is_empty());
    }

    #[test]
    fn failover_stop_with_and_without_ssh_and_the_ssh_extras() {
        let c = parse(&args(
            "--command=stopssh --ssh_user=root --orig_master_host=db1 --orig_master_ip=10.0.1.10 --orig_master_port=3306 --orig_master_ssh_host=db1-mgmt --orig_master_ssh_ip=10.9.0.1 --orig_master_ssh_port=2222 --ssh_options='-o ConnectTimeout=5'",
        ))
        .unwrap();
        assert_eq!(
            c.phase,
            Phase::Stop {
                host_reachable: true
            }
        );
        assert!(c.ignored.is_empty(), "{:?}", c.ignored);
        let c = parse(&args(
            "--command=stop --orig_master_host=db1 --orig_master_ip=10.0.1.10 --orig_master_port=3306",
        ))
        .unwrap();
        assert_eq!(
            c.phase,
            Phase::Stop {
                host_reachable: false
            }
        );
        assert_eq!(c.orig.ssh_user, None);
    }

    #[test]
    fn failover_start_carries_the_new_master_and_its_password_stays_secret() {
        let c = parse(&args(
            "--command=start --ssh_user=root --orig_master_host=db1 --orig_master_ip=10.0.1.10 --orig_master_port=3306 --new_master_host=db2 --new_master_ip=10.0.2.10 --new_master_port=3306 --new_master_user=mha --new_master_password='s3cr3t pass' --new_master_ssh_host=db2-mgmt --new_master_ssh_port=2222",
        ))
        .unwrap();
        assert_eq!(c.phase, Phase::Start);
        assert_eq!(c.new.host.as_deref(), Some("db2"));
        assert_eq!(c.new.ip.as_deref(), Some("10.0.2.10"));
        assert_eq!(c.new.user.as_deref(), Some("mha"));
        assert_eq!(c.new.password.as_ref().unwrap().expose(), "s3cr3t pass");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn online_change_stop_and_start_with_both_users_and_the_new_slave_flag() {
        let line = "--command=stop --orig_master_host=db1 --orig_master_ip=10.0.1.10 --orig_master_port=3306 --orig_master_user=mha --orig_master_password=pw1 --new_master_host=db2 --new_master_ip=10.0.2.10 --new_master_port=3306 --new_master_user=mha --new_master_password=pw2 --orig_master_ssh_user=root --new_master_ssh_user=root --orig_master_is_new_slave";
        let c = parse(&args(line)).unwrap();
        assert_eq!(
            c.phase,
            Phase::Stop {
                host_reachable: false
            }
        );
        assert!(c.orig_master_is_new_slave);
        assert_eq!(c.orig.password.as_ref().unwrap().expose(), "pw1");
        assert_eq!(c.new.ssh_user.as_deref(), Some("root"));
        let c = parse(&args(&line.replace("--command=stop", "--command=start"))).unwrap();
        assert_eq!(c.phase, Phase::Start);
    }

    #[test]
    fn space_separated_values_unknown_options_and_empty_values() {
        let c = parse(&args(
            "--command start --new_master_host db2 --new_master_port 3307 --orig_master_host= --some_fork_option=x --another_flag",
        ))
        .unwrap();
        assert_eq!(c.phase, Phase::Start);
        assert_eq!(c.new.port, Some(3307));
        assert_eq!(c.orig.host, None);
        assert_eq!(c.ignored, ["some_fork_option", "another_flag"]);
    }

    #[test]
    fn what_cannot_be_understood_is_named() {
        assert_eq!(
            parse(&args("--orig_master_host=db1")),
            Err(ArgError::NoCommand)
        );
        assert_eq!(
            parse(&args("--command=restart")),
            Err(ArgError::UnknownCommand("restart".into()))
        );
        assert!(matches!(
            parse(&args("--command=start --new_master_port=x")),
            Err(ArgError::BadPort { .. })
        ));
        assert_eq!(
            parse(&args("start")),
            Err(ArgError::NotAnOption("start".into()))
        );
    }
}

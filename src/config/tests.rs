use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;

pub(super) struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    pub(super) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(super) fn secret(&self, name: &str, mode: u32) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, "pw\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    pub(super) fn config(&self, text: &str, mode: u32) -> PathBuf {
        let path = self.dir.path().join("vipkeeper.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

pub(super) fn good_config(secret: &Path) -> String {
    format!(
        r#"
[agent]
state_dir = "/var/lib/vipkeeper"

[[cluster]]
name = "main"

[cluster.users.monitor]
user = "vk_monitor"
password_file = "{s}"

[cluster.users.admin]
user = "vk_admin"
password_file = "{s}"

[cluster.users.replication]
user = "repl"
password_file = "{s}"

[cluster.timing]
probe_interval = "500ms"

[cluster.failover]
prefer = ["db2"]
never_promote = ["db3"]

[cluster.vip]
address = "10.254.0.10"
backends = ["aws-route-table", "local-address"]

[cluster.vip.aws-route-table]
route_tables = ["rtb-0a1b2c3d", "rtb-0e1f2a3b"]

[[cluster.node]]
name = "db1"
host = "10.0.1.10"
eni_id = "eni-0a1b2c3d4e5f60718"

[[cluster.node]]
name = "db2"
host = "10.0.2.10"
port = 3307
instance_id = "i-0abc1234def567890"

[[cluster.node]]
name = "db3"
host = "10.0.3.10"
eni_id = "eni-0b1b2c3d4e5f60718"
"#,
        s = secret.display()
    )
}

#[test]
fn a_complete_config_loads_with_defaults_filled_in() {
    let f = Fixture::new();
    let secret = f.secret("pw", 0o600);
    let path = f.config(&good_config(&secret), 0o600);
    let loaded = load(&path).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = &loaded.config.clusters[0];
    assert_eq!(c.name, "main");
    assert_eq!(c.nodes.len(), 3);
    assert_eq!(c.node("db1").unwrap().port, 3306);
    assert_eq!(c.node("db2").unwrap().port, 3307);
    assert_eq!(
        c.timing.probe_interval,
        std::time::Duration::from_millis(500)
    );
    assert_eq!(c.timing.unreachable_after, 3);
    assert_eq!(c.failover.prefer, vec!["db2".to_string()]);
    assert_eq!(c.users.admin.password.expose(), "pw");
    let vip = c.vip.as_ref().unwrap();
    assert_eq!(vip.backends.len(), 2);
    assert_eq!(
        vip.backends[1],
        BackendConfig::LocalAddress(LocalAddressConfig {
            interface: "lo".into()
        })
    );
}

#[test]
fn every_problem_gets_its_own_line_and_location() {
    let f = Fixture::new();
    let loose = f.secret("loose.pw", 0o644);
    let missing = f.dir.path().join("missing.pw");
    let text = format!(
        r#"[[cluster]]
name = "main"

[cluster.users.monitor]
user = "vk_monitor"
password_file = "{loose}"

[cluster.users.admin]
user = "vk_admin"
password_file = "{missing}"

[cluster.users.replication]
user = "repl"
password_file = "{loose}"

[[cluster.node]]
name = "db1"
host = "127.0.0.1"
port = 70000

[[cluster.node]]
name = "db2"
host = "127.0.0.2"
colour = "blue"

[[cluster.node]]
name = "db1"
host = "127.0.0.3"
"#,
        loose = loose.display(),
        missing = missing.display()
    );
    let path = f.config(&text, 0o600);
    let err = load(&path).unwrap_err();
    let lines: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    let find = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in {lines:#?}"))
            .clone()
    };
    let file = path.display().to_string();
    assert!(
        find("cannot read password file").starts_with(&format!("{file}:10:17: error: users.admin"))
    );
    assert_eq!(
        find("port 70000"),
        format!("{file}:19:8: error: node `db1`: port 70000 is out of range (use a TCP port from 1 to 65535)")
    );
    assert!(find("unknown field `colour`").starts_with(&format!("{file}:24:1: error:")));
    assert!(find("duplicate node name").starts_with(&format!(
        "{file}:27:8: error: duplicate node name `db1` (first defined at line 17)"
    )));
    let loose_line = find("users.monitor: password file");
    assert!(
        loose_line.starts_with(&format!("{file}:6:17: warning:")),
        "{loose_line}"
    );
    assert!(loose_line.contains("mode 0644") && loose_line.contains("chmod 600"));
    assert_eq!(lines.len(), 6, "{lines:#?}"); // + the replication user's loose file
}

#[test]
fn syntax_errors_and_unknown_sections_are_located() {
    let f = Fixture::new();
    let path = f.config("[[cluster]\nname = 1\n", 0o600);
    let err = load(&path).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(
        err.problems[0].to_string().contains(":1:"),
        "{}",
        err.problems[0]
    );
    assert!(err.problems[0].message.starts_with("not valid TOML"));

    let path = f.config("[agnet]\nstate_dir = \"/x\"\n", 0o600);
    let err = load(&path).unwrap_err();
    assert_eq!(
        err.problems[0].to_string(),
        format!("{}:1:2: error: unknown section `agnet` (the top level has only [agent], [coordination] and [[cluster]])", path.display())
    );
}

#[test]
fn inline_password_in_a_world_readable_file_is_a_warning_not_a_leak() {
    let f = Fixture::new();
    let secret = f.secret("pw", 0o600);
    let text = good_config(&secret).replacen(
        &format!("password_file = \"{}\"", secret.display()),
        "password = \"TopSecret99\"",
        1,
    );
    let path = f.config(&text, 0o644);
    let loaded = load(&path).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    let line = loaded.warnings[0].to_string();
    assert!(
        line.contains("inline password") && line.contains("chmod 600"),
        "{line}"
    );
    assert!(!line.contains("TopSecret99"));
    assert!(!format!("{:?}", loaded.config).contains("TopSecret99"));
}

#[test]
fn policy_and_vip_mistakes() {
    let f = Fixture::new();
    let secret = f.secret("pw", 0o600);
    let text = good_config(&secret)
        .replace("prefer = [\"db2\"]", "prefer = [\"db9\", \"db3\"]")
        .replace("probe_interval = \"500ms\"", "probe_interval = \"fast\"")
        .replace("address = \"10.254.0.10\"", "address = \"10.254.0\"")
        .replace("\"local-address\"]", "\"local-adress\"]")
        .replace("eni_id = \"eni-0b1b2c3d4e5f60718\"\n", "");
    let path = f.config(&text, 0o600);
    let messages: Vec<String> = load(&path)
        .unwrap_err()
        .problems
        .iter()
        .map(|p| p.message.clone())
        .collect();
    for expected in [
        "timing.probe_interval = \"fast\" is not a duration",
        "failover.prefer names `db9`, which is not a node of this cluster",
        "node `db3` is both preferred and never to be promoted",
        "vip.address `10.254.0` is not an IPv4 address",
        "unknown vip backend `local-adress`",
        "node `db3` has neither instance_id nor eni_id",
    ] {
        assert!(
            messages.iter().any(|m| m.starts_with(expected)),
            "missing {expected:?} in {messages:#?}"
        );
    }
}

#[test]
fn vip_retry_for_defaults_to_five_minutes_and_must_be_a_duration() {
    let f = Fixture::new();
    let secret = f.secret("pw", 0o600);
    let base = good_config(&secret);
    let vip = |c: &Config| c.clusters[0].vip.clone().unwrap();
    let c = load(&f.config(&base, 0o600)).unwrap().config;
    assert_eq!(vip(&c).retry_for, std::time::Duration::from_secs(300));
    let with = |value: &str| {
        base.replace(
            "backends = [\"aws-route-table\", \"local-address\"]",
            &format!(
                "backends = [\"aws-route-table\", \"local-address\"]\nretry_for = \"{value}\""
            ),
        )
    };
    let c = load(&f.config(&with("90s"), 0o600)).unwrap().config;
    assert_eq!(vip(&c).retry_for, std::time::Duration::from_secs(90));
    for bad in ["0s", "soon"] {
        let problems = load(&f.config(&with(bad), 0o600)).unwrap_err().problems;
        assert!(
            problems.iter().any(|p| p.message.contains("vip.retry_for")),
            "{bad}: {problems:#?}"
        );
    }
}

#[test]
fn password_from_environment() {
    let f = Fixture::new();
    let secret = f.secret("pw", 0o600);
    let text = good_config(&secret).replacen(
        &format!("password_file = \"{}\"", secret.display()),
        "password_env = \"VIPKEEPER_TEST_UNSET_VARIABLE\"",
        1,
    );
    let path = f.config(&text, 0o600);
    let err = load(&path).unwrap_err();
    assert!(err.problems[0]
        .to_string()
        .contains("environment variable VIPKEEPER_TEST_UNSET_VARIABLE is not set"));
}

#[test]
fn the_shipped_example_config_is_valid() {
    // Its secrets are files and an environment variable that only exist on a
    // real host: the example must fail on exactly those, and nothing else.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/vipkeeper.toml");
    let problems = match load(&path) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems,
    };
    let other: Vec<String> = problems
        .iter()
        .filter(|p| {
            !p.message.contains("password file") && !p.message.contains("environment variable")
        })
        .map(ToString::to_string)
        .collect();
    assert!(other.is_empty(), "{other:#?}");
    assert_eq!(problems.len(), 3, "{problems:#?}");
}

#[test]
fn switchover_limits_have_defaults_and_bad_ones_are_located() {
    let f = Fixture::new();
    let secret = f.secret("pw", 0o600);
    let c = load(&f.config(&good_config(&secret), 0o600))
        .unwrap()
        .config;
    assert_eq!(c.clusters[0].switchover, SwitchoverPolicy::default());

    let text = good_config(&secret).replacen(
        "[[cluster.node]]",
        "[cluster.switchover]\ndeadline = \"2s\"\nkill_grace = \"soon\"\n\n[[cluster.node]]",
        1,
    );
    let problems = load(&f.config(&text, 0o600)).unwrap_err().problems;
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0]
            .message
            .starts_with("switchover.kill_grace = \"soon\" is not a duration"),
        "{}",
        problems[0].message
    );
    assert!(problems[0].location.is_some());
}

#[test]
fn commands_are_split_by_shell_rules_or_given_as_an_argument_vector() {
    let f = Fixture::new();
    let s = f.secret("pw", 0o600);
    let base = good_config(&s).replace(
        "backends = [\"aws-route-table\", \"local-address\"]",
        "backends = [\"script\"]",
    );
    let with = |notify: &str, script: &str| {
        base.replace(
            "state_dir = \"/var/lib/vipkeeper\"",
            &format!("state_dir = \"/var/lib/vipkeeper\"\nnotify = {notify}"),
        )
        .replace(
            "[cluster.vip.aws-route-table]\nroute_tables = [\"rtb-0a1b2c3d\", \"rtb-0e1f2a3b\"]",
            &format!("[cluster.vip.script]\ncommand = {script}"),
        )
    };
    let text = with(
        r#""/usr/local/bin/page --to 'ops team' \"x y\"""#,
        r#"["/opt/move vip.sh", "--zone=a b"]"#,
    );
    let c = load(&f.config(&text, 0o600)).unwrap().config;
    assert_eq!(
        c.agent.notify.unwrap().argv,
        ["/usr/local/bin/page", "--to", "ops team", "x y"]
    );
    match &c.clusters[0].vip.as_ref().unwrap().backends[0] {
        BackendConfig::Script(ScriptConfig { command, .. }) => {
            assert_eq!(command.argv, ["/opt/move vip.sh", "--zone=a b"]);
            assert_eq!(command.to_string(), "'/opt/move vip.sh' '--zone=a b'");
        }
        other => panic!("{other:?}"),
    }
    let broken = with(r#""/bin/page 'unclosed""#, r#"[]"#);
    let e = load(&f.config(&broken, 0o600)).unwrap_err().to_string();
    assert!(e.contains("agent.notify: missing closing quote"), "{e}");
    assert!(e.contains("vip.script.command is empty"), "{e}");
}

#[test]
fn nlb_and_route53_settings_and_their_mistakes() {
    let f = Fixture::new();
    let secret = f.secret("pw", 0o600);
    let both = |route53: &str| {
        good_config(&secret)
            .replace(
                "backends = [\"aws-route-table\", \"local-address\"]",
                "backends = [\"aws-nlb\", \"aws-route53\"]",
            )
            .replace(
                "[cluster.vip.aws-route-table]\nroute_tables = [\"rtb-0a1b2c3d\", \"rtb-0e1f2a3b\"]",
                &format!(
                    "[cluster.vip.aws-nlb]\ntarget_group_arn = \"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/db/1\"\n\n\
                     [cluster.vip.aws-route53]\nhosted_zone_id = \"Z1\"\nrecord_name = \"db.example.internal\"\n{route53}"
                ),
            )
    };
    let c = load(&f.config(&both(""), 0o600)).unwrap().config;
    match &c.clusters[0].vip.as_ref().unwrap().backends[..] {
        [BackendConfig::AwsNlb(n), BackendConfig::AwsRoute53(r)] => {
            assert_eq!(n.deadline, std::time::Duration::from_secs(5));
            assert_eq!(n.port, None);
            assert_eq!((r.record_type, r.ttl), (RecordType::A, 1));
        }
        other => panic!("{other:?}"),
    }
    // A CNAME may name hosts; an A record and an IP target group may not.
    let named =
        |text: String| text.replace("host = \"10.0.3.10\"", "host = \"db3.example.internal\"");
    assert!(load(&f.config(&named(both("type = \"CNAME\"\n")), 0o600)).is_err());
    let messages: Vec<String> = load(&f.config(&named(both("type = \"MX\"\n")), 0o600))
        .unwrap_err()
        .problems
        .iter()
        .map(|p| p.message.clone())
        .collect();
    for expected in [
        "vip.aws-route53.type = \"MX\" is not a record type it writes",
        "node `db3` has host db3.example.internal, but aws-nlb registers IPv4 addresses",
    ] {
        assert!(
            messages.iter().any(|m| m.starts_with(expected)),
            "missing {expected:?} in {messages:#?}"
        );
    }
    let messages: Vec<String> = load(&f.config(&named(both("")), 0o600))
        .unwrap_err()
        .problems
        .iter()
        .map(|p| p.message.clone())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("node `db3` has host db3.example.internal, but an A record")),
        "{messages:#?}"
    );
}

#[test]
fn an_aurora_cluster_may_leave_its_instances_to_the_api_and_choose_its_reader_routing() {
    let f = Fixture::new();
    let secret = f.secret("pw", 0o600);
    let aurora = |routing: &str, aurora: bool| {
        format!(
            "[agent]\nstate_dir = \"/var/lib/vipkeeper\"\n\n[[cluster]]\nname = \"orders\"\n\n\
             [cluster.users.monitor]\nuser = \"vk_monitor\"\npassword_file = \"{}\"\n\n{}\
             [cluster.vip]\naddress = \"10.254.0.10\"\nbackends = [\"aws-route53\"]\n\n\
             [cluster.vip.aws-route53]\nhosted_zone_id = \"Z1\"\nrecord_name = \"db.example.internal\"\n\
             reader_record_name = \"readers.example.internal\"\n{routing}",
            secret.display(),
            if aurora {
                "[cluster.aurora]\ncluster_identifier = \"orders\"\n\n"
            } else {
                ""
            }
        )
    };
    let c = load(&f.config(&aurora("reader_routing = \"weighted\"\n", true), 0o600))
        .unwrap()
        .config;
    assert!(c.clusters[0].nodes.is_empty());
    match &c.clusters[0].vip.as_ref().unwrap().backends[..] {
        [BackendConfig::AwsRoute53(r)] => {
            assert_eq!(r.reader_routing, crate::config::ReaderRouting::Weighted)
        }
        other => panic!("{other:?}"),
    }
    let messages = |text: String| -> Vec<String> {
        load(&f.config(&text, 0o600))
            .unwrap_err()
            .problems
            .iter()
            .map(|p| p.message.clone())
            .collect()
    };
    let wrong = messages(aurora("reader_routing = \"latency\"\n", true));
    assert!(
        wrong.iter().any(|m| m
            .starts_with("vip.aws-route53.reader_routing = \"latency\" is not a routing policy")),
        "{wrong:#?}"
    );
    // Without [cluster.aurora] the nodes are vipkeeper's only source.
    let none = messages(aurora("", false));
    assert!(
        none.iter().any(|m| m == "this cluster has no nodes"),
        "{none:#?}"
    );
}

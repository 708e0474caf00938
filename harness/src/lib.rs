//! Test harness: real MariaDB and MySQL servers on loopback, the AWS
//! emulator, network namespaces, a writing client and a `read_only` poller.
//! One crate, compiled once, shared by the integration tests, the demo, the
//! sandbox (`make sandbox`) and the benchmark.

/// Instantiates each `async fn test(flavor: Flavor)` once per flavor, as
/// `test::mariadb` and `test::mysql`; a flavor that cannot run here is
/// skipped with the reason (and fails under CI=true: see `require`).
#[macro_export]
macro_rules! per_flavor {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread")]
            async fn mariadb() {
                if $crate::require($crate::Flavor::Mariadb) {
                    super::$test($crate::Flavor::Mariadb).await
                }
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn mysql() {
                if $crate::require($crate::Flavor::Mysql) {
                    super::$test($crate::Flavor::Mysql).await
                }
            }
        }
    )*};
}

pub mod agent;
pub mod aurora;
pub mod chaos;
pub mod cluster;
pub mod etcd;
pub mod fault_proxy;
pub mod flavor;
pub mod http;
pub mod imds;
pub mod mha;
pub mod moto;
pub mod narrate;
pub mod netns;
pub mod nlb_dns;
pub mod poller;
pub mod probe;
pub mod proxy;
pub mod report;
pub mod server;
pub mod systemd;
pub mod template;
pub mod tls;
pub mod vpc;
pub mod vpc_aws;
pub mod vpc_nlb;
pub mod writer;

pub use cluster::{ClusterSpec, ConfigExtras, TestCluster};
pub use flavor::Flavor;

/// Whether `flavor` can run here. Outside CI a missing server skips the test
/// with the reason; in CI (CI=true) it fails, since CI must run everything.
pub fn require(flavor: Flavor) -> bool {
    available_or_skip(&format!("the {} tests", flavor.name()), flavor.available())
}

/// True when `check` passed. Otherwise the test is skipped with the reason,
/// or, under CI (CI=true), fails: CI must run everything.
pub fn available_or_skip(what: &str, check: Result<(), String>) -> bool {
    match check {
        Ok(()) => true,
        Err(why) if std::env::var_os("CI").is_some() => panic!("CI must run {what}, but {why}"),
        Err(why) => {
            eprintln!("SKIPPED: {what}: {why}");
            false
        }
    }
}

/// The vipkeeper binary of this build: `VIPKEEPER_BIN` if set, else the
/// one beside the running test or example (`target/<profile>/vipkeeper`;
/// tests run from `deps/`, examples from `examples/`), which cargo builds
/// before integration tests.
pub fn bin() -> std::path::PathBuf {
    if let Some(b) = std::env::var_os("VIPKEEPER_BIN") {
        return b.into();
    }
    let exe = std::env::current_exe().expect("the running executable's path");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("a test or example runs from target/<profile>/{deps,examples}");
    profile_dir.join("vipkeeper")
}

/// `vipkeeper report JOURNAL --svg`: the summary it prints and the SVG,
/// checked to be well-formed XML.
pub fn report_of(journal: &str, dir: &std::path::Path) -> (String, String) {
    let svg_path = dir.join("timeline.svg");
    let (code, out, err) = vipkeeper(&["report", journal, "--svg", svg_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("not well-formed XML ({e})"));
    (out, svg)
}

/// Runs `vipkeeper -c CONFIG ARGS` with `env` added; (exit code, stdout
/// and stderr together).
pub fn vipkeeper_on(
    config: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String) {
    let out = std::process::Command::new(bin())
        .arg("-c")
        .arg(config)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("running vipkeeper");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs the vipkeeper binary; returns (exit code, stdout, stderr).
pub fn vipkeeper(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(bin())
        .args(args)
        .output()
        .expect("running vipkeeper");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

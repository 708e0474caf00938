//! The moto AWS emulator (PyPI `moto[server]`) on a loopback port, and a
//! VPC seeded in it over the SDK: three subnets in three AZs, one instance
//! per subnet, and N route tables whose VIP route targets db1's ENI.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aws_sdk_ec2::types::InstanceType;
use vipkeeper::aws::{ec2, AwsTarget};

use super::netns::Netns;

pub fn venv() -> PathBuf {
    std::env::var_os("VIPKEEPER_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/vipkeeper-test/moto-venv"))
}

pub struct Moto {
    pub port: u16,
    child: Child,
}

impl Moto {
    pub fn available() -> Result<(), String> {
        let bin = venv().join("bin/moto_server");
        if bin.exists() {
            Ok(())
        } else {
            Err(format!(
                "no moto server at {} (run `make deps`)",
                bin.display()
            ))
        }
    }

    pub fn start() -> Result<Self> {
        Self::start_in(None)
    }

    /// The emulator on loopback inside `netns` (reachable only from there),
    /// or on this namespace's loopback.
    pub fn start_in(netns: Option<&Netns>) -> Result<Self> {
        // The SDK reads credentials and region from the environment; the
        // emulator accepts any.
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            // SAFETY: every test sets the same values; nothing reads them concurrently in a conflicting way.
            unsafe { std::env::set_var(k, v) };
        }
        let port = super::cluster::free_port()?;
        let server = venv().join("bin/moto_server");
        let mut cmd = match netns {
            // `ip netns exec` execs the server: the child's PID is the server's.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &ns.name]).arg(&server);
                c
            }
            None => Command::new(&server),
        };
        let child = cmd
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting moto_server")?;
        let moto = Self { port, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let answered = match netns {
                Some(ns) => ns
                    .run_inside(move || http_get(port, "/moto-api/").is_ok())
                    .unwrap_or(false),
                None => http_get(port, "/moto-api/").is_ok(),
            };
            if answered {
                return Ok(moto);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("moto_server did not answer on port {port} within 20 s")
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn target(&self) -> AwsTarget {
        AwsTarget {
            region: Some("us-east-1".into()),
            endpoint_url: Some(self.endpoint()),
            deadline: Duration::from_secs(10),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The emulator's first call to a service loads that service's whole
/// model, which on a busy machine outlasts the SDK's per-attempt bound (3 s
/// at most) again and again: set-up makes one cheap call per service first,
/// over plain HTTP, with all of `SEED_DEADLINE`. A failure here is left to
/// the set-up call that follows to report.
pub fn warm_up(target: &AwsTarget, services: &[&str]) {
    let Some(port) = target
        .endpoint_url
        .as_deref()
        .and_then(|u| u.rsplit(':').next())
        .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
    else {
        return;
    };
    for service in services {
        let (method, path, body) = match *service {
            "ec2" => ("POST", "/", "Action=DescribeRegions&Version=2016-11-15"),
            "rds" => ("POST", "/", "Action=DescribeDBClusters&Version=2014-10-31"),
            "elasticloadbalancing" => (
                "POST",
                "/",
                "Action=DescribeLoadBalancers&Version=2015-12-01",
            ),
            "route53" => ("GET", "/2013-04-01/hostedzone", ""),
            _ => continue,
        };
        let _ = call(port, service, method, path, body, SEED_DEADLINE);
    }
}

fn call(
    port: u16,
    service: &str,
    method: &str,
    path: &str,
    body: &str,
    within: Duration,
) -> Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(within))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    anyhow::ensure!(out.contains(" 200 "), "{out}");
    Ok(())
}

fn http_get(port: u16, path: &str) -> Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    anyhow::ensure!(
        out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200"),
        "{out}"
    );
    Ok(out)
}

/// An image moto 5 always has (its default AMIs).
const KNOWN_IMAGE: &str = "ami-03cf127a";

/// How long each set-up call to the emulator may take.
pub const SEED_DEADLINE: Duration = Duration::from_secs(60);

/// What the seeding created.
#[derive(Debug, Clone)]
pub struct SeededVpc {
    pub vpc_id: String,
    pub instances: Vec<String>,
    pub enis: Vec<String>,
    pub route_tables: Vec<String>,
}

/// A VPC 10.0.0.0/16 with subnets in us-east-1a/b/c, an instance in each
/// (source/dest check on, as AWS creates them), and `tables` route tables
/// routing `vip`/32 to the first instance's ENI.
pub async fn seed(moto: &Moto, tables: usize, vip: &str) -> Result<SeededVpc> {
    seed_at(&moto.target(), tables, vip).await
}

/// As `seed`, through `target` (from a thread in the emulator's namespace).
pub async fn seed_at(target: &AwsTarget, tables: usize, vip: &str) -> Result<SeededVpc> {
    // Set-up has its own, generous deadline: on a busy machine the
    // emulator's first answers are slow, and that is not what is tested.
    let setup = AwsTarget {
        deadline: SEED_DEADLINE,
        ..target.clone()
    };
    warm_up(target, &["ec2"]);
    let c = ec2(&setup).await;
    let e = |what: &str| format!("seeding the emulator: {what}");
    let vpc = c
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .with_context(|| e("CreateVpc"))?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .context("no vpc id")?
        .to_string();
    // One image the emulator ships, asked for by id: the whole catalogue
    // (1,301 images) took 10-17 s to list on a loaded machine.
    let images = c
        .describe_images()
        .image_ids(KNOWN_IMAGE)
        .send()
        .await
        .with_context(|| e("DescribeImages"))?;
    let image = images
        .images()
        .first()
        .and_then(|i| i.image_id())
        .context("the emulator has no image")?
        .to_string();
    let mut instances = Vec::new();
    let mut enis = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b", "us-east-1c"]
        .iter()
        .enumerate()
    {
        let subnet = c
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("10.0.{}.0/24", i + 1))
            .availability_zone(*az)
            .send()
            .await
            .with_context(|| e("CreateSubnet"))?;
        let subnet_id = subnet
            .subnet()
            .and_then(|s| s.subnet_id())
            .context("no subnet id")?
            .to_string();
        let run = c
            .run_instances()
            .image_id(&image)
            .instance_type(InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .subnet_id(&subnet_id)
            .send()
            .await
            .with_context(|| e("RunInstances"))?;
        let inst = run.instances().first().context("no instance")?;
        instances.push(inst.instance_id().context("no instance id")?.to_string());
        let eni = inst
            .network_interfaces()
            .first()
            .and_then(|n| n.network_interface_id())
            .context("no ENI")?
            .to_string();
        enis.push(eni);
    }
    let mut route_tables = Vec::new();
    for _ in 0..tables {
        let rt = c
            .create_route_table()
            .vpc_id(&vpc_id)
            .send()
            .await
            .with_context(|| e("CreateRouteTable"))?;
        let id = rt
            .route_table()
            .and_then(|r| r.route_table_id())
            .context("no route table id")?
            .to_string();
        c.create_route()
            .route_table_id(&id)
            .destination_cidr_block(format!("{vip}/32"))
            .network_interface_id(&enis[0])
            .send()
            .await
            .with_context(|| e("CreateRoute"))?;
        route_tables.push(id);
    }
    Ok(SeededVpc {
        vpc_id,
        instances,
        enis,
        route_tables,
    })
}

/// The VIP route's target in each of `tables`, read straight from the emulator.
pub async fn vip_targets(moto: &Moto, tables: &[String], vip: &str) -> Result<Vec<Option<String>>> {
    vip_targets_at(&moto.target(), tables, vip).await
}

/// As `vip_targets`, through `target`.
pub async fn vip_targets_at(
    target: &AwsTarget,
    tables: &[String],
    vip: &str,
) -> Result<Vec<Option<String>>> {
    let c = ec2(target).await;
    let cidr = format!("{vip}/32");
    let mut out = Vec::new();
    for t in tables {
        let r = c.describe_route_tables().route_table_ids(t).send().await?;
        out.push(
            r.route_tables()
                .first()
                .and_then(|rt| {
                    rt.routes()
                        .iter()
                        .find(|x| x.destination_cidr_block() == Some(&cidr))
                })
                .and_then(|x| x.network_interface_id().map(str::to_string)),
        );
    }
    Ok(out)
}

/// Source/dest check of `eni`, read from the emulator.
pub async fn source_dest_check(moto: &Moto, eni: &str) -> Result<Option<bool>> {
    let c = ec2(&moto.target()).await;
    let r = c
        .describe_network_interfaces()
        .network_interface_ids(eni)
        .send()
        .await?;
    Ok(r.network_interfaces()
        .first()
        .and_then(|n| n.source_dest_check()))
}

/// A vipkeeper config in `dir` for `seeded`'s VPC: one cluster `main` whose
/// VIP is routed by `aws-route-table` in the emulator at `endpoint`, nodes
/// db1.. at 10.0.<i>.10 with the seeded ENIs (no database behind them).
pub fn route_table_config(
    dir: &std::path::Path,
    endpoint: &str,
    seeded: &SeededVpc,
    vip: &str,
    deadline: &str,
) -> Result<PathBuf> {
    let secret = dir.join("pw");
    super::cluster::write_secret(&secret, "pw")?;
    let tables: Vec<String> = seeded
        .route_tables
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect();
    let mut text = format!(
        "[agent]\nstate_dir = \"{d}/state\"\nlisten = \"\"\n\n[[cluster]]\nname = \"main\"\n\
         [cluster.users.monitor]\nuser = \"m\"\npassword_file = \"{s}\"\n\
         [cluster.users.admin]\nuser = \"a\"\npassword_file = \"{s}\"\n\
         [cluster.users.replication]\nuser = \"r\"\npassword_file = \"{s}\"\n\
         [cluster.vip]\naddress = \"{vip}\"\nbackends = [\"aws-route-table\"]\n\
         [cluster.vip.aws-route-table]\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\n\
         deadline = \"{deadline}\"\nroute_tables = [{t}]\n",
        d = dir.display(),
        s = secret.display(),
        t = tables.join(", "),
    );
    for (i, eni) in seeded.enis.iter().enumerate() {
        text.push_str(&format!(
            "[[cluster.node]]\nname = \"db{n}\"\nhost = \"10.0.{n}.10\"\neni_id = \"{eni}\"\n",
            n = i + 1
        ));
    }
    let path = dir.join("vipkeeper.toml");
    std::fs::write(&path, text)?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(path)
}

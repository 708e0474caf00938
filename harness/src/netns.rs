//! Network namespaces for tests: created with `ip netns add`, configured
//! with `ip -n`, entered by one thread with setns(2), deleted when dropped.

use std::process::Command;

use anyhow::{bail, Context, Result};

pub struct Netns {
    pub name: String,
    /// Deleted when dropped (false for a handle on another's namespace).
    owned: bool,
}

impl Netns {
    /// A fresh namespace named `vk-<tag>-<pid>-<n>`, with `lo` up.
    pub fn create(tag: &str) -> Result<Self> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("vk-{tag}-{}-{n}", std::process::id());
        // A namespace left by a crashed run of the same pid, if any.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(std::process::Stdio::null())
            .status();
        run(&["ip", "netns", "add", &name])?;
        let ns = Self { name, owned: true };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A handle on a namespace someone else created and will delete.
    pub fn existing(name: &str) -> Self {
        Self {
            name: name.to_string(),
            owned: false,
        }
    }

    /// Whether namespaces can be made here; the reason when not.
    pub fn available() -> Result<(), String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("network namespaces need root".into());
        }
        match Command::new("ip").arg("-V").output() {
            Ok(o) if o.status.success() => Ok(()),
            _ => Err("the `ip` command (iproute2) is missing".into()),
        }
    }

    /// `ip -n <ns> args...`
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["ip", "-n", &self.name];
        full.extend_from_slice(args);
        run(&full)
    }

    /// Runs `f` on a new thread that has entered this namespace, and
    /// returns its result.
    pub fn run_inside<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        self.spawn_inside(f)
            .join()
            .map_err(|_| anyhow::anyhow!("the namespace thread panicked"))?
    }

    /// Starts `f` on a new thread that has entered this namespace (its
    /// sockets, and the processes it starts, live there).
    pub fn spawn_inside<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<Result<T>> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || -> Result<T> {
            let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).context("setns")?;
            Ok(f())
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run(args: &[&str]) -> Result<String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .with_context(|| format!("running {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Names resolved inside a namespace for the programs `ip netns exec`
/// starts there: `ip` bind-mounts `/etc/netns/<name>/hosts` over
/// `/etc/hosts` for them. Removed when dropped.
pub struct HostsOverride {
    dir: std::path::PathBuf,
}

impl Netns {
    /// `/etc/hosts` plus `entries` (address, name) for programs started
    /// in this namespace with `ip netns exec`.
    pub fn hosts(&self, entries: &[(String, String)]) -> Result<HostsOverride> {
        let dir = std::path::Path::new("/etc/netns").join(&self.name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        for (ip, name) in entries {
            text.push_str(&format!("{ip} {name}\n"));
        }
        std::fs::write(dir.join("hosts"), text)?;
        Ok(HostsOverride { dir })
    }
}

impl Drop for HostsOverride {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

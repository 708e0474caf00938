//! `[cluster.users]`: the monitor, admin and replication accounts, each
//! with its password from a file, the environment or (warned about) the
//! config file itself.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::model::*;
use super::problem::Problems;
use super::raw::*;
use super::secret::{self, Secret, SecretSource};

type S<T> = Spanned<T>;

/// `only_monitor`: an Aurora cluster, where vipkeeper changes nothing on
/// the servers; admin and replication default to the monitor account.
pub fn users(path: &Path, raw: &RawUsers, only_monitor: bool, p: &mut Problems) -> Option<Users> {
    let mut one = |role: &str, c: &Option<S<RawCredentials>>| {
        c.as_ref()
            .and_then(|c| credentials(path, &format!("users.{role}"), c, p))
    };
    let monitor = one("monitor", &raw.monitor);
    let admin = match &raw.admin {
        None if only_monitor => monitor.clone(),
        c => one("admin", c),
    };
    let replication = match &raw.replication {
        None if only_monitor => monitor.clone(),
        c => one("replication", c),
    };
    Some(Users {
        monitor: monitor?,
        admin: admin?,
        replication: replication?,
    })
}

/// One account's user and password; `label` names it in messages
/// (`users.monitor`, `coordination.auth`).
pub(super) fn credentials(
    path: &Path,
    label: &str,
    raw: &S<RawCredentials>,
    p: &mut Problems,
) -> Option<Credentials> {
    let c = raw.get_ref();
    let user = c.user.get_ref();
    if user.is_empty() {
        p.error(
            Some(c.user.span()),
            format!("{label}: user is empty"),
            "name the account vipkeeper logs in as".to_string(),
        );
    }
    let given: Vec<&str> = [
        c.password.as_ref().map(|_| "password"),
        c.password_file.as_ref().map(|_| "password_file"),
        c.password_env.as_ref().map(|_| "password_env"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() != 1 {
        p.error(
            Some(raw.span()),
            format!(
                "{label}: {}",
                if given.is_empty() {
                    "no password given".to_string()
                } else {
                    format!("several passwords given ({})", given.join(", "))
                }
            ),
            "give exactly one of password_file (recommended), password_env or password".to_string(),
        );
        return None;
    }
    let (password, source) = if let Some(inline) = &c.password {
        if let Some(mode) = secret::readable_by_others(path) {
            p.warning(
                Some(inline.span()),
                format!(
                    "{label}: inline password in a config file readable by group/others (mode {mode:04o})"
                ),
                format!("chmod 600 {} or use password_file", path.display()),
            );
        }
        (Secret::new(inline.get_ref().clone()), SecretSource::Inline)
    } else if let Some(file) = &c.password_file {
        let file_path = PathBuf::from(file.get_ref());
        if !file_path.is_absolute() {
            p.error(
                Some(file.span()),
                format!(
                    "{label}: password_file `{}` is not an absolute path",
                    file.get_ref()
                ),
                "use an absolute path".to_string(),
            );
            return None;
        }
        let secret = match secret::read_password_file(&file_path) {
            Ok(s) => s,
            Err(e) => {
                p.error(Some(file.span()), format!("{label}: {}", e.message), e.hint);
                return None;
            }
        };
        if let Some(mode) = secret::readable_by_others(&file_path) {
            p.warning(
                Some(file.span()),
                format!(
                    "{label}: password file {} is readable by group/others (mode {mode:04o})",
                    file_path.display()
                ),
                format!("chmod 600 {}", file_path.display()),
            );
        }
        (secret, SecretSource::File(file_path))
    } else {
        let var = c.password_env.as_ref()?;
        match secret::read_password_env(var.get_ref()) {
            Ok(s) => (s, SecretSource::Env(var.get_ref().clone())),
            Err(e) => {
                p.error(Some(var.span()), format!("{label}: {}", e.message), e.hint);
                return None;
            }
        }
    };
    super::redact::remember(
        &password,
        match &source {
            SecretSource::Env(v) => Some(v.as_str()),
            _ => None,
        },
    );
    (!user.is_empty()).then(|| Credentials {
        user: user.clone(),
        password,
        source,
    })
}

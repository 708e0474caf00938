//! Passwords: where they come from (inline, a file, an environment
//! variable) and a wrapper that never prints them.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A password. `Debug` and `Display` print `***`; only `expose` reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a password is kept, as the config names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Inline,
    File(PathBuf),
    Env(String),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline => f.write_str("inline password"),
            SecretSource::File(p) => write!(f, "password file {}", p.display()),
            SecretSource::Env(v) => write!(f, "environment variable {v}"),
        }
    }
}

/// Why a password could not be read: a sentence and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretError {
    pub message: String,
    pub hint: String,
}

/// Reads a password file: the first line, without its line ending.
pub fn read_password_file(path: &Path) -> Result<Secret, SecretError> {
    let text = std::fs::read_to_string(path).map_err(|e| SecretError {
        message: format!("cannot read password file {}: {e}", path.display()),
        hint: "create it with the password on its first line, mode 0600".into(),
    })?;
    let first = text.lines().next().unwrap_or("");
    if first.is_empty() {
        return Err(SecretError {
            message: format!("password file {} is empty", path.display()),
            hint: "put the password on its first line".into(),
        });
    }
    Ok(Secret::new(first))
}

pub fn read_password_env(var: &str) -> Result<Secret, SecretError> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
        Ok(_) => Err(SecretError {
            message: format!("environment variable {var} is empty"),
            hint: "set it to the password (e.g. in the systemd unit's EnvironmentFile)".into(),
        }),
        Err(_) => Err(SecretError {
            message: format!("environment variable {var} is not set"),
            hint: "set it to the password (e.g. in the systemd unit's EnvironmentFile)".into(),
        }),
    }
}

/// The permission bits that let group or others read `path`, if any.
pub fn readable_by_others(path: &Path) -> Option<u32> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn password_file_first_line_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\nignored\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_password_file(&f).unwrap().expose(), "s3cret");
        assert_eq!(readable_by_others(&f), Some(0o644));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(readable_by_others(&f), None);
        let missing = read_password_file(&dir.path().join("nope")).unwrap_err();
        assert!(missing.message.contains("cannot read password file"));
    }
}

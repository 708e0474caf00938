//! Every configured secret, known to the whole process, so that no text
//! vipkeeper logs, stores or hands on carries one: a server's error message
//! can echo part of a password (MariaDB error 1470 quotes the first 64
//! characters of one that is too long), and a child process inherits the
//! environment a `password_env` secret came from.

use std::sync::RwLock;

use super::Secret;

/// Shortest run of a secret's characters that is scrubbed wherever it
/// appears; a whole secret is scrubbed at any length from `MIN_WHOLE`.
const MIN_RUN: usize = 8;
const MIN_WHOLE: usize = 4;

#[derive(Default)]
struct Known {
    secrets: Vec<String>,
    env_vars: Vec<String>,
}

static KNOWN: RwLock<Known> = RwLock::new(Known {
    secrets: Vec::new(),
    env_vars: Vec::new(),
});

/// Remembers `secret` (and the environment variable it came from).
pub fn remember(secret: &Secret, env_var: Option<&str>) {
    let mut k = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    let value = secret.expose().to_string();
    if !value.is_empty() && !k.secrets.contains(&value) {
        k.secrets.push(value);
    }
    if let Some(v) = env_var {
        if !k.env_vars.iter().any(|e| e == v) {
            k.env_vars.push(v.to_string());
        }
    }
}

/// Environment variables a child process must not inherit: those secrets
/// were read from, and any other whose value is a secret.
pub fn secret_env_vars() -> Vec<String> {
    let k = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    let mut out = k.env_vars.clone();
    for (name, value) in std::env::vars_os() {
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            continue;
        };
        if k.secrets.iter().any(|s| s == value) && !out.iter().any(|o| o == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// `text` with every known secret, and every run of at least `MIN_RUN`
/// characters of one, replaced by `***`.
pub fn scrub(text: &str) -> String {
    let k = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    scrub_with(text, &k.secrets)
}

fn scrub_with(text: &str, secrets: &[String]) -> String {
    let bytes = text.as_bytes();
    let mut covered = vec![false; bytes.len()];
    let mut mark = |needle: &[u8]| {
        if needle.is_empty() || needle.len() > bytes.len() {
            return;
        }
        for start in 0..=bytes.len() - needle.len() {
            if &bytes[start..start + needle.len()] == needle {
                covered[start..start + needle.len()].fill(true);
            }
        }
    };
    for s in secrets {
        let s = s.as_bytes();
        if s.len() >= MIN_WHOLE {
            mark(s);
        }
        // Every window of MIN_RUN bytes: together they cover every longer
        // common run.
        if s.len() > MIN_RUN {
            for w in s.windows(MIN_RUN) {
                mark(w);
            }
        }
    }
    if !covered.contains(&true) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for (i, c) in text.char_indices() {
        let hidden = covered[i..i + c.len_utf8()].contains(&true);
        match (hidden, in_run) {
            (true, false) => out.push_str("***"),
            (true, true) => {}
            (false, _) => out.push(c),
        }
        in_run = hidden;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_secrets_and_long_runs_of_them_are_hidden() {
        let long = "a".repeat(10) + &"Secret-long-password-XYZ".repeat(5);
        let secrets = vec!["hunter22".to_string(), long.clone()];
        assert_eq!(
            scrub_with("login hunter22 failed", &secrets),
            "login *** failed"
        );
        // A server echoing only the first 64 characters.
        let echoed = format!("String '{}' is too long", &long[..64]);
        assert_eq!(scrub_with(&echoed, &secrets), "String '***' is too long");
        // Seven characters in common are not a secret.
        assert_eq!(scrub_with("hunter2 x", &secrets), "hunter2 x");
        assert_eq!(scrub_with("nothing here", &secrets), "nothing here");
        assert_eq!(scrub_with("é hunter22 é", &secrets), "é *** é");
    }
}

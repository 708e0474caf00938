//! Reading a config file: TOML → raw (spanned) structs → validated model.
//!
//! serde stops at the first error of whatever it deserializes, so the
//! document is taken apart first and each section and each node is
//! deserialized on its own: a file with five mistakes in five places gets
//! five lines, not one.

use std::path::Path;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::model::Config;
use super::problem::{Problem, Problems};
use super::raw::{RawAgent, RawClusterEntry, RawDocument, RawNode, RawUsers};
use super::validate;

/// A config that passed validation, and the warnings it still deserves.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Problem>,
}

/// The failure to load a config: every problem found, errors and warnings.
#[derive(Debug)]
pub struct LoadError {
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let errors: Vec<String> = self
            .problems
            .iter()
            .filter(|p| p.is_error())
            .map(ToString::to_string)
            .collect();
        write!(f, "invalid configuration:\n  {}", errors.join("\n  "))
    }
}

impl std::error::Error for LoadError {}

/// The largest config file read: a real one is a few kilobytes, and a path
/// like /dev/zero must not fill the memory.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let text = read_bounded(path).map_err(|(message, hint)| {
        let mut p = Problems::new(path, "");
        p.error(None, message, hint);
        LoadError {
            problems: p.into_sorted(),
        }
    })?;
    load_str(path, &text)
}

/// The file's text, at most `MAX_CONFIG_BYTES` of it; (message, hint) otherwise.
fn read_bounded(path: &Path) -> Result<String, (String, String)> {
    use std::io::Read;
    let cannot = |e: std::io::Error| {
        (
            format!("cannot read the config file: {e}"),
            "create it (conf/vipkeeper.toml is a commented example) or pass --config PATH"
                .to_string(),
        )
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err((
            format!(
                "the config file is larger than {} MiB: this is not a vipkeeper config",
                MAX_CONFIG_BYTES / 1024 / 1024
            ),
            "pass the path of the TOML config file with --config".to_string(),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        (
            format!(
                "the config file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            "save it as UTF-8 text".to_string(),
        )
    })
}

/// Validates config `text` as if read from `path` (used for locations and
/// for the permission checks of inline secrets).
pub fn load_str(path: &Path, text: &str) -> Result<Loaded, LoadError> {
    let mut problems = Problems::new(path, text);
    let document = parse(text, &mut problems);
    let config = document.and_then(|doc| validate::validate(path, doc, &mut problems));
    let has_errors = problems.has_errors();
    let list = problems.into_sorted();
    match config {
        Some(config) if !has_errors => Ok(Loaded {
            config,
            warnings: list,
        }),
        _ => Err(LoadError { problems: list }),
    }
}

fn parse(text: &str, problems: &mut Problems) -> Option<RawDocument> {
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            problems.error(
                e.span(),
                format!("not valid TOML: {}", first_line(e.message())),
                "fix the syntax at this place".to_string(),
            );
            return None;
        }
    };
    let mut doc = RawDocument {
        agent: RawAgent::default(),
        coordination: None,
        clusters: Vec::new(),
    };
    let root_span = root.span();
    for (key, value) in root.into_inner() {
        match key.get_ref().as_ref() {
            "agent" => {
                if let Some(agent) = deserialize(value, problems) {
                    doc.agent = agent;
                }
            }
            "coordination" => doc.coordination = deserialize(value, problems),
            "cluster" => parse_clusters(value, problems, &mut doc.clusters),
            other => problems.error(
                Some(key.span()),
                format!("unknown section `{other}`"),
                "the top level has only [agent], [coordination] and [[cluster]]".to_string(),
            ),
        }
    }
    if doc.clusters.is_empty() && !problems.has_errors() {
        problems.error(
            Some(root_span.start..root_span.start),
            "no cluster is configured",
            "add a [[cluster]] table with its [[cluster.node]] entries".to_string(),
        );
    }
    Some(doc)
}

fn parse_clusters(
    value: Spanned<DeValue<'_>>,
    problems: &mut Problems,
    out: &mut Vec<RawClusterEntry>,
) {
    let span = value.span();
    let DeValue::Array(items) = value.into_inner() else {
        problems.error(
            Some(span),
            "`cluster` must be an array of tables",
            "write each cluster as a [[cluster]] table".to_string(),
        );
        return;
    };
    for item in items {
        let span = item.span();
        let DeValue::Table(mut table) = item.into_inner() else {
            problems.error(
                Some(span),
                "a cluster must be a table",
                "write [[cluster]]".to_string(),
            );
            continue;
        };
        let (nodes, bad_nodes) = match table.remove("node") {
            Some(nodes) => parse_nodes(nodes, problems),
            None => (Vec::new(), 0),
        };
        let only_monitor = table.contains_key("aurora");
        let users = match table.remove("users") {
            Some(users) => parse_users(users, only_monitor, problems),
            None => {
                problems.error(
                    Some(span.clone()),
                    "this cluster has no [cluster.users.*] tables",
                    "add [cluster.users.monitor], [cluster.users.admin] and [cluster.users.replication]"
                        .to_string(),
                );
                RawUsers::default()
            }
        };
        let cluster = deserialize(Spanned::new(span.clone(), DeValue::Table(table)), problems);
        out.push(RawClusterEntry {
            span,
            cluster,
            users,
            nodes,
            bad_nodes,
        });
    }
}

/// `only_monitor`: an Aurora cluster needs the monitor account alone.
fn parse_users(
    value: Spanned<DeValue<'_>>,
    only_monitor: bool,
    problems: &mut Problems,
) -> RawUsers {
    let span = value.span();
    let mut users = RawUsers::default();
    let DeValue::Table(table) = value.into_inner() else {
        problems.error(
            Some(span),
            "`users` must be a table",
            "write [cluster.users.monitor] etc.".to_string(),
        );
        return users;
    };
    let mut seen = Vec::new();
    for (key, value) in table {
        let slot = match key.get_ref().as_ref() {
            "monitor" => &mut users.monitor,
            "admin" => &mut users.admin,
            "replication" => &mut users.replication,
            other => {
                problems.error(
                    Some(key.span()),
                    format!("unknown user role `{other}`"),
                    "the roles are monitor, admin and replication".to_string(),
                );
                continue;
            }
        };
        seen.push(key.get_ref().to_string());
        let value_span = value.span();
        *slot = deserialize(value, problems).map(|c| Spanned::new(value_span, c));
    }
    let needed: &[&str] = if only_monitor {
        &["monitor"]
    } else {
        &["monitor", "admin", "replication"]
    };
    for role in needed {
        if !seen.iter().any(|s| s == role) {
            problems.error(
                Some(span.clone()),
                format!("users.{role} is missing"),
                format!("add a [cluster.users.{role}] table with user and password_file"),
            );
        }
    }
    users
}

/// The nodes that deserialized, and how many did not.
fn parse_nodes(
    value: Spanned<DeValue<'_>>,
    problems: &mut Problems,
) -> (Vec<Spanned<RawNode>>, usize) {
    let span = value.span();
    let DeValue::Array(items) = value.into_inner() else {
        problems.error(
            Some(span),
            "`node` must be an array of tables",
            "write each node as a [[cluster.node]] table".to_string(),
        );
        return (Vec::new(), 1);
    };
    let total = items.len();
    let nodes: Vec<_> = items
        .into_iter()
        .filter_map(|item| {
            let span = item.span();
            deserialize(item, problems).map(|node| Spanned::new(span, node))
        })
        .collect();
    let bad = total - nodes.len();
    (nodes, bad)
}

/// Deserializes one value, reporting a failure at its exact place.
fn deserialize<T: DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
    problems: &mut Problems,
) -> Option<T> {
    let fallback = value.span();
    match T::deserialize(ValueDeserializer::from(value)) {
        Ok(v) => Some(v),
        Err(e) => {
            // serde names Rust types; a config's reader knows numbers and text.
            let message = first_line(e.message())
                .replace("expected i64", "expected a whole number")
                .replace("expected u32", "expected a whole number")
                .replace("expected a string", "expected text in quotes");
            let hint = if message.starts_with("unknown field") {
                "fix the spelling or remove the key"
            } else if message.starts_with("missing field") {
                "add it to this table"
            } else if message.contains("expected a whole number") {
                "write the number without quotes (a port is 1 to 65535, e.g. port = 3306)"
            } else {
                "see conf/vipkeeper.toml for the expected form"
            };
            problems.error(
                Some(e.span().unwrap_or(fallback)),
                message,
                hint.to_string(),
            );
            None
        }
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_string()
}

//! What `vipkeeper check` verifies on live servers, as pure rules over
//! probed state: server settings a safe failover depends on, and the
//! privileges each configured user needs.

pub mod privileges;
pub mod settings;

use serde::Serialize;

use crate::config::Severity;

/// One result of a check: a sentence, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub node: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl Finding {
    pub fn error(node: Option<&str>, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(Severity::Error, node, message.into(), hint.into())
    }

    pub fn warning(
        node: Option<&str>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, node, message.into(), hint.into())
    }

    fn new(severity: Severity, node: Option<&str>, message: String, hint: String) -> Self {
        Self {
            severity,
            node: node.map(str::to_string),
            message,
            hint: (!hint.is_empty()).then_some(hint),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}: ")?;
        if let Some(node) = &self.node {
            write!(f, "{node}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

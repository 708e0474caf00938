//! A problem found in a config file: where (file:line:column), what, and
//! what to do about it. One line each when printed.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// Line and column (both from 1, column in characters) of a byte offset.
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        Self { line, column }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    pub file: PathBuf,
    pub location: Option<Location>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Problem {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.location {
            write!(f, ":{}:{}", l.line, l.column)?;
        }
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {severity}: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// Collects problems for one file, turning byte spans into locations.
pub struct Problems<'a> {
    file: &'a Path,
    text: &'a str,
    pub list: Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Self {
            file,
            text,
            list: Vec::new(),
        }
    }

    pub fn error(
        &mut self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) {
        self.push(Severity::Error, span, message.into(), hint.into());
    }

    pub fn warning(
        &mut self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) {
        self.push(Severity::Warning, span, message.into(), hint.into());
    }

    fn push(
        &mut self,
        severity: Severity,
        span: Option<Range<usize>>,
        message: String,
        hint: Option<String>,
    ) {
        self.list.push(Problem {
            severity,
            file: self.file.to_path_buf(),
            location: span.map(|s| Location::of_offset(self.text, s.start)),
            message,
            hint,
        });
    }

    pub fn location(&self, span: Range<usize>) -> Location {
        Location::of_offset(self.text, span.start)
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Problem::is_error)
    }

    /// Problems in file order, errors before warnings at the same place.
    pub fn into_sorted(mut self) -> Vec<Problem> {
        self.list.sort_by_key(|p| (p.location, p.severity));
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(
            Location::of_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::of_offset(text, 6),
            Location { line: 2, column: 1 }
        );
        // Columns count characters, not bytes.
        assert_eq!(
            Location::of_offset(text, 9),
            Location { line: 2, column: 3 }
        );
    }

    #[test]
    fn prints_one_line_with_location_and_hint() {
        let p = Problem {
            severity: Severity::Error,
            file: "/etc/vipkeeper/vipkeeper.toml".into(),
            location: Some(Location { line: 7, column: 8 }),
            message: "port 70000 is out of range".into(),
            hint: Some("use 1-65535".into()),
        };
        assert_eq!(
            p.to_string(),
            "/etc/vipkeeper/vipkeeper.toml:7:8: error: port 70000 is out of range (use 1-65535)"
        );
    }
}

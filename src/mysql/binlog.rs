//! Binary log coordinates: `mysql-bin.000042:1234`.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinlogCoord {
    pub file: String,
    pub position: u64,
}

impl BinlogCoord {
    pub fn new(file: impl Into<String>, position: u64) -> Self {
        Self {
            file: file.into(),
            position,
        }
    }

    /// Orders two coordinates of the same binlog series (same base name):
    /// by file sequence number, then position. `None` for different series.
    pub fn compare(&self, other: &BinlogCoord) -> Option<Ordering> {
        let (base_a, seq_a) = split(&self.file)?;
        let (base_b, seq_b) = split(&other.file)?;
        (base_a == base_b).then(|| (seq_a, self.position).cmp(&(seq_b, other.position)))
    }
}

/// `mysql-bin.000042` → (`mysql-bin`, 42).
fn split(file: &str) -> Option<(&str, u64)> {
    let (base, seq) = file.rsplit_once('.')?;
    Some((base, seq.parse().ok()?))
}

impl fmt::Display for BinlogCoord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_file_sequence_then_position() {
        let a = BinlogCoord::new("mysql-bin.000009", 900);
        let b = BinlogCoord::new("mysql-bin.000010", 4);
        let c = BinlogCoord::new("mysql-bin.000010", 5);
        assert_eq!(a.compare(&b), Some(Ordering::Less));
        assert_eq!(c.compare(&b), Some(Ordering::Greater));
        assert_eq!(b.compare(&b), Some(Ordering::Equal));
        assert_eq!(a.compare(&BinlogCoord::new("other-bin.000001", 4)), None);
        assert_eq!(a.to_string(), "mysql-bin.000009:900");
    }
}

//! Marking MySQL transactions done without running them: an empty
//! transaction under each GTID (`SET GTID_NEXT='uuid:n'; BEGIN; COMMIT`),
//! so that a replica catching up from a server that holds them does not
//! copy them. A GTID the server has already executed commits as nothing.

use super::conn::Session;
use super::error::DbError;
use super::gtid::MysqlGtidSet;

/// The most transactions marked in one go: errant transactions are a few
/// written by hand, and a set larger than this is a mistake to look at.
pub const MOST: u64 = 10_000;

/// Marks every GTID of `set` done on the server of `s`; how many.
pub async fn mark_done(s: &mut Session, set: &MysqlGtidSet) -> Result<u64, DbError> {
    let mut marked = 0;
    for (source, intervals) in set.iter() {
        let prefix = if source.tag.is_empty() {
            source.uuid.clone()
        } else {
            format!("{}:{}", source.uuid, source.tag)
        };
        for i in intervals {
            for n in i.start()..=i.end() {
                s.exec(&format!("SET GTID_NEXT = '{prefix}:{n}'")).await?;
                s.exec("BEGIN").await?;
                s.exec("COMMIT").await?;
                marked += 1;
            }
        }
    }
    s.exec("SET GTID_NEXT = 'AUTOMATIC'").await?;
    Ok(marked)
}

/// How many transactions `set` holds.
pub fn count(set: &MysqlGtidSet) -> u64 {
    set.iter()
        .flat_map(|(_, intervals)| intervals.iter())
        .map(|i| i.end() - i.start() + 1)
        .sum()
}

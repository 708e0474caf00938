//! Who we are logged in as, and what we may do.

use super::conn::Session;
use super::error::DbError;

/// `CURRENT_USER()` (as `'user'@'host'`) and its global privileges as
/// information_schema.USER_PRIVILEGES lists them (dynamic privileges
/// included on MySQL, `ALL` expanded). Privileges held only through roles
/// are not listed there.
pub async fn current_privileges(s: &mut Session) -> Result<(String, Vec<String>), DbError> {
    const GRANTEE: &str = "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', \
                           SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')";
    let who = s
        .first(&format!("SELECT {GRANTEE} AS grantee"))
        .await?
        .and_then(|mut r| r.remove("grantee").flatten())
        .unwrap_or_default();
    let rows = s
        .rows(&format!(
            "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = {GRANTEE}"
        ))
        .await?;
    let privileges = rows
        .into_iter()
        .filter_map(|mut r| r.remove("PRIVILEGE_TYPE").flatten())
        .collect();
    Ok((who, privileges))
}

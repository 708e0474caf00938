//! Normalisation of real rows captured from MariaDB 10.11 and MySQL 9.7
//! (src/mysql/fixtures/*.tsv: `column<TAB>value`, `\N` for NULL).

use super::*;

fn fixture(name: &str) -> Row {
    let path = format!("{}/src/mysql/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|line| {
            let (k, v) = line.split_once('\t').unwrap_or((line, ""));
            let v = (v != "\\N").then(|| v.replace("\\n", "\n"));
            (k.to_string(), v)
        })
        .collect()
}

fn status(name: &str, flavor: Flavor) -> ReplicaStatus {
    ReplicaStatus::from_row(&fixture(name), flavor).unwrap()
}

#[test]
fn healthy_rows_agree_across_all_three_syntaxes() {
    let mariadb = status("mariadb-healthy.tsv", Flavor::Mariadb);
    let mysql = status("mysql-healthy.tsv", Flavor::Mysql);
    let legacy = status("mysql80-legacy-healthy.tsv", Flavor::Mysql);
    for s in [&mariadb, &mysql, &legacy] {
        assert!(s.is_healthy(), "{s:?}");
        assert_eq!(s.problem(), None);
        assert_eq!(s.source_host, "127.0.0.1");
        assert_eq!(s.source_user, "vk_repl");
        assert_eq!(s.source_server_id, Some(1));
        assert_eq!(s.seconds_behind, Some(0));
        assert_eq!(s.received, s.executed, "caught up");
    }
    assert_eq!(
        mariadb.received,
        Some(BinlogCoord::new("mysql-bin.000001", 822))
    );
    assert_eq!(mariadb.source_port, 34031);
    assert_eq!(mariadb.position_mode, PositionMode::SlavePos);
    assert_eq!(
        mariadb.retrieved_gtids.as_ref().unwrap().to_string(),
        "0-1-3"
    );
    assert_eq!(mariadb.source_uuid, None);

    assert_eq!(
        mysql.received,
        Some(BinlogCoord::new("mysql-bin.000001", 811))
    );
    assert_eq!(mysql.position_mode, PositionMode::AutoPosition);
    let uuid = mysql.source_uuid.clone().unwrap();
    assert_eq!(
        mysql.retrieved_gtids.as_ref().unwrap().to_string(),
        format!("{uuid}:1-3")
    );
    assert_eq!(mysql.executed_gtids, mysql.retrieved_gtids);
    // The legacy row is the MySQL row under old names: same meaning (only
    // the free-text thread states say "master" instead of "source").
    assert_eq!(legacy.io_state, "Waiting for master to send event");
    let same_words = ReplicaStatus {
        io_state: mysql.io_state.clone(),
        sql_state: mysql.sql_state.clone(),
        ..legacy
    };
    assert_eq!(same_words, mysql);
}

#[test]
fn duplicate_key_stops_the_sql_thread() {
    for (file, flavor) in [
        ("mariadb-sql-error.tsv", Flavor::Mariadb),
        ("mysql-sql-error.tsv", Flavor::Mysql),
    ] {
        let s = status(file, flavor);
        assert!(!s.sql_running, "{file}");
        assert_eq!(s.io_thread, IoThread::Yes, "{file}");
        assert_eq!(s.last_sql_errno, 1062, "{file}");
        let problem = s.problem().unwrap();
        assert!(
            problem.starts_with("SQL thread stopped by error 1062"),
            "{problem}"
        );
    }
}

#[test]
fn dead_source_leaves_the_io_thread_connecting() {
    for (file, flavor) in [
        ("mariadb-io-error.tsv", Flavor::Mariadb),
        ("mysql-io-error.tsv", Flavor::Mysql),
    ] {
        let s = status(file, flavor);
        assert_eq!(s.io_thread, IoThread::Connecting, "{file}");
        assert!(s.sql_running, "{file}");
        assert_eq!(s.last_io_errno, 2003, "{file}");
        assert!(s.problem().unwrap().contains("cannot connect"), "{file}");
    }
}

#[test]
fn a_row_without_thread_columns_is_a_clear_error() {
    let mut row = fixture("mysql-healthy.tsv");
    row.remove("Replica_IO_Running");
    let err = ReplicaStatus::from_row(&row, Flavor::Mysql).unwrap_err();
    assert!(
        err.to_string()
            .contains("Replica_IO_Running or Slave_IO_Running"),
        "{err}"
    );
}

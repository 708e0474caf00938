//! `rust-version` says the truth: it is what the locked dependencies need
//! (the newest `rust-version` among them), no older and no newer.

#[test]
fn rust_version_is_what_the_locked_dependencies_need() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let parse = |v: &str| -> Vec<u32> { v.split('.').map(|x| x.parse().unwrap()).collect() };
    let mut ours = None;
    let mut needed: Option<(Vec<u32>, String)> = None;
    for p in meta["packages"].as_array().unwrap() {
        let Some(rv) = p["rust_version"].as_str() else {
            continue;
        };
        if p["name"] == "vipkeeper" {
            ours = Some(parse(rv));
        } else if needed.as_ref().is_none_or(|(n, _)| parse(rv) > *n) {
            needed = Some((parse(rv), p["name"].as_str().unwrap().to_string()));
        }
    }
    let (needed, by) = needed.unwrap();
    assert_eq!(
        ours.unwrap(),
        needed,
        "Cargo.toml's rust-version must be {needed:?}, what {by} needs"
    );
}

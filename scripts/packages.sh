#!/usr/bin/env bash
# Builds target/packages/vipkeeper_<v>-1_amd64.deb and vipkeeper-<v>-1.x86_64.rpm
# from the binary of PROFILE (default release), already built.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-release}"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
profile_dir=$profile
[ "$profile" = dev ] && profile_dir=debug
bin="$target_dir/$profile_dir/vipkeeper"
out="$target_dir/packages"
mkdir -p "$out" packaging/generated
"$bin" generate --out packaging/generated
gzip -9n -c packaging/generated/vipkeeper.1 > packaging/generated/vipkeeper.1.gz
# Both tools read the binary as target/release/vipkeeper: give them this one.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/release"
cp "$bin" "$stage/release/vipkeeper"
strip "$stage/release/vipkeeper" 2>/dev/null || true
CARGO_TARGET_DIR="$stage" cargo deb --no-build --no-strip --output "$out/" -q
cargo generate-rpm --target-dir "$stage" --output "$out/"
ls -1 "$out"

#!/usr/bin/env bash
# Builds vipkeeper_<v>-<rev>_amd64.deb and vipkeeper-<v>-<rev>.x86_64.rpm from
# the binary of PROFILE (already built) into OUT.
# Usage: packages.sh [PROFILE (release)] [OUT (<target>/packages)] [REVISION (1)]
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-release}"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
out="${2:-$target_dir/packages}"
revision="${3:-1}"
profile_dir=$profile
[ "$profile" = dev ] && profile_dir=debug
bin="${VIPKEEPER_BIN:-$target_dir/$profile_dir/vipkeeper}"
version=$("$bin" --version | awk '{print $2}')
mkdir -p "$out"
# One build at a time: the generated files have one place (tests build in parallel).
exec 9>"$target_dir/.packages.lock"
flock 9
stage=$(mktemp -d)
trap 'rm -rf "$stage" packaging/generated' EXIT
# The generated files go where Cargo.toml's asset lists expect them.
rm -rf packaging/generated
"$bin" generate --out packaging/generated
gzip -9n -c packaging/generated/vipkeeper.1 > packaging/generated/vipkeeper.1.gz
# Both tools read the binary as target/release/vipkeeper: give them this one.
mkdir -p "$stage/release"
cp "$bin" "$stage/release/vipkeeper"
strip "$stage/release/vipkeeper"
CARGO_TARGET_DIR="$stage" cargo deb --no-build --no-strip -q \
  --deb-version "$version-$revision" --output "$out/"
cargo generate-rpm --target-dir "$stage" --set-metadata "release = \"$revision\"" --output "$out/"
ls -1 "$out"

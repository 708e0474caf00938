#!/usr/bin/env bash
# make demo: a VPC in a box on this machine (network namespaces), three
# MariaDB hosts behind a router that routes the VIP, the vipkeeper agents,
# a client writing through the VIP — then kill -9 of the master, narrated.
# Needs root. Everything it starts is removed at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

printf '\n\033[1m==> building vipkeeper and the demo (the first build takes several minutes; cargo shows its progress)\033[0m\n'
# DEMO_AURORA=1: an Aurora cluster in the emulator, followed (docs/AURORA.md).
demo=demo
[ "${DEMO_AURORA:-}" = 1 ] && demo=demo_aurora
cargo build --bin vipkeeper --example "$demo"
target=${CARGO_TARGET_DIR:-target}
printf '\n'
"$target/debug/examples/$demo" "$target/debug/vipkeeper"

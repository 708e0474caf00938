#!/usr/bin/env bash
# make demo: a 3-node MariaDB cluster on this machine, the vipkeeper agent
# watching it, and a kill -9 of the master: watch it fail over. Cleans up on
# exit and on Ctrl-C.
#
# The VIP is not moved yet (the network backends come with the VIP work): the
# demo shows detection, promotion and repointing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m%s %s\033[0m\n' "$(date +%H:%M:%S.%3N)" "$*"; }
agent_pid=""
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
  cargo run -q --example sandbox -- down >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

say "building vipkeeper (the first build takes a minute or two) ..."
cargo build --bin vipkeeper --example sandbox
bin=${CARGO_TARGET_DIR:-target}/debug/vipkeeper

cleanup
say "starting three MariaDB 10.11 servers on 127.0.0.1: db1 is the master, db2 and db3 replicate from it"
config=$(cargo run -q --example sandbox -- up mariadb)
dir=$(dirname "$config")

say "vipkeeper check: the config, every node's settings and every user's privileges"
"$bin" -c "$config" check

say "vipkeeper status: the replication tree"
"$bin" -c "$config" status || true

say "starting the agent (its log: $dir/agent.log)"
NO_COLOR=1 "$bin" -c "$config" agent >"$dir/agent.log" 2>&1 &
agent_pid=$!
sleep 2

pid=$(awk '$1 == "pid" && $2 == "db1" {print $3}' target/sandbox/sandbox.state)
say "kill -9 of the master (db1, pid $pid)"
kill -9 "$pid"
for _ in $(seq 1 100); do grep -q "replaced db1" "$dir/agent.log" && break; sleep 0.1; done

say "what the agent did:"
sed -n '/the connection to the master broke/,/journal:/p' "$dir/agent.log" | sed -E 's/^([0-9T:.-]+)Z +[A-Z]+ +[a-z_:]+: /\1  /'

say "vipkeeper status: the new master and its replica"
"$bin" -c "$config" status || true
say "cleaning up"

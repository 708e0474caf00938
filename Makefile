# vipkeeper — the commands a developer and CI use.
#   make demo      a sandbox cluster on this machine fails over while you watch
#                  (DEMO_AWS=1: the VPC route tables in the AWS emulator;
#                   DEMO_AURORA=1: an Aurora cluster followed, behind an NLB)
#   make test      install what is needed, lint, and run the whole suite
#   make sandbox FLAVOR=mariadb|mysql   a 3-node cluster; prints its config path last
#   make sandbox-down

FLAVOR ?= mariadb
CARGO ?= cargo

.PHONY: all build deps lint test unit demo sandbox sandbox-down clean bench races chaos packages

all: build

build:
	$(CARGO) build --all-targets

deps:
	@bash scripts/install-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The whole suite: unit and property tests, then integration tests against
# real MariaDB 10.11 and MySQL 9 servers (CI=true makes a missing server fail
# instead of skip).
test: deps lint
	@# Every locked crate, for every platform: the rust-version test reads
	@# their metadata offline.
	$(CARGO) fetch --locked
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --no-fail-fast --failure-output final; \
	else \
	  $(CARGO) test --no-fail-fast; \
	fi

# Pure logic only: no servers, seconds.
unit:
	$(CARGO) test --lib

demo: deps
	@bash scripts/demo.sh

sandbox: deps
	@$(CARGO) build -q --bin vipkeeper --example sandbox
	@$(CARGO) run -q --example sandbox -- up $(FLAVOR)

sandbox-down:
	@$(CARGO) run -q --example sandbox -- down

clean: sandbox-down
	$(CARGO) clean

# Unplanned failovers, timed (≥ 10 per flavor and fault); results go to
# docs/BENCHMARKS.md. Not part of `make test`: it takes several minutes.
bench: deps
	$(CARGO) build --release --bin vipkeeper --example bench
	$(CARGO) run --release --example bench -- --runs $(or $(RUNS),10)

# Never two writers, never none: the race tests (two managers failing over
# at once, two switchovers, the agent during a switchover), each raced
# RACE_ROUNDS times on a fresh cluster per flavor with a read_only poller.
# `make test` runs them 3 times each.
races: deps
	VIPKEEPER_RACE_ROUNDS=$(or $(RACE_ROUNDS),20) $(CARGO) nextest run --test races --no-fail-fast

# Faults drawn at random from a seed (kill -9, SIGSTOP, black hole, a
# manager cut off, lagging or errant replicas, the candidate killed
# mid-failover, a second failure...), each on a fresh cluster with a client
# writing and a read_only checker; the figures go to docs/RELIABILITY.md.
# SEED=N replays a run; FAULTS=N (default 30). `make test` runs a short one.
chaos: deps
	$(CARGO) build --release --bin vipkeeper --example chaos
	$(CARGO) run --release --example chaos -- --faults $(or $(FAULTS),30) $(if $(SEED),--seed $(SEED))

# The .deb and the .rpm, from the release binary, into target/packages/
# (cargo-deb and cargo-generate-rpm: `make deps` installs them).
PACKAGE_PROFILE ?= release
packages: deps
	$(CARGO) build --profile $(PACKAGE_PROFILE) --bin vipkeeper
	@bash scripts/packages.sh $(PACKAGE_PROFILE)


#!/usr/bin/env bash
# Installs what building and testing vipkeeper needs on a Debian 12 machine
# (run as root): MariaDB 10.11 from Debian, a private sid root with Oracle
# MySQL 9.x, and the Rust components used by `make test`. Fast when all is
# already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# lintian, rpmlint, rpm and systemd-container (systemd-nspawn): the package
# tests; openssl: the TLS tests' certificate authority; the real MHA 0.58
# and an sshd for it (the MHA tests start private sshds of their own);
# etcd (the managers' coordination; the tests start their own members) and
# protoc, which the etcd-client crate's build needs.
packages=(mariadb-server-core mariadb-client mmdebstrap iproute2 openssl lintian rpmlint rpm systemd-container
  mha4mysql-manager mha4mysql-node openssh-server etcd-server etcd-client protobuf-compiler)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: need root to install ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "==> installing Debian packages: ${missing[*]}"
  # No package may start a service here (openssh-server would start an sshd
  # on every address): a policy-rc.d that refuses, for the install only.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

bash scripts/install-mysql-root.sh
bash scripts/install-package-root.sh

# The packagers (`make packages` and the package tests), pinned.
for tool in cargo-deb@3.8.0 cargo-generate-rpm@0.21.1; do
  name=${tool%@*}
  version=${tool#*@}
  if ! "$name" --version 2>/dev/null | grep -q "$version"; then
    echo "==> installing $tool (a few minutes, once)"
    CARGO_TARGET_DIR="${CARGO_TOOLS_TARGET_DIR:-/var/cache/vipkeeper-ci/tools-target}" \
      cargo install --locked --quiet "$tool"
  fi
done

# The moto AWS emulator (PyPI moto[server]) in its own venv, for the VIP tests.
venv="${VIPKEEPER_MOTO_VENV:-/var/lib/vipkeeper-test/moto-venv}"
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "==> installing the moto AWS emulator into $venv"
  mkdir -p "$(dirname "$venv")"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --progress-bar on 'moto[server]>=5,<6'
fi

if command -v rustup >/dev/null; then
  for c in clippy rustfmt; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi
echo "==> dependencies ready"

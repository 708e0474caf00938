#!/usr/bin/env bash
# Builds a private Debian sid root holding Oracle MySQL 9.x (mysql-server-core),
# because no Debian 12 suite ships MySQL 8/9 and sid's binaries need sid's libc.
# The host's apt sources are never touched: the mirror is read from them.
# Usage: install-mysql-root.sh [ROOT]   (default: $VIPKEEPER_MYSQL_ROOT or /var/lib/vipkeeper-test/mysql-root)
set -euo pipefail
root="${1:-${VIPKEEPER_MYSQL_ROOT:-/var/lib/vipkeeper-test/mysql-root}}"

if [ -x "$root/usr/sbin/mysqld" ]; then
  echo "MySQL root already present: $root ($(chroot "$root" /usr/sbin/mysqld --version 2>/dev/null | head -1))"
  exit 0
fi

. "$(dirname "$0")/apt-mirror.sh"

command -v mmdebstrap >/dev/null || { echo "error: mmdebstrap is missing: apt-get install -y mmdebstrap" >&2; exit 1; }

tmp="$root.partial"
rm -rf "$tmp"
mkdir -p "$(dirname "$root")"
echo "Building a private sid root with mysql-server-core in $root (about 30 s) ..."
mmdebstrap --quiet --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' \
  --include=mysql-server-core,mysql-client-core sid "$tmp" "$mirror"
mv "$tmp" "$root"
echo "MySQL root ready: $root ($(chroot "$root" /usr/sbin/mysqld --version | head -1))"

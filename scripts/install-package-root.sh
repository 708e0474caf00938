#!/usr/bin/env bash
# Builds a private Debian root with systemd, for the package tests: the .deb
# is installed, upgraded and purged inside it, and it boots under
# systemd-nspawn so that the service runs under a real systemd. The mirror
# and the suite are the host's own (read from its apt configuration); the
# host's apt sources are never touched.
# Usage: install-package-root.sh [ROOT]   (default: $VIPKEEPER_PACKAGE_ROOT or /var/lib/vipkeeper-test/debian-root)
set -euo pipefail
root="${1:-${VIPKEEPER_PACKAGE_ROOT:-/var/lib/vipkeeper-test/debian-root}}"

if [ -x "$root/lib/systemd/systemd" ] && [ -x "$root/usr/sbin/adduser" ]; then
  echo "Debian root for the package tests already present: $root"
  exit 0
fi

. "$(dirname "$0")/apt-mirror.sh"
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-stable}")

tmp="$root.partial"
rm -rf "$tmp"
mkdir -p "$(dirname "$root")"
echo "Building a Debian $suite root with systemd in $root (about a minute) ..."
mmdebstrap --quiet --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' \
  --include=systemd,systemd-sysv,dbus,adduser,iproute2,procps,curl \
  "$suite" "$tmp" "$mirror"
mv "$tmp" "$root"
echo "Debian root ready: $root"

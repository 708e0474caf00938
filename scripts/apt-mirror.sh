# Sourced by the scripts that build private Debian roots: sets $mirror to
# the host's own Debian mirror, read from its apt configuration (never
# changed), or exits with the reason.
mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v -- '-security' | head -1 | awk '{print $2}')
if [ -z "$mirror" ]; then
  mirror=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v -- '-security' | head -1 | awk '{print $2}')
fi
if [ -z "$mirror" ]; then
  echo "error: no Debian mirror found in the apt configuration (/etc/apt/sources.list.d/*.sources or /etc/apt/sources.list)" >&2
  exit 1
fi

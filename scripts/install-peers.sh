#!/usr/bin/env bash
# Installs the interop peers (scripts/peers.txt) with apt-get: `npm run peers:install`, and .ci/run.
# Debian 12, as root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/peers.txt" | grep -v '^$')
# Installing must start no daemon: a dockerd on its defaults would set the host's FORWARD policy
# to DROP (breaking the namespace tests), prometheus would take port 9090, slapd its own ports.
# The tests start what they need themselves. Debian's policy-rc.d convention: exit 101 = "not now".
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# slapd's postinst would otherwise ask for a domain and an admin password; the tests configure
# their own directory instance.
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
DEBIAN_FRONTEND=noninteractive apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"

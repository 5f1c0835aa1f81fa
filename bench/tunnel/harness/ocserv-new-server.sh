#!/usr/bin/env bash
# SERVER_CMD for ocserv-bench.sh that runs the source-built ocserv (build-ocserv-new.sh) exactly as
# the harness runs Debian's: same generated config, config test, then foreground.
# Use with PRECREATE_TUN=0 (ocserv makes its own vpnsN devices), and put a directory holding an
# `ocserv` symlink to the new binary first in PATH if you want the run's .meta to name its version.
#   SERVER_CMD="bash bench/tunnel/harness/ocserv-new-server.sh" SERVER_NAME=ocserv15 PRECREATE_TUN=0 \
#     bench/tunnel/harness/ocserv-bench.sh all
# (`npm run bench:tunnel` does this by itself when /opt/ocserv-new exists.)
set -uo pipefail
BIN=${OCSERV_NEW_BIN:-/opt/ocserv-new/sbin/ocserv}   # ocserv-worker is found beside it
CONF=${BENCH_WORK:-$PWD}/etc/ocserv.conf
[[ -x $BIN ]] || { echo "ocserv-new-server: $BIN not found (run build-ocserv-new.sh)" >&2; exit 1; }
[[ -r $CONF ]] || { echo "ocserv-new-server: $CONF not found (run the harness setup first)" >&2; exit 1; }
[[ -z ${BENCH_TUN:-} ]] || { echo "ocserv-new-server: use PRECREATE_TUN=0 with ocserv" >&2; exit 1; }
"$BIN" --version 2>&1 | head -1 >&2
"$BIN" -t -c "$CONF" >&2 || { echo "ocserv-new-server: config test failed" >&2; exit 1; }
exec "$BIN" -f -c "$CONF"

#!/usr/bin/env bash
# SERVER_CMD for harness/ocserv-bench.sh: runs Outpost's gateway role from the harness's
# BENCH_* environment (see the contract in the harness header). Certificate auth against the
# harness CA (client CN "bench"), the harness's pre-created TUN, its pool, route and DNS.
# OUTPOST_TLS_MAX (TLSv1.3 | TLSv1.2) and OUTPOST_RECORD_LAYER (outpost | openssl) set
# gateway.tlsPolicy for comparisons. OUTPOST_DTLS_BURST_PAUSE sets gateway.dtls.burstPauseMicros
# (default 100; 0 = no pause between the send batches of a burst to one client).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="$BENCH_WORK/outpost-data"
mkdir -p "$DATA"
CFG="$BENCH_WORK/outpost.yaml"
cat > "$CFG" <<YAML
dataDir: $DATA
roles: [gateway]
admin: { listen: "127.0.0.1:9099" }
log: { level: warn }
gateway:
  listen: "$BENCH_LISTEN_ADDR:$BENCH_LISTEN_PORT"
  tls: { cert: "$BENCH_CERT", key: "$BENCH_KEY" }
  pool: { ipv4: "$BENCH_POOL" }
  dns: { servers: ["$BENCH_DNS"], domain: "$BENCH_DOMAIN" }
  routes: { include: ["$BENCH_ROUTE"] }
  tun: { name: "${BENCH_TUN:-outpost0}", mtu: 1472 }
  dtls: { burstPauseMicros: ${OUTPOST_DTLS_BURST_PAUSE:-100} }
  tlsPolicy: { maxVersion: "${OUTPOST_TLS_MAX:-TLSv1.3}", recordLayer: "${OUTPOST_RECORD_LAYER:-outpost}" }
  auth: { methods: [certificate], certificate: { ca: "$BENCH_CA", usernameFrom: cn } }
YAML
# OUTPOST_NODE_OPTIONS: extra node flags for profiling (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
# The appliance's node flags (container/node-flags.ts; its test keeps this line in step).
# shellcheck disable=SC2086
exec node --max-semi-space-size=32 ${OUTPOST_NODE_OPTIONS:-} "$ROOT/dist/container/cli/main.js" run --config "$CFG"

#!/usr/bin/env bash
# ocserv-bench.sh -- AnyConnect/CSTP VPN throughput harness (ocserv or any
# pluggable server) driven by the real openconnect client, all on one host
# using network namespaces. `npm run bench:tunnel` (bench/tunnel/run.ts) runs it
# once per server and round; bench/tunnel/outpost-server.sh is Outpost's SERVER_CMD.
# The programs it needs are in scripts/peers.txt: `npm run peers:install`.
#
# Usage:   ocserv-bench.sh [all|check|setup|start|transcript|run|stop|teardown|summary]
#   check      only check that the programs it runs are installed and it is root
#   all        (default) teardown stale state, setup, start server, capture the
#              HTTP transcript, connect, measure, teardown (trap on exit)
#   setup      namespaces + veths + addresses + nft + PKI + configs + iperf3 server
#   start      start the VPN server in the gw namespace (ocserv or $SERVER_CMD)
#   transcript one openconnect connect/disconnect with -v --dump-http-traffic
#   run        connect openconnect, measure baseline + VPN, print summary
#              (needs setup+start; leaves the client connected; `stop` ends it)
#   stop       stop client and server (namespaces stay)
#   teardown   idempotent: kill every process inside our namespaces (by PID),
#              delete the namespaces. Safe to run at any time.
#   summary    medians over every result row in $WORK/results/*.tsv
#
# Topology (addresses fixed, namespace names = ${NS_PREFIX}{dev,gw,corp}):
#
#   [dev]  dev0 10.200.1.2/24 ==veth== gw0 10.200.1.1/24  [gw]  gw1 10.200.2.1/24 ==veth== corp0 10.200.2.2/24 [corp]
#   openconnect, iperf3 -c            VPN server :443 tcp(+udp)      10.200.3.1/24          10.200.3.2/24 iperf3 -s
#                                     ip_forward=1, VPN tun(s)
#   VPN pool 10.200.100.0/24 (server side 10.200.100.1); split-include 10.200.2.0/24.
#   corp has "default via 10.200.2.1", so replies to the pool go back via gw (no NAT).
#   dev has NO route to 10.200.2.0/24 except through the tunnel, and gw's nft
#   forward chain drops gw0 -> 10.200.2.0/24, so VPN numbers cannot leak.
#   Baseline ("no VPN") = iperf3 dev -> 10.200.3.2 (same corp netns, same veths,
#   plain routing through gw), measured in the same run.
#
# Env parameters (defaults in brackets):
#   DURATION [10]   seconds per iperf3 test (plus OMIT seconds of warm-up)
#   OMIT [1]        iperf3 -O seconds discarded at test start
#   PARALLEL [4]    streams for the -P tests (tests: up, down, up-PN, down-PN)
#   REPEAT [1]      measurement rounds (baseline+vpn each round) per run; median
#   DTLS [0]        1 = enable UDP/DTLS on the server and require the client to
#                   establish it before measuring; 0 = TLS-only (--no-dtls)
#   AUTH [password] password (ocpasswd plain auth) | cert (client certificate)
#   BASELINE [1]    0 = skip the no-VPN baseline
#   SERVER_CMD []   shell command that replaces ocserv (see contract below)
#   SERVER_NAME     label in results [ocserv, or "custom" with SERVER_CMD]
#   PRECREATE_TUN   [0 for ocserv, 1 with SERVER_CMD] harness creates the gw
#                   tun "vpngw0" (10.200.100.1/24, up, IFF_TUN|IFF_NO_PI, persistent,
#                   mtu GW_TUN_MTU [1472 TLS / 1434 DTLS, what ocserv negotiates])
#   SERVER_START_TIMEOUT [60], CONNECT_TIMEOUT [30], DTLS_TIMEOUT [15]
#   TLS_PRIORITIES  ocserv tls-priorities [Debian default: TLS1.2 only]
#   SERVER_CPUS / CLIENT_CPUS []  optional taskset CPU lists for server / client side
#   NS_PREFIX [ocb-]  namespace name prefix      WORK [/tmp/outpost-bench]
#   OC_EXTRA_ARGS []  extra openconnect arguments (word-split), e.g. "--queue-len=32"
#   ONLY []         regex: run only the tests whose name matches (e.g. "down"; for iterating)
#   DIAG [0]        1 = after each test also log a "diag" line: CPU of both iperf3s (their own
#                   JSON), of every server thread that used >= 2% (main thread marked "main"),
#                   datagrams the client received (its Udp InDatagrams + RcvbufErrors) and the
#                   server's send syscalls (perf stat on sendmmsg/sendmsg/sendto), so datagrams
#                   per send syscall; with METRICS_URL (fetched inside the gw namespace) the
#                   increase of every counter there whose name matches METRICS_MATCH.
#   CLIENT_RCVBUF []  bytes: receive buffer of openconnect's UDP sockets (SO_RCVBUFFORCE
#                   through an LD_PRELOAD shim built with cc into $WORK; net.core.rmem_default
#                   is not per-namespace on Linux 6.x). Empty = the host default. Same for
#                   every server: it shows what the server could do with a client that drains more.
#   KEEP [0]        1 = with `all`, leave everything up at the end
#   TRANSCRIPT [1]  with `all`, capture a -v --dump-http-traffic transcript
#
# ---------------------------------------------------------------------------
# Contract for a pluggable server (SERVER_CMD):
#   The command is run as root with `bash -c "$SERVER_CMD"` inside the gw netns
#   (cwd = $WORK), stdout/stderr -> $WORK/run/server.log. It must:
#   1. Listen for TLS on $BENCH_LISTEN_ADDR:$BENCH_LISTEN_PORT (10.200.1.1:443)
#      with $BENCH_CERT / $BENCH_KEY (ECDSA P-256, SAN IP:10.200.1.1 and
#      DNS:vpn.bench.test, signed by $BENCH_CA; the client uses --cafile).
#      The harness waits (SERVER_START_TIMEOUT) until a TCP listener on :443 exists.
#   2. Speak the AnyConnect HTTP auth dialogue exactly like ocserv does (see
#      a capture of ocserv with `transcript`): POST / <config-auth type="init"> ->
#      <auth id="main"> form with username/password (AUTH=password; check
#      $BENCH_USER / $BENCH_PASS or the ocpasswd file $BENCH_PASSWD_FILE),
#      or accept the TLS client certificate (AUTH=cert, CA = $BENCH_CA,
#      user = cert CN "bench") -> <auth id="success"> + Set-Cookie: webvpn=...
#   3. Answer `CONNECT /CSCOSSLC/tunnel` with 200 and X-CSTP-Address
#      (from $BENCH_POOL, e.g. 10.200.100.2), X-CSTP-Netmask, X-CSTP-MTU,
#      X-CSTP-Split-Include: $BENCH_ROUTE (10.200.2.0/255.255.255.0),
#      X-CSTP-DNS: $BENCH_DNS, X-CSTP-DPD/Keepalive, then CSTP framing
#      ("STF\x01", len16be, type, 0; type 0 = data, 3/4 DPD, 7 keepalive, 5 disconnect).
#      If BENCH_DTLS=1 also listen on UDP $BENCH_UDP_PORT and send X-DTLS-* headers.
#   4. Move IP packets between the tunnel and a TUN device in the gw netns:
#      - PRECREATE_TUN=1 (default with SERVER_CMD): open /dev/net/tun and
#        TUNSETIFF name=$BENCH_TUN ("vpngw0"), flags IFF_TUN|IFF_NO_PI. The
#        harness already gave it 10.200.100.1/24 and set it up, so the kernel
#        routes the whole pool into it; demultiplex by destination IP.
#      - PRECREATE_TUN=0: create/configure your own tun(s) so that the client
#        address is routed into it (as ocserv does: one vpnsN per client,
#        local 10.200.100.1 peer <client>).
#      ip_forward=1 in gw and the return route from corp are done by the harness.
#   5. Exit on SIGTERM. At teardown the harness SIGTERMs, then SIGKILLs, every
#      process inside the gw namespace (found with `ip netns pids`).
#   Env passed: BENCH_LISTEN_ADDR BENCH_LISTEN_PORT BENCH_UDP_PORT BENCH_DTLS
#   BENCH_CERT BENCH_KEY BENCH_CA BENCH_AUTH BENCH_USER BENCH_PASS
#   BENCH_PASSWD_FILE BENCH_POOL BENCH_POOL_GW BENCH_ROUTE BENCH_DNS
#   BENCH_DOMAIN BENCH_TUN BENCH_NETNS BENCH_WORK
#   Example: SERVER_CMD='node /path/gateway.js' SERVER_NAME=tsgw ./ocserv-bench.sh
# ---------------------------------------------------------------------------
# Side by side:
#   ./ocserv-bench.sh                               # ocserv, TLS only
#   DTLS=1 ./ocserv-bench.sh                        # ocserv, DTLS (UDP) data path
#   SERVER_CMD='node /path/gw.js' SERVER_NAME=tsgw ./ocserv-bench.sh
#   ./ocserv-bench.sh summary                       # medians over all runs per server/mode
# Numbers are only comparable on the same host: on a 2-vCPU VM the client
# (openconnect + iperf3) and the server share the CPUs, so the VPN figures are
# CPU-bound (see sys-cpu); compare servers run back to back, REPEAT>=3.
#
# Output: per-test rows in $WORK/results/<runid>.tsv, full log in
# $WORK/results/<runid>.log, and as the very last line e.g.
#   ocserv tls tcp-up 1234 Mbit/s tcp-down 1300 Mbit/s tcp-up-P4 ... srv-cpu ...
# Every load (iperf3) is bounded by -t and by `timeout`; a watchdog ends the
# whole `all` run after MAX_RUNTIME seconds (default computed from the params).

set -uo pipefail

# ----------------------------------------------------------------- parameters
DURATION=${DURATION:-10}
OMIT=${OMIT:-1}
PARALLEL=${PARALLEL:-4}
REPEAT=${REPEAT:-1}
DTLS=${DTLS:-0}
AUTH=${AUTH:-password}
BASELINE=${BASELINE:-1}
SERVER_CMD=${SERVER_CMD:-}
if [[ -n $SERVER_CMD ]]; then
  SERVER_NAME=${SERVER_NAME:-custom}; PRECREATE_TUN=${PRECREATE_TUN:-1}
else
  SERVER_NAME=${SERVER_NAME:-ocserv}; PRECREATE_TUN=${PRECREATE_TUN:-0}
fi
GW_TUN_MTU=${GW_TUN_MTU:-$([[ $DTLS == 1 ]] && echo 1434 || echo 1472)}  # = ocserv's X-CSTP-MTU on a 1500 link
SERVER_START_TIMEOUT=${SERVER_START_TIMEOUT:-60}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-30}
DTLS_TIMEOUT=${DTLS_TIMEOUT:-15}
TLS_PRIORITIES=${TLS_PRIORITIES:-NORMAL:%SERVER_PRECEDENCE:%COMPAT:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-TLS1.3}
SERVER_CPUS=${SERVER_CPUS:-}
CLIENT_CPUS=${CLIENT_CPUS:-}
NS_PREFIX=${NS_PREFIX:-ocb-}
WORK=${WORK:-/tmp/outpost-bench}
KEEP=${KEEP:-0}
TRANSCRIPT=${TRANSCRIPT:-1}
TRANSCRIPT_OUT=${TRANSCRIPT_OUT:-}
OC_EXTRA_ARGS=${OC_EXTRA_ARGS:-}
CLIENT_RCVBUF=${CLIENT_RCVBUF:-}
ONLY=${ONLY:-}
DIAG=${DIAG:-0}
METRICS_URL=${METRICS_URL:-}
MAX_RUNTIME=${MAX_RUNTIME:-$(( REPEAT * 8 * (DURATION + OMIT + 15) + SERVER_START_TIMEOUT + 3 * CONNECT_TIMEOUT + 120 ))}

NS_DEV=${NS_PREFIX}dev NS_GW=${NS_PREFIX}gw NS_CORP=${NS_PREFIX}corp
DEV_IP=10.200.1.2 GW_PUB_IP=10.200.1.1
GW_PRIV_IP=10.200.2.1 CORP_IP=10.200.2.2
GW_BASE_IP=10.200.3.1 CORP_BASE_IP=10.200.3.2
POOL=10.200.100.0/24 POOL_GW=10.200.100.1
CORP_NET=10.200.2.0/24 BASE_NET=10.200.3.0/24
DNS_IP=10.200.2.53 DOMAIN=corp.test
VPN_PORT=443 IPERF_PORT=5201
VPN_USER=bench VPN_PASS=benchpass
CLIENT_TUN=vpn0 GW_TUN=vpngw0

PKI=$WORK/pki ETC=$WORK/etc RUN=$WORK/run RES=$WORK/results
HZ=$(getconf CLK_TCK)
VPN_MODE=$([[ $DTLS == 1 ]] && echo dtls || echo tls)

log()  { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }
nsx()  { local ns=$1; shift; ip netns exec "$ns" "$@"; }
now()  { date +%s.%N; }
pinned() { local cpus=$1; shift; if [[ -n $cpus ]]; then taskset -c "$cpus" "$@"; else "$@"; fi; }

need_tools() {
  local t miss=()
  for t in ip nft openssl ocpasswd openconnect iperf3 jq ss taskset timeout; do
    command -v "$t" >/dev/null || miss+=("$t")
  done
  [[ -z $SERVER_CMD ]] && ! command -v ocserv >/dev/null && miss+=(ocserv)
  [[ -x /usr/share/vpnc-scripts/vpnc-script ]] || miss+=(vpnc-scripts)
  ((${#miss[@]} == 0)) || die "missing programs: ${miss[*]} (install them with: npm run peers:install, Debian 12 as root)"
  [[ $(id -u) == 0 ]] || die "must run as root (network namespaces)"
}

# ------------------------------------------------------------------ teardown
ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

kill_ns_procs() { # SIGTERM, wait (bounded), SIGKILL every process inside netns $1
  local ns=$1 pids i
  ns_exists "$ns" || return 0
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  [[ -n ${pids// } ]] || return 0
  kill -TERM $pids 2>/dev/null
  for ((i = 0; i < 30; i++)); do
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    [[ -n ${pids// } ]] || return 0
    sleep 0.2
  done
  log "SIGKILL leftover pids in $ns: $pids"
  kill -KILL $pids 2>/dev/null
  sleep 0.3
}

teardown() {
  local ns
  # client first (clean CSTP BYE + vpnc-script disconnect), then server, then rest
  for ns in "$NS_DEV" "$NS_GW" "$NS_CORP"; do kill_ns_procs "$ns"; done
  for ns in "$NS_DEV" "$NS_GW" "$NS_CORP"; do
    ns_exists "$ns" && ip netns del "$ns" 2>/dev/null
  done
  rm -f "$RUN"/*.pid 2>/dev/null
  return 0
}

stop_client() { kill_ns_procs "$NS_DEV"; }
stop_server() { kill_ns_procs "$NS_GW"; }

# --------------------------------------------------------------------- setup
make_pki() {
  mkdir -p "$PKI"
  [[ -s $PKI/client.pem && -s $PKI/server.pem && -s $PKI/ca.pem ]] && return 0
  log "generating CA, server and client certificates in $PKI"
  (
    cd "$PKI" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout ca.key -out ca.pem -days 3650 -subj "/CN=VPN Bench Test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || exit 1
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout server.key -out server.csr -subj "/CN=vpn.bench.test" 2>/dev/null || exit 1
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=DNS:vpn.bench.test,IP:$GW_PUB_IP" > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -days 3650 -sha256 -extfile server.ext -out server.pem 2>/dev/null || exit 1
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout client.key -out client.csr -subj "/CN=$VPN_USER" 2>/dev/null || exit 1
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=clientAuth" > client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -days 3650 -sha256 -extfile client.ext -out client.pem 2>/dev/null || exit 1
    chmod 600 ./*.key
  ) || die "PKI generation failed"
}

write_configs() {
  mkdir -p "$ETC" "$RUN" "$RES"
  printf '%s\n%s\n' "$VPN_PASS" "$VPN_PASS" | ocpasswd -c "$ETC/ocpasswd" "$VPN_USER" \
    || die "ocpasswd failed"
  # vpnc-script wrapper: record what the server pushed, then drop DNS settings so
  # the real vpnc-script never rewrites the host's /etc/resolv.conf (the netns
  # shares the host filesystem).
  cat > "$ETC/vpnc-wrapper.sh" <<EOF
#!/bin/sh
env | grep -E '^(reason|VPNGATEWAY|VPNPID|TUNDEV|IDLE_TIMEOUT|INTERNAL_IP[46]_|CISCO_)' | sort > "$RUN/vpnc-env.\$reason"
unset INTERNAL_IP4_DNS INTERNAL_IP6_DNS CISCO_DEF_DOMAIN CISCO_SPLIT_DNS
exec /usr/share/vpnc-scripts/vpnc-script "\$@"
EOF
  chmod 755 "$ETC/vpnc-wrapper.sh"

  local authline
  if [[ $AUTH == cert ]]; then authline='auth = "certificate"'
  else authline="auth = \"plain[passwd=$ETC/ocpasswd]\""; fi
  cat > "$ETC/ocserv.conf" <<EOF
# generated by ocserv-bench.sh (AUTH=$AUTH DTLS=$DTLS)
$authline
listen-host = $GW_PUB_IP
tcp-port = $VPN_PORT
$([[ $DTLS == 1 ]] && echo "udp-port = $VPN_PORT" || echo "# udp-port not set: TLS (CSTP) only")
run-as-user = ocserv
run-as-group = ocserv
socket-file = $RUN/ocserv-socket
use-occtl = true
occtl-socket-file = $RUN/occtl.socket
pid-file = $RUN/ocserv.pid
server-cert = $PKI/server.pem
server-key = $PKI/server.key
ca-cert = $PKI/ca.pem
cert-user-oid = 2.5.4.3
isolate-workers = true
max-clients = 16
max-same-clients = 0
rate-limit-ms = 0
max-ban-score = 0
server-stats-reset-time = 604800
keepalive = 32400
dpd = 90
mobile-dpd = 1800
switch-to-tcp-timeout = 25
try-mtu-discovery = false
tls-priorities = "$TLS_PRIORITIES"
auth-timeout = 240
min-reauth-time = 1
cookie-timeout = 300
deny-roaming = false
rekey-time = 172800
rekey-method = ssl
device = vpns
predictable-ips = true
default-domain = $DOMAIN
ipv4-network = $POOL
dns = $DNS_IP
ping-leases = false
route = $CORP_NET
cisco-client-compat = true
dtls-legacy = true
EOF
}

setup_net() {
  log "creating namespaces $NS_DEV $NS_GW $NS_CORP"
  local ns
  for ns in "$NS_DEV" "$NS_GW" "$NS_CORP"; do
    ip netns add "$ns" || die "ip netns add $ns"
    ip -n "$ns" link set lo up
  done
  ip link add dev0 netns "$NS_DEV" type veth peer name gw0 netns "$NS_GW" || die "veth dev0/gw0"
  ip link add gw1 netns "$NS_GW" type veth peer name corp0 netns "$NS_CORP" || die "veth gw1/corp0"
  ip -n "$NS_DEV"  addr add "$DEV_IP/24" dev dev0
  ip -n "$NS_GW"   addr add "$GW_PUB_IP/24" dev gw0
  ip -n "$NS_GW"   addr add "$GW_PRIV_IP/24" dev gw1
  ip -n "$NS_GW"   addr add "$GW_BASE_IP/24" dev gw1
  ip -n "$NS_CORP" addr add "$CORP_IP/24" dev corp0
  ip -n "$NS_CORP" addr add "$CORP_BASE_IP/24" dev corp0
  ip -n "$NS_DEV" link set dev0 up
  ip -n "$NS_GW" link set gw0 up
  ip -n "$NS_GW" link set gw1 up
  ip -n "$NS_CORP" link set corp0 up
  # baseline path only; the corp LAN (10.200.2.0/24) is reachable from dev only via the VPN
  ip -n "$NS_DEV" route add "$BASE_NET" via "$GW_PUB_IP"
  ip -n "$NS_CORP" route add default via "$GW_PRIV_IP"
  nsx "$NS_GW" sysctl -qw net.ipv4.ip_forward=1 || die "ip_forward"
  for ns in "$NS_DEV" "$NS_GW" "$NS_CORP"; do nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
  nsx "$NS_GW" nft -f - <<EOF || die "nft ruleset"
table inet ocbench {
  counter tls_in {}
  counter tls_out {}
  counter dtls_in {}
  counter dtls_out {}
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "gw0" tcp dport $VPN_PORT counter name tls_in
    iifname "gw0" udp dport $VPN_PORT counter name dtls_in
  }
  chain output {
    type filter hook output priority 0; policy accept;
    oifname "gw0" tcp sport $VPN_PORT counter name tls_out
    oifname "gw0" udp sport $VPN_PORT counter name dtls_out
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "gw0" ip daddr $CORP_NET counter drop comment "corp LAN only through the VPN"
  }
}
EOF
  if [[ $PRECREATE_TUN == 1 ]]; then
    ip -n "$NS_GW" tuntap add dev "$GW_TUN" mode tun || die "tuntap add $GW_TUN"
    ip -n "$NS_GW" addr add "$POOL_GW/24" dev "$GW_TUN"
    ip -n "$NS_GW" link set "$GW_TUN" mtu "$GW_TUN_MTU"
    ip -n "$NS_GW" link set "$GW_TUN" up
  fi
}

start_iperf_server() {
  nsx "$NS_CORP" iperf3 -s -p "$IPERF_PORT" > "$RUN/iperf3-server.log" 2>&1 &
  echo $! > "$RUN/iperf3-server.pid"
  local i
  for ((i = 0; i < 50; i++)); do
    nsx "$NS_CORP" ss -Hltn "sport = :$IPERF_PORT" | grep -q LISTEN && return 0
    sleep 0.1
  done
  die "iperf3 server did not start"
}

setup() {
  need_tools
  teardown
  mkdir -p "$WORK" "$RUN" "$RES"
  rm -f "$RUN"/*.log "$RUN"/*.json "$RUN"/vpnc-env.* "$RUN/ABORT" 2>/dev/null
  make_pki
  rm -f "$WORK/rcvbuf-shim.so"
  [[ -z $CLIENT_RCVBUF ]] || rcvbuf_shim > /dev/null
  write_configs
  setup_net
  start_iperf_server
  log "setup done"
}

# -------------------------------------------------------------------- server
start_server() {
  local log=$RUN/server.log i
  local pre=(); [[ -n $SERVER_CPUS ]] && pre=(taskset -c "$SERVER_CPUS")
  if [[ -n $SERVER_CMD ]]; then
    log "starting custom server ($SERVER_NAME) in $NS_GW: $SERVER_CMD"
    ( cd "$WORK" && exec ip netns exec "$NS_GW" env \
        BENCH_LISTEN_ADDR="$GW_PUB_IP" BENCH_LISTEN_PORT="$VPN_PORT" BENCH_UDP_PORT="$VPN_PORT" \
        BENCH_DTLS="$DTLS" BENCH_CERT="$PKI/server.pem" BENCH_KEY="$PKI/server.key" \
        BENCH_CA="$PKI/ca.pem" BENCH_AUTH="$AUTH" BENCH_USER="$VPN_USER" BENCH_PASS="$VPN_PASS" \
        BENCH_PASSWD_FILE="$ETC/ocpasswd" BENCH_POOL="$POOL" BENCH_POOL_GW="$POOL_GW" \
        BENCH_ROUTE="$CORP_NET" BENCH_DNS="$DNS_IP" BENCH_DOMAIN="$DOMAIN" \
        BENCH_TUN="$([[ $PRECREATE_TUN == 1 ]] && echo "$GW_TUN")" BENCH_NETNS="$NS_GW" BENCH_WORK="$WORK" \
        "${pre[@]}" bash -c "$SERVER_CMD" ) > "$log" 2>&1 &
  else
    log "starting ocserv in $NS_GW (AUTH=$AUTH DTLS=$DTLS)"
    nsx "$NS_GW" ocserv -t -c "$ETC/ocserv.conf" > "$RUN/ocserv-test.log" 2>&1 \
      || { cat "$RUN/ocserv-test.log" >&2; die "ocserv config test failed"; }
    "${pre[@]}" ip netns exec "$NS_GW" ocserv -f -c "$ETC/ocserv.conf" > "$log" 2>&1 &
  fi
  echo $! > "$RUN/server.pid"
  for ((i = 0; i < SERVER_START_TIMEOUT * 5; i++)); do
    if nsx "$NS_GW" ss -Hltn "sport = :$VPN_PORT" | grep -q LISTEN; then
      if [[ $DTLS == 1 && -z $SERVER_CMD ]]; then
        nsx "$NS_GW" ss -Hlun "sport = :$VPN_PORT" | grep -q . || { sleep 0.2; continue; }
      fi
      log "server listening on $GW_PUB_IP:$VPN_PORT"; return 0
    fi
    kill -0 "$(cat "$RUN/server.pid")" 2>/dev/null || { tail -20 "$log" >&2; die "server exited"; }
    sleep 0.2
  done
  tail -20 "$log" >&2
  die "server not listening on :$VPN_PORT after ${SERVER_START_TIMEOUT}s"
}

# -------------------------------------------------------------------- client
# CLIENT_RCVBUF: openconnect never sets SO_RCVBUF on its DTLS socket, so it gets
# net.core.rmem_default (208 KiB), which is host-wide (read-only inside a namespace). This shim
# sets it on every UDP socket the client opens; the kernel doubles the value it is given.
rcvbuf_shim() { # -> path of the shared object (built once per WORK)
  local so=$WORK/rcvbuf-shim.so
  [[ -s $so ]] && { echo "$so"; return 0; }
  command -v cc >/dev/null || die "CLIENT_RCVBUF needs a C compiler (cc) for its LD_PRELOAD shim"
  cat > "$WORK/rcvbuf-shim.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>
int socket(int domain, int type, int protocol) {
  static int (*real)(int, int, int);
  if (!real) real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
  int fd = real(domain, type, protocol);
  const char *v = getenv("BENCH_CLIENT_RCVBUF");
  if (fd >= 0 && v && (type & 0xf) == SOCK_DGRAM && (domain == AF_INET || domain == AF_INET6)) {
    int half = atoi(v) / 2;
    if (half > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &half, sizeof half);
  }
  return fd;
}
C
  cc -shared -fPIC -O2 -o "$so" "$WORK/rcvbuf-shim.c" -ldl || die "building the rcvbuf shim failed"
  echo "$so"
}

client_env() { # -> array OC_ENV: `env ...` prefix for openconnect (empty without CLIENT_RCVBUF)
  OC_ENV=()
  [[ -n $CLIENT_RCVBUF ]] && OC_ENV=(env LD_PRELOAD="$(rcvbuf_shim)" BENCH_CLIENT_RCVBUF="$CLIENT_RCVBUF")
  return 0
}

# Udp RcvbufErrors / SndbufErrors of netns $1 (/proc/net/snmp follows the reader's namespace).
udp_counter() { nsx "$1" awk -v f="$2" '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 } else print $(c[f]) }' /proc/net/snmp 2>/dev/null || echo 0; }

oc_args() { # common openconnect arguments -> array OC_ARGS
  OC_ARGS=(--protocol=anyconnect --non-inter --cafile "$PKI/ca.pem"
           --interface "$CLIENT_TUN" --script "$ETC/vpnc-wrapper.sh")
  # shellcheck disable=SC2206
  [[ -n $OC_EXTRA_ARGS ]] && OC_ARGS+=($OC_EXTRA_ARGS)
  [[ $DTLS == 1 ]] || OC_ARGS+=(--no-dtls)
  if [[ $AUTH == cert ]]; then
    OC_ARGS+=(--certificate "$PKI/client.pem" --sslkey "$PKI/client.key")
  else
    OC_ARGS+=(--user "$VPN_USER" --passwd-on-stdin)
  fi
}

wait_tunnel_up() { # $1 = openconnect pid, $2 = log
  local pid=$1 logf=$2 i
  for ((i = 0; i < CONNECT_TIMEOUT * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || { tail -30 "$logf" >&2; die "openconnect exited"; }
    if ip -n "$NS_DEV" -4 addr show dev "$CLIENT_TUN" 2>/dev/null | grep -q 'inet ' &&
       ip -n "$NS_DEV" route show "$CORP_NET" 2>/dev/null | grep -q "dev $CLIENT_TUN"; then
      return 0
    fi
    sleep 0.2
  done
  tail -30 "$logf" >&2
  die "tunnel not up after ${CONNECT_TIMEOUT}s"
}

wait_tunnel_down() {
  local i
  for ((i = 0; i < 50; i++)); do
    ip -n "$NS_DEV" link show dev "$CLIENT_TUN" >/dev/null 2>&1 || return 0
    sleep 0.1
  done
  log "warning: $CLIENT_TUN still present"
}

connect_client() {
  local logf=$RUN/openconnect.log pid i pre=()
  [[ -n $CLIENT_CPUS ]] && pre=(taskset -c "$CLIENT_CPUS")   # exec chain keeps $! == openconnect pid
  oc_args
  client_env
  log "${OC_ENV[*]} openconnect ${OC_ARGS[*]} https://$GW_PUB_IP/"
  if [[ $AUTH == cert ]]; then
    "${pre[@]}" ip netns exec "$NS_DEV" "${OC_ENV[@]}" openconnect "${OC_ARGS[@]}" "https://$GW_PUB_IP:$VPN_PORT/" \
      < /dev/null > "$logf" 2>&1 &
  else
    "${pre[@]}" ip netns exec "$NS_DEV" "${OC_ENV[@]}" openconnect "${OC_ARGS[@]}" "https://$GW_PUB_IP:$VPN_PORT/" \
      <<< "$VPN_PASS" > "$logf" 2>&1 &
  fi
  pid=$!; echo "$pid" > "$RUN/openconnect.pid"
  wait_tunnel_up "$pid" "$logf"
  if [[ $DTLS == 1 ]]; then
    for ((i = 0; i < DTLS_TIMEOUT * 5; i++)); do
      grep -q 'Established DTLS connection' "$logf" && break
      sleep 0.2
    done
    grep -q 'Established DTLS connection' "$logf" || { tail -30 "$logf" >&2; die "DTLS not established after ${DTLS_TIMEOUT}s"; }
  fi
  CLIENT_PID=$pid
  TLS_CIPHER=$(grep -o 'ciphersuite .*' "$logf" | head -1 | sed 's/^ciphersuite //')
  DTLS_CIPHER=$(grep -o 'Established DTLS connection.*' "$logf" | head -1 | sed 's/.*Ciphersuite //; s/\.$//')
  TUN_MTU=$(ip -n "$NS_DEV" -o link show dev "$CLIENT_TUN" | grep -o 'mtu [0-9]*' | cut -d' ' -f2)
  CLIENT_IP=$(ip -n "$NS_DEV" -4 -o addr show dev "$CLIENT_TUN" | awk '{print $4}' | head -1)
  log "tunnel up: $CLIENT_TUN $CLIENT_IP mtu $TUN_MTU; TLS $TLS_CIPHER${DTLS_CIPHER:+; DTLS $DTLS_CIPHER}"
  # sanity: one ping through the tunnel
  nsx "$NS_DEV" ping -c 1 -W 3 "$CORP_IP" >/dev/null || die "no ping to $CORP_IP through the tunnel"
}

transcript() { # one full connect/disconnect with the HTTP dump
  local out=${TRANSCRIPT_OUT:-$RES/transcript-$SERVER_NAME-$AUTH-$VPN_MODE.txt} logf=$RUN/transcript-oc.log pid
  oc_args
  rm -f "$RUN"/vpnc-env.*
  log "transcript: openconnect -v --dump-http-traffic ... -> $out"
  if [[ $AUTH == cert ]]; then
    ip netns exec "$NS_DEV" openconnect -v --dump-http-traffic "${OC_ARGS[@]}" "https://$GW_PUB_IP:$VPN_PORT/" \
      < /dev/null > "$logf" 2>&1 &
  else
    ip netns exec "$NS_DEV" openconnect -v --dump-http-traffic "${OC_ARGS[@]}" "https://$GW_PUB_IP:$VPN_PORT/" \
      <<< "$VPN_PASS" > "$logf" 2>&1 &
  fi
  pid=$!
  wait_tunnel_up "$pid" "$logf"
  [[ $DTLS == 1 ]] && sleep 3   # let the DTLS handshake show up in the log
  sleep 1
  kill -INT "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  wait "$pid" 2>/dev/null
  wait_tunnel_down
  {
    echo "### server=$SERVER_NAME auth=$AUTH mode=$VPN_MODE date=$(date -u +%FT%TZ)"
    echo "### client: openconnect $(openconnect --version 2>&1 | head -1 | awk '{print $3}')"
    echo "### command: ip netns exec $NS_DEV openconnect -v --dump-http-traffic ${OC_ARGS[*]} https://$GW_PUB_IP:$VPN_PORT/"
    [[ $AUTH == cert ]] || echo "### password on stdin: $VPN_PASS"
    echo "### ---- openconnect output (lines starting '>' = sent by client, '<' = received body from server;"
    echo "###      openconnect itself prints 'Set-Cookie: webvpn=<elided>'; the real value is the one in the CONNECT 'Cookie:' line)"
    cat "$logf"
    local f
    for f in "$RUN"/vpnc-env.{pre-init,connect,attempt-reconnect,reconnect,disconnect}; do
      [[ -e $f ]] || continue
      echo "### ---- environment handed to vpnc-script ($(basename "$f")), derived from the CONNECT response headers"
      cat "$f"
    done
  } > "$out"
  log "transcript written: $out"
}

# ---------------------------------------------------------------- measurement
ns_ticks() { # utime+stime (ticks) of every process in netns $1
  local p s t=0 f
  for p in $(ip netns pids "$1" 2>/dev/null); do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }
    read -r -a f <<< "$s"
    t=$(( t + f[11] + f[12] ))
  done
  echo "$t"
}
pid_ticks() { local s f; s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }; s=${s##*) }; read -r -a f <<< "$s"; echo $(( f[11] + f[12] )); }
sys_ticks() { awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; print b, b+$5+$6}' /proc/stat; } # busy total
nft_bytes() { nsx "$NS_GW" nft -j list counter inet ocbench "$1" 2>/dev/null | jq -r '.nftables[] | select(.counter) | .counter.bytes' 2>/dev/null || echo 0; }

# ------------------------------------------------------------ diagnostics (DIAG=1)
thread_ticks() { # "pid tid comm ticks" for every thread of every process in netns $1
  local p t s f c
  for p in $(ip netns pids "$1" 2>/dev/null); do
    for t in /proc/"$p"/task/*; do
      s=$(cat "$t/stat" 2>/dev/null) || continue
      c=${s#*(}; c=${c%%)*}; s=${s##*) }
      read -r -a f <<< "$s"
      echo "$p ${t##*/} ${c// /_} $(( f[11] + f[12] ))"
    done
  done
}
metric_values() { [[ -n $METRICS_URL ]] && nsx "$NS_GW" curl -s -m 2 "$METRICS_URL" 2>/dev/null |
  grep -E "^(${METRICS_MATCH:-outpost_gateway_dtls_(burst_pauses|sent_packets|send_failures)_total})[ {]"; }
diag_start() { # snapshots before a test; starts perf stat on the server's send syscalls
  [[ $DIAG == 1 ]] || return 0
  thread_ticks "$NS_GW" > "$RUN/diag-threads0"
  metric_values > "$RUN/diag-metrics0"
  DIAG_IN0=$(( $(udp_counter "$NS_DEV" InDatagrams) + $(udp_counter "$NS_DEV" RcvbufErrors) ))
  local pids; pids=$(ip netns pids "$NS_GW" | paste -sd,)
  perf stat -x, -o "$RUN/diag-perf" -e syscalls:sys_enter_sendmmsg,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto \
    -p "$pids" > /dev/null 2>&1 &
  DIAG_PERF=$!
  # The inner TCP's sender (iperf3 -s in corp for -R, iperf3 -c in dev otherwise) halfway through.
  ( sleep "$(( OMIT + DURATION / 2 ))"
    for ns in "$NS_CORP" "$NS_DEV"; do nsx "$ns" ss -tinO "( sport = :$IPERF_PORT or dport = :$IPERF_PORT )"; done
  ) > "$RUN/diag-ss" 2>/dev/null &
  DIAG_SS=$!
}
diag_end() { # <json> <elapsed s>: logs one diag line
  [[ $DIAG == 1 ]] || return 0
  local json=$1 el=$2 in1 sys cpu threads metrics
  kill -INT "$DIAG_PERF" 2>/dev/null; wait "$DIAG_PERF" 2>/dev/null; wait "$DIAG_SS" 2>/dev/null
  local tcp; tcp=$(awk '{ r = m = c = ""; b = x = 0; for (i = 1; i <= NF; i++) { split($i, kv, ":")
      if (kv[1] == "rtt") r = kv[2]; if (kv[1] == "minrtt") m = kv[2]; if (kv[1] == "cwnd") c = kv[2]
      if (kv[1] == "bytes_sent") b = kv[2]; if (kv[1] == "bytes_retrans") x = kv[2] }
    if (b > 10000000) printf "rtt %s min %s ms cwnd %s resent %.0f%%; ", r, m, c, 100 * x / b }' "$RUN/diag-ss" 2>/dev/null)
  in1=$(( $(udp_counter "$NS_DEV" InDatagrams) + $(udp_counter "$NS_DEV" RcvbufErrors) ))
  thread_ticks "$NS_GW" > "$RUN/diag-threads1"
  sys=$(awk -F, '$3 ~ /sys_enter_/ { sub(/.*sys_enter_/, "", $3); printf "%s %s ", $3, $1; n += $1 } END { printf "all %d", n }' "$RUN/diag-perf" 2>/dev/null)
  threads=$(awk -v hz="$HZ" -v el="$el" 'NR == FNR { t[$2] = $4; next }
    { d = 100 * ($4 - t[$2]) / hz / el; if (d >= 2) printf "%s%s[%s]%s %.0f%% ", sep, $3, $1, ($1 == $2 ? "main" : "/" $2), d }' \
    "$RUN/diag-threads0" "$RUN/diag-threads1")
  cpu=$(jq -r '.end.cpu_utilization_percent | "iperf3-client \(.host_total|floor)% iperf3-server \(.remote_total|floor)%"' "$json" 2>/dev/null)
  metrics=$(metric_values | awk 'NR == FNR { a[$1] = $2; next } { printf "%s +%d ", $1, $2 - a[$1] }' "$RUN/diag-metrics0" - 2>/dev/null)
  log "$(printf 'diag     %s  inner TCP sender halfway: %s gw threads: %s datagrams to client %s, send syscalls: %s (%s per syscall) %s' \
        "$cpu" "${tcp:-?}" "$threads" "$(( in1 - DIAG_IN0 ))" "$sys" \
        "$(awk -v d="$(( in1 - DIAG_IN0 ))" -v s="${sys##* }" 'BEGIN { if (s > 0) printf "%.1f", d / s; else print "-" }')" "$metrics")"
}

# run_test <phase> <test> <target> <iperf args...>; appends a TSV row
run_test() {
  local phase=$1 name=$2 target=$3; shift 3
  local json=$RUN/iperf-$phase-$name.json t0 t1 s0 s1 c0 c1 sy0 sy1 tl0 tl1 dl0 dl1
  [[ -n $ONLY && ! $name =~ $ONLY ]] && return 0
  [[ -e $RUN/ABORT ]] && die "aborted ($(cat "$RUN/ABORT"))"
  ns_exists "$NS_DEV" || die "namespace $NS_DEV vanished"
  if [[ $phase != baseline ]] && ! kill -0 "${CLIENT_PID:-0}" 2>/dev/null; then
    tail -20 "$RUN/openconnect.log" >&2; die "openconnect (pid ${CLIENT_PID:-?}) is gone"
  fi
  s0=$(ns_ticks "$NS_GW"); c0=$(pid_ticks "${CLIENT_PID:-0}"); sy0=$(sys_ticks)
  local rd0 rd1; rd0=$(udp_counter "$NS_DEV" RcvbufErrors)
  tl0=$(( $(nft_bytes tls_in) + $(nft_bytes tls_out) )); dl0=$(( $(nft_bytes dtls_in) + $(nft_bytes dtls_out) ))
  diag_start
  t0=$(now)
  pinned "$CLIENT_CPUS" timeout $(( DURATION + OMIT + 30 )) ip netns exec "$NS_DEV" \
    iperf3 -c "$target" -p "$IPERF_PORT" -t "$DURATION" -O "$OMIT" --connect-timeout 5000 -J "$@" > "$json" 2>&1
  t1=$(now)
  s1=$(ns_ticks "$NS_GW"); c1=$(pid_ticks "${CLIENT_PID:-0}"); sy1=$(sys_ticks)
  rd1=$(udp_counter "$NS_DEV" RcvbufErrors)
  tl1=$(( $(nft_bytes tls_in) + $(nft_bytes tls_out) )); dl1=$(( $(nft_bytes dtls_in) + $(nft_bytes dtls_out) ))
  local mbps retr err
  mbps=$(jq -r '.end.sum_received.bits_per_second // empty' "$json" 2>/dev/null)
  retr=$(jq -r '.end.sum_sent.retransmits // 0' "$json" 2>/dev/null)
  err=$(jq -r '.error // empty' "$json" 2>/dev/null)
  diag_end "$json" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
  if [[ -z $mbps ]]; then
    log "iperf3 $phase $name FAILED: ${err:-$(head -c 300 "$json")}"; mbps=0; FAILS=$((FAILS + 1))
  fi
  read -r b0 a0 <<< "$sy0"; read -r b1 a1 <<< "$sy1"
  local row
  row=$(awk -v bps="$mbps" -v t0="$t0" -v t1="$t1" -v s="$((s1 - s0))" -v c="$((c1 - c0))" -v hz="$HZ" \
        -v sb="$((b1 - b0))" -v st="$((a1 - a0))" -v ncpu="$(nproc)" -v tl="$((tl1 - tl0))" -v dl="$((dl1 - dl0))" \
        'BEGIN { el = t1 - t0; printf "%.1f\t%.0f\t%.0f\t%.0f\t%.1f\t%.1f", bps/1e6, 100*s/hz/el, 100*c/hz/el, (st>0 ? 100*ncpu*sb/st : 0), tl/1e6, dl/1e6 }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$RUN_ID" "$SERVER_NAME" "$phase" "$name" "$ROUND" "$row" "$retr" "${TLS_CIPHER:-}" "$((rd1 - rd0))" >> "$TSV"
  IFS=$'\t' read -r mb sc cc yc tlm dlm <<< "$row"
  log "$(printf '%-8s %-12s %9s Mbit/s  srv-cpu %4s%%  cli-cpu %4s%%  sys-cpu %4s%%/%s00%%  tls %8sMB dtls %8sMB retr %s cli-rcvbuf-drops %s' \
        "$phase" "$name" "$mb" "$sc" "$cc" "$yc" "$(nproc)" "$tlm" "$dlm" "$retr" "$((rd1 - rd0))")"
}

run_suite() { # <phase> <target>
  local phase=$1 target=$2
  run_test "$phase" tcp-up "$target"
  run_test "$phase" tcp-down "$target" -R
  run_test "$phase" "tcp-up-P$PARALLEL" "$target" -P "$PARALLEL"
  run_test "$phase" "tcp-down-P$PARALLEL" "$target" -P "$PARALLEL" -R
}

median_of() { # <tsv files...> reads "phase test" pairs from stdin? no: args phase test col files
  local phase=$1 test=$2 col=$3; shift 3
  awk -F'\t' -v p="$phase" -v t="$test" -v c="$col" '$3==p && $4==t {print $c}' "$@" | sort -g |
    awk '{a[NR]=$1} END { if (NR==0) { print "n/a"; exit } if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2 }'
}

print_summary() { # <label> <tsv files...>
  local label=$1; shift
  local tests=(tcp-up tcp-down "tcp-up-P$PARALLEL" "tcp-down-P$PARALLEL") t phase vpnphase line
  vpnphase=$SERVER_NAME-$VPN_MODE
  local n
  n=$(awk -F'\t' -v p="$vpnphase" '$3==p' "$@" | wc -l)
  echo "== $label: medians over $((n / 4)) round(s); ${SUMMARY_PARAMS:-DURATION=${DURATION}s OMIT=${OMIT}s AUTH=$AUTH}; Mbit/s (srv-cpu% = all processes in gw netns, 100% = 1 core)"
  printf '%-14s %12s %12s %8s %8s %8s %8s\n' test baseline "$vpnphase" vpn/base srv-cpu cli-cpu sys-cpu
  for t in "${tests[@]}"; do
    local b v
    b=$(median_of baseline "$t" 6 "$@"); v=$(median_of "$vpnphase" "$t" 6 "$@")
    printf '%-14s %12s %12s %8s %7s%% %7s%% %7s%%\n' "$t" "$b" "$v" \
      "$(awk -v b="$b" -v v="$v" 'BEGIN{ if (b+0>0 && v+0>0) printf "%.1f%%", 100*v/b; else print "-" }')" \
      "$(median_of "$vpnphase" "$t" 7 "$@")" "$(median_of "$vpnphase" "$t" 8 "$@")" "$(median_of "$vpnphase" "$t" 9 "$@")"
  done
  if [[ $BASELINE == 1 ]]; then
    line="baseline routed"
    for t in "${tests[@]}"; do line+=" $t $(median_of baseline "$t" 6 "$@" | awk '{printf "%.0f", $1}') Mbit/s"; done
    echo "$line"
  fi
  line="$SERVER_NAME $VPN_MODE"
  for t in "${tests[@]}"; do line+=" $t $(median_of "$vpnphase" "$t" 6 "$@" | awk '{printf "%.0f", $1}') Mbit/s"; done
  line+=" srv-cpu $(median_of "$vpnphase" tcp-up 7 "$@")/$(median_of "$vpnphase" tcp-down 7 "$@") %"
  echo "$line"
}

run_bench() {
  mkdir -p "$RES"
  RUN_ID=${RUN_ID:-$(date +%Y%m%d-%H%M%S)-$SERVER_NAME-$VPN_MODE-$AUTH}
  TSV=$RES/$RUN_ID.tsv
  FAILS=0
  printf 'run_id\tserver\tphase\ttest\tround\tmbps\tsrv_cpu_pct\tcli_cpu_pct\tsys_cpu_pct\ttls443_MB\tdtls443_MB\tretrans\ttls_cipher\tcli_rcvbuf_drops\n' > "$TSV"
  [[ -n ${CLIENT_PID:-} ]] || connect_client
  {
    echo "# run $RUN_ID host=$(uname -r) cpus=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
    echo "# server=$SERVER_NAME mode=$VPN_MODE auth=$AUTH mtu=$TUN_MTU client_ip=$CLIENT_IP tls=$TLS_CIPHER dtls=${DTLS_CIPHER:-none} client_rcvbuf=${CLIENT_RCVBUF:-default}"
    echo "# ocserv $(ocserv --version 2>&1 | head -1 | awk '{print $2}') openconnect $(openconnect --version 2>&1 | head -1 | awk '{print $3}') $(iperf3 --version | head -1)"
  } > "$RES/$RUN_ID.meta"
  for ((ROUND = 1; ROUND <= REPEAT; ROUND++)); do
    log "round $ROUND/$REPEAT"
    [[ $BASELINE == 1 ]] && run_suite baseline "$CORP_BASE_IP"
    run_suite "$SERVER_NAME-$VPN_MODE" "$CORP_IP"
  done
  cat "$RES/$RUN_ID.meta"
  print_summary "run $RUN_ID" "$TSV" | tee "$RES/$RUN_ID.summary"
  if ((FAILS > 0)); then log "$FAILS iperf3 test(s) FAILED (recorded as 0 Mbit/s)"; return 1; fi
}

summary_all() {
  local files=("$RES"/*.tsv)
  [[ -e ${files[0]} ]] || die "no results in $RES"
  local srv
  SUMMARY_PARAMS="parameters per run in $RES/*.meta"
  for srv in $(awk -F'\t' 'FNR>1 && $3!="baseline" {print $3}' "${files[@]}" | sort -u); do
    SERVER_NAME=${srv%-*}; VPN_MODE=${srv##*-}
    local sel=()
    mapfile -t sel < <(grep -l -P "\t$srv\t" "${files[@]}")
    print_summary "all runs of $srv (${#sel[@]} files)" "${sel[@]}"
  done
}

# ----------------------------------------------------------------------- main
on_exit() {
  local rc=$?
  [[ -n ${WATCHDOG_PID:-} ]] && kill "$WATCHDOG_PID" 2>/dev/null
  if [[ -n ${BENCH_PID:-} ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
    echo "signal rc=$rc" > "$RUN/ABORT"   # run_bench stops at its next check
    kill -TERM "$BENCH_PID" 2>/dev/null
    teardown                           # kills the running iperf3 / client / server
  fi
  if [[ ${CLEANUP_ON_EXIT:-0} == 1 && $KEEP != 1 ]]; then
    teardown      # silent, so the result line stays the last line of output
  fi
  exit "$rc"
}

start_watchdog() { # bounded total runtime for `all`: tear down (kills the load) then TERM main
  local me=$$
  (
    sp=
    trap '[[ -n $sp ]] && kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$MAX_RUNTIME" & sp=$!
    wait "$sp"
    log "watchdog: MAX_RUNTIME=${MAX_RUNTIME}s exceeded, tearing down"
    echo "watchdog MAX_RUNTIME=${MAX_RUNTIME}s" > "$RUN/ABORT"
    teardown
    kill -TERM "$me" 2>/dev/null
  ) &
  WATCHDOG_PID=$!
}

main() {
  local cmd=${1:-all}
  case $cmd in
    all)
      need_tools
      trap on_exit EXIT; trap 'exit 143' TERM; trap 'exit 130' INT
      CLEANUP_ON_EXIT=1
      start_watchdog
      mkdir -p "$RES"
      RUN_ID=$(date +%Y%m%d-%H%M%S)-$SERVER_NAME-$VPN_MODE-$AUTH
      setup
      start_server
      [[ $TRANSCRIPT == 1 ]] && transcript
      # in the background + `wait`, so that TERM/INT to this script act at once
      ( run_bench 2>&1 | tee "$RES/$RUN_ID.log" ) &
      BENCH_PID=$!
      wait "$BENCH_PID"
      ;;
    check) need_tools ;;
    setup) setup ;;
    start) start_server ;;
    transcript) transcript ;;
    run)
      trap 'exit 143' TERM; trap 'exit 130' INT
      ns_exists "$NS_DEV" || die "run 'setup' and 'start' first"
      if [[ -s $RUN/openconnect.pid ]] && kill -0 "$(cat "$RUN/openconnect.pid")" 2>/dev/null; then
        stop_client; wait_tunnel_down
      fi
      run_bench ;;
    stop) stop_client; stop_server ;;
    teardown) teardown; log "teardown done" ;;
    summary) summary_all ;;
    *) sed -n '2,33p' "$0"; exit 2 ;;
  esac
}

main "$@"

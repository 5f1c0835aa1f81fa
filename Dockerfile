# Outpost appliance image. Build: docker build -t outpost .   Run: docker compose up -d
# No `# syntax=` line: the builder's own Dockerfile frontend is used, so nothing is pulled from a
# registry besides NODE_IMAGE, and air-gapped sites build with their mirror:
#   docker build --build-arg NODE_IMAGE=registry.corp.example/node:24-bookworm-slim -t outpost .
# NODE_IMAGE must be Debian bookworm with Node (npm, and Node's headers in /usr/local/include/node).
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: compile TypeScript and the native better-sqlite3 addon -------------------------
FROM ${NODE_IMAGE} AS build
# better-sqlite3 downloads a prebuilt binary when one exists for this Node ABI and compiles
# with node-gyp otherwise; the toolchain makes the second path work offline from GitHub.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# If it has to compile, node-gyp uses the headers that ship with this Node instead of
# downloading them.
ENV npm_config_nodedir=/usr/local
WORKDIR /app
COPY package.json package-lock.json ./
# A site whose proxy re-signs TLS passes its CA certificate(s), PEM, to reach the npm registry:
#   --build-arg NPM_EXTRA_CA="$(cat /usr/local/share/ca-certificates/*.crt)"
# Only this build stage sees it; the runtime image below does not inherit it.
ARG NPM_EXTRA_CA=""
# --ignore-scripts: "prepare" would build before the sources are copied; the install scripts
# we need (better-sqlite3's, and pkcs11js's for keys.store pkcs11) are run explicitly, which also
# keeps this layer cacheable.
RUN if [ -n "$NPM_EXTRA_CA" ]; then printf '%s\n' "$NPM_EXTRA_CA" > /tmp/npm-extra-ca.pem \
      && export NODE_EXTRA_CA_CERTS=/tmp/npm-extra-ca.pem; fi \
 && npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3 pkcs11js \
 && rm -f /tmp/npm-extra-ca.pem
# Sources only: .dockerignore keeps node_modules, dist, tests, test helpers (testing/) and
# fixtures, bench, fuzz and .git out; tsconfig.build.json compiles the product alone.
COPY . .
# npm prune keeps better-sqlite3's compile leftovers (objects, the SQLite sources, a test
# extension: ~26 MB); only build/Release/better_sqlite3.node is loaded at run time.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release && mv /tmp/better_sqlite3.node build/Release/ \
 && cd ../pkcs11js && mv build/Release/pkcs11.node /tmp/ && rm -rf build src \
 && mkdir -p build/Release && mv /tmp/pkcs11.node build/Release/

# ---- runtime -----------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# tini is PID 1: it forwards SIGTERM to node and reaps zombies. (Without it, `docker run --init`
# does the same.) iproute2 and nftables: the gateway sets the TUN's link, addresses, routes and
# NAT with `ip` and `nft`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates iproute2 nftables \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 outpost \
 && useradd --uid 10001 --gid outpost --home-dir /var/lib/outpost --shell /usr/sbin/nologin outpost \
 && mkdir -p /var/lib/outpost /etc/outpost \
 && chown outpost:outpost /var/lib/outpost \
 && chmod 0700 /var/lib/outpost
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config/outpost.example.yaml /etc/outpost/outpost.example.yaml
RUN ln -s /app/dist/container/cli/main.js /usr/local/bin/outpost && chmod +x /app/dist/container/cli/main.js

# OUTPOST_IN_CONTAINER=1 makes /var/lib/outpost the default data directory and 0.0.0.0:443 the
# default gateway.listen (a config file or OUTPOST_DATA_DIR / OUTPOST__gateway__listen can still
# change them).
ENV NODE_ENV=production \
    OUTPOST_IN_CONTAINER=1
# Database, CA keys and one-time challenges: keep them on a volume.
VOLUME /var/lib/outpost
# 8080 SCEP, 443 gateway (both roles' defaults in the image; 443/udp its DTLS data channel), 9090
# admin probes (/healthz /readyz /metrics; set OUTPOST__admin__listen=0.0.0.0:9090 to publish it,
# and protect it).
EXPOSE 8080 443 443/udp 9090
USER outpost
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node runs with the appliance's flags (container/node-flags.ts says why; its test keeps this in step).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=32", "/app/dist/container/entrypoint-main.js"]
CMD ["run"]

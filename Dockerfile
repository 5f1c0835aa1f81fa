# syntax=docker/dockerfile:1
# Outpost appliance image. Build: docker build -t outpost .   Run: docker compose up -d

# ---- build: compile TypeScript and the native better-sqlite3 addon -------------------------
FROM node:24-bookworm-slim AS build
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
# --ignore-scripts: "prepare" would build before the sources are copied; the one install script
# we need (better-sqlite3's) is run explicitly, which also keeps this layer cacheable.
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
# Sources only: .dockerignore keeps node_modules, dist, tests, bench and .git out.
COPY . .
RUN npm run build && npm prune --omit=dev

# ---- runtime -----------------------------------------------------------------------------------
FROM node:24-bookworm-slim
# tini is PID 1: it forwards SIGTERM to node and reaps zombies. (Without it, `docker run --init`
# does the same.)
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
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

# OUTPOST_IN_CONTAINER=1 makes /var/lib/outpost the default data directory (a config file or
# OUTPOST_DATA_DIR can still move it).
ENV NODE_ENV=production \
    OUTPOST_IN_CONTAINER=1
# Database, CA keys and one-time challenges: keep them on a volume.
VOLUME /var/lib/outpost
# 8080 SCEP, 443 gateway, 9090 admin (/healthz /readyz /metrics; set
# OUTPOST__admin__listen=0.0.0.0:9090 to publish it, and protect it).
EXPOSE 8080 443 9090
USER outpost
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/container/entrypoint-main.js"]
CMD ["run"]

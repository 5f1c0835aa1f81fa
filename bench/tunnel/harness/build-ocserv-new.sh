#!/usr/bin/env bash
# build-ocserv-new.sh -- build the newest ocserv release from source into /opt/ocserv-new, beside
# Debian's ocserv 1.1.6, so benchmarks can compare against the strongest ocserv there is.
#
# Usage: build-ocserv-new.sh SRC_GIT_DIR [TAG]
#   SRC_GIT_DIR  a git repository of ocserv: a clone of https://gitlab.com/openconnect/ocserv
#                (or of a mirror of it)
#   TAG          release tag [1.5.0, June 2026: TUN burst reads, fix for loss under load (#423)]
# Prefix: OCSERV_NEW_PREFIX [/opt/ocserv-new]. Re-runnable. ~1 min of compile on 2 cores.
# Optional for `npm run bench:tunnel`, which compares against this build when it is there.
# Root: it installs the build dependencies with apt-get.
# Flags are Debian's own (dpkg-buildflags), features as Debian's binary (PAM, radius, gssapi, oath,
# seccomp, lz4, PKCS#11), so the comparison with 1.1.6 is fair. Man pages are not built.
set -euo pipefail
SRC_GIT=${1:?usage: build-ocserv-new.sh SRC_GIT_DIR [TAG]}
TAG=${2:-1.5.0}
PREFIX=${OCSERV_NEW_PREFIX:-/opt/ocserv-new}
WORK=${OCSERV_NEW_SRC:-/tmp/ocserv-new-src}

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends build-essential pkg-config git meson libgnutls28-dev \
  libev-dev libprotobuf-c-dev protobuf-c-compiler libtalloc-dev libnl-route-3-dev libseccomp-dev \
  libpam0g-dev liblz4-dev libradcli-dev libkrb5-dev liboath-dev libmaxminddb-dev libreadline-dev \
  gperf libtasn1-bin
rm -rf "$WORK"
git clone -q "$SRC_GIT" "$WORK"
git -C "$WORK" checkout -q "$TAG"
cd "$WORK"
export CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
export LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
meson setup build --prefix="$PREFIX" --buildtype=plain \
  -Dsystemd=disabled -Dlibwrap=disabled -Doidc-auth=disabled -Dgeoip=disabled
ninja -C build -j"$(nproc)"
meson install -C build
"$PREFIX/sbin/ocserv" --version | head -1

#!/bin/sh
# Installs what sisp's build, tests, fuzzers and demo need on Debian 12. Idempotent: when
# every package is already installed it changes nothing and does not touch the network.
set -eu

# libturbojpeg0-dev: the TurboJPEG API (turbojpeg.h) the viewer decodes JPEG with.
# xvfb: the viewer's test in a real X window (test_view_xvfb).
# valgrind: test_client's leak check of register, post and download (gcc build).
# libreadline-dev: the sisp shell's line editing (readline's callback interface).
# nettle-dev: SHA-256 with the CPU's SHA extensions (protocol/src/crypto.c).
# autoconf, automake, libtool, dpkg-dev: scripts/wolfssl-build.sh builds Debian's wolfssl source
#   package with its assembly (dpkg-source, dpkg-buildflags, autoreconf).
# openssl: its s_client is the second, independent client of tests/test_tls_matrix.
PACKAGES="
  cmake make gcc libc6-dev pkg-config
  clang libclang-rt-14-dev clang-format
  libuv1-dev libwolfssl-dev libsqlite3-dev nettle-dev
  autoconf automake libtool dpkg-dev
  libpng-dev libjpeg62-turbo-dev libturbojpeg0-dev libsdl2-dev zlib1g-dev
  libreadline-dev
  xvfb
  valgrind
  openssl
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing

#!/bin/sh
# Builds wolfSSL with its x86-64 assembly into PREFIX, from Debian's own source package for the
# installed libwolfssl-dev version, with Debian's patches and configure options plus:
#   --enable-intelasm --enable-aesni --enable-sp --enable-sp-asm
# and one limit, MAX_CHAIN_DEPTH=4 (below).
# Debian's binary package is compiled without assembly (AES-GCM at a fortieth of what AES-NI
# gives on the same CPU). The result is a static library only meant to be linked into sisp's
# binaries: same SONAME as the system library but a different ABI, so no shared object of it
# is ever installed where a loader could find it.
#
# Usage: scripts/wolfssl-build.sh PREFIX
# Exit 0: PREFIX/lib/libwolfssl.a is ready (built now or cached). Anything else: not available;
# the last line of stderr says why (CMake then links the system library and says so).
#
# The source comes through a private apt configuration under PREFIX.work (deb-src entries
# derived from the system's own sources, lists and cache there); the system's sources and
# apt state are never written. Idempotent: a PREFIX whose stamp matches is left as it is.
set -eu

prefix=${1:?usage: wolfssl-build.sh PREFIX}
jobs=$(nproc 2>/dev/null || echo 2)

fail() {
    echo "wolfssl-build: $*" >&2
    exit 1
}

[ "$(uname -m)" = x86_64 ] || fail "CPU is $(uname -m), not x86-64: no assembly to enable"
for tool in apt-get dpkg-source dpkg-buildflags autoreconf libtoolize make; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (scripts/deps.sh installs it)"
done
version=$(dpkg-query -W -f='${Version}' libwolfssl-dev 2>/dev/null) ||
    fail "libwolfssl-dev is not installed"
[ -n "$version" ] || fail "libwolfssl-dev is not installed"

extra="--enable-intelasm --enable-aesni --enable-sp --enable-sp-asm"
# The stamp names everything the result depends on: a change to any of it rebuilds.
stamp="wolfssl $version; extra $extra; script $(sha256sum "$0" | cut -c1-16)"
if [ -f "$prefix/lib/libwolfssl.a" ] && [ -f "$prefix/STAMP" ] &&
    [ "$(cat "$prefix/STAMP")" = "$stamp" ]; then
    echo "wolfssl-build: cached: $prefix ($version)"
    exit 0
fi

work="$prefix.work"
rm -rf "$work" "$prefix.new"
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/sources.d"
trap 'rm -rf "$work" "$prefix.new"' EXIT

# deb-src twins of the system's Debian entries, in the system's own formats.
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$work/apt/sources.d/system.list"
done
n=0
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    sed 's/^Types:.*/Types: deb-src/' "$f" >"$work/apt/sources.d/system$n.sources"
done

aptopts="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$work/apt/sources.d
  -o Dir::State::Lists=$work/apt/lists -o Dir::Cache=$work/apt/cache
  -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root
  -o Debug::NoLocking=1"
fetch() {
    # shellcheck disable=SC2086
    apt-get -q $aptopts update >"$work/apt-update.log" 2>&1 || true
    (cd "$work" &&
        # shellcheck disable=SC2086
        apt-get -q $aptopts source --download-only "wolfssl=$version" >"$work/apt-source.log" 2>&1)
}
if ! fetch; then
    # The system's sources may name mirrors without source indexes: try Debian's own.
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    rm -f "$work/apt/sources.d/"*
    cat >"$work/apt/sources.d/debian.list" <<EOF
deb-src http://deb.debian.org/debian $codename main
deb-src http://deb.debian.org/debian $codename-updates main
deb-src http://deb.debian.org/debian-security $codename-security main
EOF
    fetch || fail "could not fetch the source of wolfssl $version: $(tail -n1 "$work/apt-source.log")"
fi

# apt checked every file against the signed Sources index; dpkg-source applies Debian's patches.
dsc=$(ls "$work"/wolfssl_*.dsc)
dpkg-source -x "$dsc" "$work/src" >"$work/dpkg-source.log" 2>&1 ||
    fail "dpkg-source failed: $(tail -n1 "$work/dpkg-source.log")"

# Debian's configure options, read from its rules (the lines after `dh_auto_configure --`).
debian_opts=$(awk '/dh_auto_configure --/ { on = 1; next }
                   on { line = $0; sub(/\\[[:space:]]*$/, "", line); print line;
                        if ($0 !~ /\\[[:space:]]*$/) exit }' "$work/src/debian/rules" | tr -s ' \t\n' ' ')
case "$debian_opts" in
*--enable-*) ;;
*) fail "could not read Debian's configure options from debian/rules" ;;
esac

cd "$work/src"
log="$work/build.log"
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cflags=$(dpkg-buildflags --get CFLAGS)
# One addition to Debian's configuration: certificate chains of at most 4 (sisp's are 2: a
# user or the server, then the CA). Debian's build keeps room for two chains of 9 certificates
# of 2 KiB in every connection's session (SESSION_CERTS, WOLFSSL_ALT_CERT_CHAINS): 37 KiB of
# the 71 KiB an idle sispd connection cost; with 4 it is 16 KiB (docs/BENCHMARKS.md).
cppflags="$(dpkg-buildflags --get CPPFLAGS) -DMAX_CHAIN_DEPTH=4"
ldflags=$(dpkg-buildflags --get LDFLAGS)
echo "wolfssl-build: building wolfssl $version with $debian_opts $extra (about a minute)"
autoreconf -fi >"$log" 2>&1 || fail "autoreconf failed (see $log)"
# shellcheck disable=SC2086
./configure --prefix="$prefix.new" $debian_opts $extra --enable-static --with-pic \
    CFLAGS="$cflags" CPPFLAGS="$cppflags" LDFLAGS="$ldflags" >>"$log" 2>&1 ||
    fail "configure failed: $(tail -n1 "$log")"
grep -q '^#define WOLFSSL_AESNI' wolfssl/options.h || fail "configure did not enable AES-NI"
make -j"$jobs" src/libwolfssl.la >>"$log" 2>&1 || fail "make failed: $(tail -n1 "$log")"
# wolfCrypt's own test program, linked against the static library (libtool's -static); it
# finds its test keys in ./certs and writes its scratch files to ./, not to this temporary
# source tree (ctest runs it in a fresh directory).
sed 's|^\([[:space:]]*#define CERT_[A-Z_]*\).*|\1 "./"|' wolfcrypt/test/test_paths.h >test_paths.h.tmp
mv test_paths.h.tmp wolfcrypt/test/test_paths.h
make wolfcrypt/test/testwolfcrypt LDFLAGS="$ldflags -static" >>"$log" 2>&1 ||
    fail "building testwolfcrypt failed: $(tail -n1 "$log")"

mkdir -p "$prefix.new/lib" "$prefix.new/include" "$prefix.new/bin" "$prefix.new/share"
make install-nobase_includeHEADERS >>"$log" 2>&1 || fail "installing headers failed"
# Debian's distro build does not install options.h itself; it is what the headers need.
cp wolfssl/options.h "$prefix.new/include/wolfssl/options.h"
cp src/.libs/libwolfssl.a "$prefix.new/lib/"
cp wolfcrypt/test/testwolfcrypt "$prefix.new/bin/"
# testwolfcrypt reads test keys and certificates from ./certs.
cp -R certs "$prefix.new/share/certs"
cd /
echo "$stamp" >"$prefix.new/STAMP"
rm -rf "$prefix"
mv "$prefix.new" "$prefix"
echo "wolfssl-build: installed $prefix ($version, static, with assembly)"

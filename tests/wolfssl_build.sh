#!/bin/sh
# The wolfSSL build in use is the one each binary runs with (cmake/wolfssl.cmake).
# Usage: wolfssl_build.sh accelerated|system PREFIX SISPD SISP
#   accelerated: wolfCrypt's own self-test (testwolfcrypt, linked against the same static
#   library) passes; no binary loads a shared libwolfssl (same SONAME as the system's, other
#   ABI); each says so in --version.
#   system: each binary loads the system's libwolfssl and says it has no assembly.
set -eu
kind=$1 prefix=$2
shift 2
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
if [ "$kind" = accelerated ]; then
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    ln -s "$prefix/share/certs" "$dir/certs"
    (cd "$dir" && "$prefix/bin/testwolfcrypt") >"$dir/selftest.log" 2>&1 ||
        { tail -n 5 "$dir/selftest.log" >&2; fail "testwolfcrypt failed"; }
    grep -q "Test complete" "$dir/selftest.log" || fail "testwolfcrypt did not complete"
    grep -q "AES-GCM  test passed" "$dir/selftest.log" || fail "testwolfcrypt skipped AES-GCM"
    echo "testwolfcrypt: $(grep -c 'test passed' "$dir/selftest.log") tests passed"
fi
for bin in "$@"; do
    name=$(basename "$bin")
    needed=$(readelf -d "$bin" | grep NEEDED || true)
    version=$("$bin" --version) || fail "$name --version failed"
    case "$kind" in
    accelerated)
        echo "$needed" | grep -q libwolfssl && fail "$name loads a shared libwolfssl: $needed"
        echo "$version" | grep -q "accelerated (AES-NI" || fail "$name says: $version"
        ;;
    system)
        echo "$needed" | grep -q 'libwolfssl\.so' || fail "$name does not load libwolfssl.so"
        echo "$version" | grep -q "system library" || fail "$name says: $version"
        ;;
    *) fail "unknown kind $kind" ;;
    esac
    echo "$name: $(echo "$version" | tail -n 1)"
done

#!/usr/bin/env bash
# Builds PostgreSQL 15.18 with assertions (--enable-cassert --enable-debug
# --enable-tap-tests) from Debian's source package into a private prefix,
# $PA_CACHE/pg15-cassert (default /var/cache/pg_perfaudit), with contrib,
# the isolation tester and the TAP modules PGXS uses, and prints that
# prefix.  The build is cached: a stamp file names the source version and
# the options, and a second call only prints the prefix.  It takes 10-20
# minutes on two cores (make -j$PA_JOBS, default 2).  Used by
# test/cassert/run.sh; nothing here touches the system installation.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/test/lib.sh"

cache=${PA_CACHE:-/var/cache/pg_perfaudit}
prefix=$cache/pg15-cassert
build=$cache/pg15-cassert-build
opts=(--prefix="$prefix" --enable-cassert --enable-debug --enable-tap-tests
      --without-readline --with-icu)
stamp="$PA_PG_SOURCE_VERSION ${opts[*]}"
if [ -f "$prefix/.pa-built" ] && [ "$(cat "$prefix/.pa-built")" = "$stamp" ]; then
    echo "$prefix"; exit 0
fi
pa_provision cassert >&2
debian_src=$(pa_pg_source)
# The upstream tree, not Debian's: Debian's patches hard-wire the module
# directory (pkglibdir, and PGXS under it) to /usr/lib/postgresql/15/lib,
# so a "private" install of the patched tree would overwrite the system
# server's modules.  The orig tarball apt-get source fetched is upstream's.
upstream=${PA_PG_SOURCE_VERSION%%-*}
src=$cache/postgresql-$upstream
if [ ! -f "$src/configure" ]; then
    tar -xjf "$(dirname "$debian_src")/postgresql-15_$upstream.orig.tar.bz2" -C "$cache"
fi
rm -rf "$build" "$prefix" "$cache/pg15-cassert-stage"
mkdir -p "$build"
jobs=${PA_JOBS:-2}
{
    cd "$build"
    # -O1 keeps the backtraces readable but the suites not too slow.
    "$src/configure" "${opts[@]}" CFLAGS='-O1 -g -fno-omit-frame-pointer'
    make -s -j"$jobs"
    make -s -C contrib -j"$jobs"
    # Installed through a staging directory: anything that would land
    # outside the prefix is an error, not a change to the system.
    stage=$cache/pg15-cassert-stage
    make -s install DESTDIR="$stage"
    make -s -C contrib install DESTDIR="$stage"
    make -s -C src/test/isolation install DESTDIR="$stage"
    make -s -C src/test/perl install DESTDIR="$stage"
    outside=$(cd "$stage" && find . -type f | grep -v "^\.$prefix/" || true)
    if [ -n "$outside" ]; then
        echo "the install would write outside $prefix:" >&2
        echo "$outside" | head >&2
        exit 1
    fi
    mv "$stage$prefix" "$prefix"
    rm -rf "$stage"
} >&2
echo "$stamp" >"$prefix/.pa-built"
echo "$prefix"

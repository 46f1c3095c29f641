#!/usr/bin/env bash
# Compiles src/*.c against the server headers of other PostgreSQL majors,
# with the project's warning flags and -Werror, to keep src/compat.h honest
# where no server of that major can run here.  Debian 12 packages only
# PostgreSQL 15; the headers of 17 (Debian 13, trixie) and 18 (sid) come
# from Debian's archive as .deb files, unpacked under a work directory:
# nothing is installed and the system's apt configuration is not touched.
#
#     bash test/compat/headers.sh            17 and 18 (and the installed
#                                            server's, $PG_CONFIG's)
#     MAJORS="17" bash test/compat/headers.sh
#
# Compiling is not running: this catches removed or changed APIs (a
# signature, a moved header, a macro that became a function), not a change
# of behaviour.  The .deb headers were configured for a newer glibc than
# Debian 12's (strlcpy is in its string.h), so strlcpy is declared for the
# compiler here.  Exit status non-zero when any file fails for any major.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/test/lib.sh"
MAJORS=${MAJORS:-"17 18"}
declare -A suite=([17]=trixie [18]=sid)

work=$(mktemp -d /tmp/pg_perfaudit-headers.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
for v in $MAJORS; do
    [ -n "${suite[$v]:-}" ] || { echo "no Debian suite known for PostgreSQL $v" >&2; exit 2; }
    echo "deb http://deb.debian.org/debian ${suite[$v]} main"
done | sort -u >"$work/sources.list"
apt_opts=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache"
          -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
echo "== fetching package lists of: $(awk '{print $3}' "$work/sources.list" | tr '\n' ' ')"
apt-get "${apt_opts[@]}" update -qq

printf '#include <stddef.h>\nsize_t strlcpy(char *dst, const char *src, size_t siz);\n' >"$work/strlcpy.h"
# PGXS's own warning flags (those its pg_config would give), then the
# project's, as make evaluates the Makefile's PG_CFLAGS (with the installed
# server's PGXS).
# shellcheck disable=SC2207
flags=(-std=gnu11 -O2 -fPIC -Wmissing-prototypes -Wpointer-arith
       -Wdeclaration-after-statement -Wendif-labels -Wmissing-format-attribute
       -Wimplicit-fallthrough=3 -Wcast-function-type -Wformat-security
       -fno-strict-aliasing -fwrapv -D_GNU_SOURCE -DPA_EXTVERSION=\"compat-check\"
       $(pa_make_var PG_CFLAGS))
case " ${flags[*]} " in *" -Werror "*) ;; *) echo "no -Werror in the Makefile's PG_CFLAGS" >&2; exit 2 ;; esac

status=0
compile() {     # compile MAJOR INCLUDEDIR [EXTRA FLAGS]
    local v=$1 inc=$2 f failed=0
    shift 2
    mkdir -p "$work/obj$v"
    for f in "$top"/src/*.c; do
        if ! gcc "${flags[@]}" "$@" -I "$top/src" -I "$inc" -c "$f" \
                -o "$work/obj$v/$(basename "$f" .c).o" 2>"$work/err"; then
            failed=$((failed + 1))
            echo "   $(basename "$f"):"
            grep -E 'error|warning' "$work/err" | head -n 5 | sed 's/^/      /'
        fi
    done
    if [ $failed -eq 0 ]; then
        echo "PostgreSQL $v: $(ls "$top"/src/*.c | wc -l) files compile with -Werror"
    else
        echo "PostgreSQL $v: $failed file(s) FAILED"
        status=1
    fi
}

if [ -x "$PG_CONFIG" ] && inc=$("$PG_CONFIG" --includedir-server) && [ -f "$inc/postgres.h" ]; then
    compile "$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')" "$inc"
fi
for v in $MAJORS; do
    (cd "$work" && apt-get "${apt_opts[@]}" download -qq "postgresql-server-dev-$v" >/dev/null)
    deb=$(ls "$work"/postgresql-server-dev-"$v"_*.deb)
    dpkg-deb -x "$deb" "$work/pg$v"
    echo "== $(basename "$deb")"
    compile "$v" "$work/pg$v/usr/include/postgresql/$v/server" -include "$work/strlcpy.h"
done
exit $status

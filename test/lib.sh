# shellcheck shell=bash
# Shell functions shared by the test, demo and benchmark scripts (sourced,
# not run).  They need bash.  What a script gets here:
#
#   pa_top              the source tree (the directory above test/)
#   PG_MAJOR            the PostgreSQL major (default 15): names Debian's
#                       packages, and the pg_config used when PG_CONFIG is unset
#   PG_CONFIG           the pg_config of the server under test (default
#                       Debian's, pa_debian_pg_config)
#   pa_pg_paths         bindir, sharedir, pkglibdir from $PG_CONFIG, bindir
#                       first on PATH
#   as_root CMD...      CMD as root (directly, or through sudo)
#   pa_provision SET... the Debian packages of SET (test/provision.sh)
#   pa_build_install    make and make install with $PG_CONFIG
#   pa_make_var VAR     a make variable as the Makefile sets it
#   pa_workdir NAME     a private directory, $work, $port, $run_as
#   pa_init_cluster, pa_start_cluster, pa_stop_cluster
#                       a throwaway cluster in $work/data
#   pa_result NAME P F  one sub-suite's counts for test/run-tests.sh
#   pa_pg_source        the PostgreSQL 15.18 source tree

pa_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}

# pa_debian_pg_config MAJOR: where Debian puts that major's pg_config (the
# one place the scripts spell Debian's layout; all other paths come from
# pg_config itself).  test/compat/chroot.sh uses it inside its chroots.
pa_debian_pg_config() { echo "/usr/lib/postgresql/$1/bin/pg_config"; }
PG_CONFIG=${PG_CONFIG:-$(pa_debian_pg_config "$PG_MAJOR")}

# pa_pg_paths: sets bindir, sharedir and pkglibdir from $PG_CONFIG and puts
# bindir first on PATH (for the scripts' own psql, pg_ctl... and for
# test/fixtures/fixture.sh).  Call it after pa_provision: on a fresh
# machine there is no pg_config before.
# shellcheck disable=SC2034     # set for the scripts that source this file
pa_pg_paths() {
    if [ ! -x "$PG_CONFIG" ]; then
        echo "no pg_config at $PG_CONFIG: set PG_CONFIG, or install the server" \
             "(bash test/provision.sh build)" >&2
        return 1
    fi
    bindir=$("$PG_CONFIG" --bindir)
    sharedir=$("$PG_CONFIG" --sharedir)
    pkglibdir=$("$PG_CONFIG" --pkglibdir)
    export PATH="$bindir:$PATH"
}

# as_root CMD...: runs CMD as root: directly when we are, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# pa_provision SET...: installs what is missing of the Debian packages of
# each SET; the sets and their packages are in test/provision.sh, the one
# place that lists packages.
pa_provision() {
    bash "$pa_top/test/provision.sh" "$@"
}

# pa_setup SET: what a script that runs the extension does first: the
# packages of SET (test/provision.sh), the paths (pa_pg_paths), and the tree
# built and installed (quietly).
pa_setup() {
    pa_provision "$1"
    pa_pg_paths
    pa_build_install >/dev/null
}

# pa_build_install [DIR [MAKE_ARG...]]: builds the extension in DIR (default
# the tree) and installs it, both with PG_CONFIG=$PG_CONFIG and the
# MAKE_ARGs (e.g. DESTDIR=...); the install as root (as_root).
pa_build_install() {
    local dir=${1:-$pa_top}
    [ $# -eq 0 ] || shift
    make -C "$dir" -s PG_CONFIG="$PG_CONFIG" "$@"
    as_root make -C "$dir" -s install PG_CONFIG="$PG_CONFIG" "$@"
}

# pa_make_var VAR [DIR]: prints the value of make variable VAR as DIR's
# Makefile (default the tree's) sets it, evaluated by make itself (PGXS
# included) rather than parsed out of the file: a rule to print it is fed
# beside the Makefile on make's standard input.
pa_make_var() {
    make -s --no-print-directory -C "${2:-$pa_top}" -f Makefile -f - \
        PG_CONFIG="$PG_CONFIG" "pa-print-$1" <<<'pa-print-%: ; @: $(info $($*))'
}

# pa_workdir NAME: a fresh directory for a throwaway cluster, /tmp/NAME.XXXXXX,
# in $work (mode 0700, owned by postgres when run as root: the clusters use
# trust authentication, so no other local user may reach their socket;
# root still can); $run_as
# runs a command as the user the cluster runs as (PostgreSQL refuses root);
# $port is a random port number (with listen_addresses = '' it only names
# the socket in $work).
pa_workdir() {
    work=$(mktemp -d "/tmp/$1.XXXXXX")     # /tmp: a socket path is at most 107 bytes
    chmod 700 "$work"
    run_as=()
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$work"
        run_as=(runuser -u postgres --)
    fi
    port=$(( 20000 + RANDOM % 20000 ))
}

# pa_init_cluster [--preload LIBS] [--conf FILE]... [LINE]...: initdb of
# $work/data (as $run_as; UTF8, locale C, no sync), and its
# postgresql.conf: listening only on the socket in $work (port $port,
# mode 0700), LIBS preloaded (default 'pg_stat_statements,pg_perfaudit';
# --preload '' for none), compute_query_id = auto, jit = off; then each
# FILE's lines (e.g. test/pg_perfaudit.conf), then each LINE: a later
# setting wins.  For a server started otherwise (under valgrind, or
# postgres --single).
#
# pa_start_cluster [--core-files] [the options above] [LINE]...: the same,
# then pg_ctl start, logging to $work/server.log; --core-files lets the
# server write core files (pg_ctl -c).
#
# pa_stop_cluster [TIMEOUT]: a fast shutdown, waiting up to TIMEOUT
# seconds (default 60), and an immediate one if that fails; harmless when
# the cluster never started.
pa_init_cluster() {
    local preload=pg_stat_statements,pg_perfaudit confs=()
    while [ $# -gt 0 ]; do
        case $1 in
            --preload) preload=$2; shift 2 ;;
            --conf) confs+=("$2"); shift 2 ;;
            --) shift; break ;;
            --*) echo "pa_init_cluster: unknown option $1" >&2; return 2 ;;
            *) break ;;
        esac
    done
    "${run_as[@]}" "$bindir/initdb" -D "$work/data" -U postgres -A trust -E UTF8 --locale=C \
        --no-sync >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; return 1; }
    local f
    {
        cat <<CONF

# pa_init_cluster (test/lib.sh)
listen_addresses = ''
port = $port
unix_socket_directories = '$work'
unix_socket_permissions = 0700
compute_query_id = auto
jit = off
CONF
        [ -z "$preload" ] || echo "shared_preload_libraries = '$preload'"
        for f in "${confs[@]}"; do
            printf '\n# %s\n' "${f#"$pa_top"/}"
            cat "$f"
        done
        [ $# -eq 0 ] || { echo; printf '%s\n' "$@"; }
    } >>"$work/data/postgresql.conf"
}
pa_start_cluster() {
    local ctl_opts=()
    if [ "${1:-}" = --core-files ]; then
        ctl_opts=(-c)
        shift
    fi
    pa_init_cluster "$@" || return
    "${run_as[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w "${ctl_opts[@]}" start \
        >/dev/null || { cat "$work/server.log" >&2; return 1; }
}
pa_stop_cluster() {
    [ -f "$work/data/postmaster.pid" ] || return 0
    "${run_as[@]}" "$bindir/pg_ctl" -D "$work/data" -m fast -t "${1:-60}" -w stop >/dev/null 2>&1 ||
        "${run_as[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate -t "${1:-60}" -w stop \
            >/dev/null 2>&1 || true
}

# pa_require_installed: fails unless the extension is installed for the
# server of $PG_CONFIG (after pa_pg_paths).
pa_require_installed() {
    [ -f "$sharedir/extension/pg_perfaudit.control" ] && return 0
    echo "pg_perfaudit is not installed for the server of $PG_CONFIG: run make install first" >&2
    return 1
}

# pa_throwaway_cluster NAME [pa_start_cluster ARG...]: a workdir (pa_workdir
# NAME), a cluster started in it, and an EXIT trap that stops the cluster
# and removes the directory.
pa_throwaway_cluster() {
    pa_workdir "$1"
    shift
    trap 'pa_stop_cluster; rm -rf "$work"' EXIT
    pa_start_cluster "$@"
}

# pa_junit_counts FILE: "PASSED FAILED" of a JUnit XML report (pytest's
# --junitxml, PHPUnit's --log-junit, whose first <testsuite> holds the
# totals): skipped tests count as neither (in PHPUnit, a test skipped
# because one it @depends on failed; that one counts failed); a missing
# or unreadable report, or one without a test suite (no test ran), as
# "0 1".
pa_junit_counts() {
    /usr/bin/python3 - "$1" <<'PY'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print(0, 1)
    sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
if not suites:
    print(0, 1)
    sys.exit()
total = bad = skipped = 0
for s in suites:
    total += int(s.get("tests", 0))
    bad += int(s.get("failures", 0)) + int(s.get("errors", 0))
    skipped += int(s.get("skipped", 0))
print(total - bad - skipped, bad)
PY
}

# pa_result NAME PASSED FAILED: a sub-suite's counts, for test/run-tests.sh,
# which exports PA_RESULTS (a directory) and adds up every file there:
# $PA_RESULTS/NAME holds the two lines "passed=N" and "failed=M".  Does
# nothing when PA_RESULTS is unset (a script run alone).
pa_result() {
    [ -n "${PA_RESULTS:-}" ] || return 0
    case $1 in
        '' | *[!a-z0-9_]*) echo "pa_result: bad name '$1'" >&2; return 2 ;;
    esac
    mkdir -p "$PA_RESULTS"
    printf 'passed=%d\nfailed=%d\n' "$2" "$3" >"$PA_RESULTS/.$1.tmp" &&
        mv -f "$PA_RESULTS/.$1.tmp" "$PA_RESULTS/$1"
}

# pa_pg_source: prints the directory of the PostgreSQL 15.18 source tree
# (Debian's postgresql-15 source package, patches applied), fetching it with
# apt-get source into $PA_CACHE (default /var/cache/pg_perfaudit) the first
# time: deb-src is added to Debian's sources file (idempotently), and the
# packages the builds need (provision.sh's set "pgsource": bison, flex,
# dpkg-dev to unpack, zlib, ICU) are installed.  The tree is kept pristine:
# the scripts build in separate (VPATH) directories.  Needs root the first
# time.
PA_PG_SOURCE_VERSION=${PA_PG_SOURCE_VERSION:-15.18-0+deb12u1}
pa_pg_source() {
    local cache=${PA_CACHE:-/var/cache/pg_perfaudit} upstream=${PA_PG_SOURCE_VERSION%%-*}
    local dir=$cache/postgresql-15-$upstream sources=/etc/apt/sources.list.d/debian.sources
    if [ -f "$dir/configure" ]; then echo "$dir"; return 0; fi
    pa_provision pgsource >&2 || return 1
    if [ -f "$sources" ] && grep -q '^Types: deb$' "$sources"; then
        sed -i 's/^Types: deb$/Types: deb deb-src/' "$sources"
        apt-get update -qq >&2 || return 1
    fi
    mkdir -p "$cache"
    (cd "$cache" && apt-get source -qq "postgresql-15=$PA_PG_SOURCE_VERSION") >&2 ||
        { apt-get update -qq >&2 &&
          (cd "$cache" && apt-get source -qq "postgresql-15=$PA_PG_SOURCE_VERSION") >&2; } || return 1
    [ -f "$dir/configure" ] || { echo "no source tree in $dir" >&2; return 1; }
    echo "$dir"
}

#!/usr/bin/env bash
# The Debian packages the project's scripts need: the one place that lists
# them.  Installs with apt-get those of the packages of each SET that are
# not installed yet (as root, or through sudo).  Usage:
#
#     bash test/provision.sh SET...           install what is missing
#     bash test/provision.sh --print SET...   print the packages, one line
#
# PG_MAJOR (default 15) names the server's packages; with --print another
# major's (test/compat/chroot.sh installs the "installcheck" set of 17 or
# 18 in its chroot so).  The sets:
#
#   build         the server, its headers and PGXS, make, gcc (the
#                 versioned server package ships contrib: pg_stat_statements,
#                 pgbench)
#   demo          build (demo/run.sh)
#   installcheck  build, TAP's IPC::Run, the extensions the failure-mode
#                 tests load next to ours (hook chains, a planner-changing
#                 extension), pgTAP with pg_prove for the interop test, the
#                 browser that renders report_html()
#   extensions    those extensions and pgTAP alone
#   harness       pytest with psycopg, php-cli with PDO pgsql and PHPUnit
#   frameworks    Django with pytest-django, psycopg 3 and psycopg2,
#                 ActiveRecord with ruby-pg, minitest and RSpec: those
#                 client helpers' own tests (clients/, test/frameworks)
#   deb           building the Debian package (debian/, pg_buildext;
#                 build-essential is dpkg-buildpackage's implicit build
#                 dependency): test/deb/run.sh
#   prometheus    Debian's prometheus-postgres-exporter, curl
#   fuzz          sqlsmith (and gzip for its dumps), the server
#   test          what `bash test/run-tests.sh` runs: installcheck, harness,
#                 prometheus, fuzz
#   long          test and what --long adds: valgrind, core, cassert, chroot
#   bench         test/bench/*.sh: build, valgrind (callgrind), pgTAP
#   pgsource      building from the 15.18 source (pa_pg_source in
#                 test/lib.sh): bison, flex, dpkg-dev, zlib, ICU
#   core          test/core/run.sh: build, IPC::Run, pgsource
#   cassert       test/cassert/build.sh: pgsource, IPC::Run, bzip2
#   chroot        test/compat/chroot.sh on the host: debootstrap
#
# apt-get update runs first when anything is missing.
set -euo pipefail

M=${PG_MAJOR:-15}

# packages SET: the packages of one set (sets may name other sets).
packages() {
    case $1 in
        build) echo "postgresql-$M postgresql-server-dev-$M make gcc" ;;
        demo) packages build ;;
        extensions)
            echo "postgresql-$M-hypopg postgresql-$M-pg-qualstats postgresql-$M-pg-stat-kcache" \
                 "postgresql-$M-pgaudit postgresql-$M-pgtap" ;;
        installcheck)
            packages build
            echo "perl libipc-run-perl libtap-parser-sourcehandler-pgtap-perl chromium"
            packages extensions ;;
        harness) echo "python3-pytest python3-psycopg php-cli php-pgsql phpunit" ;;
        frameworks) echo "python3-django python3-pytest-django python3-psycopg python3-psycopg2 ruby-activerecord ruby-pg ruby-minitest ruby-rspec" ;;
        deb) packages build; echo "postgresql-server-dev-all debhelper dpkg-dev build-essential fakeroot" ;;
        prometheus) echo "prometheus-postgres-exporter curl" ;;
        fuzz) echo "sqlsmith gzip postgresql-$M" ;;
        test) packages installcheck; packages harness; packages frameworks; packages prometheus; packages fuzz; packages deb ;;
        long) packages test; echo valgrind; packages core; packages cassert; packages chroot ;;
        bench) packages build; echo "valgrind postgresql-$M-pgtap" ;;
        pgsource) echo "bison flex dpkg-dev zlib1g-dev libicu-dev pkg-config gcc make" ;;
        core) packages build; echo libipc-run-perl; packages pgsource ;;
        cassert) packages pgsource; echo "libipc-run-perl bzip2" ;;
        chroot) echo debootstrap ;;
        *) echo "provision.sh: unknown set '$1'" >&2; return 2 ;;
    esac
}

print=0
if [ "${1:-}" = --print ]; then
    print=1
    shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [--print] SET..." >&2; exit 2; }

# The union of the sets, each package once, in first-seen order.
all=()
declare -A seen=()
for set in "$@"; do
    list=$(packages "$set") || exit 2
    for pkg in $list; do
        [ -n "${seen[$pkg]:-}" ] && continue
        seen[$pkg]=1
        all+=("$pkg")
    done
done

if [ $print -eq 1 ]; then
    echo "${all[*]}"
    exit 0
fi

need=()
for pkg in "${all[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
        need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "== installing: ${need[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
        echo "missing packages and not root: apt-get install ${need[*]}" >&2
        exit 1
    fi
    sudo=(sudo)
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null

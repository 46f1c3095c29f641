#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds and installs the
# extension, runs pg_regress (temp instance, library preloaded) and the TAP
# tests, the application harnesses, the Prometheus exporter test and a
# short sqlsmith pass, and exits non-zero on any failure.  Usage (as root
# on Debian 12):
#
#     bash test/run-tests.sh          the suite (a few minutes)
#     bash test/run-tests.sh --long   also the long passes (about 25 minutes
#                                     more): 100,000 sqlsmith statements,
#                                     pg_regress and the harness workload
#                                     under valgrind memcheck, 100,000
#                                     captured statements per mode with our
#                                     memory contexts sampled, and the
#                                     sources compiled against the
#                                     PostgreSQL 17 and 18 headers, and the
#                                     pg_regress, isolation and TAP suites
#                                     on 17 and 18 in Debian chroots;
#                                     PostgreSQL's own regression suites
#                                     with us preloaded (test/core), and our
#                                     suites on an assert-enabled build
#                                     (test/cassert)
#
# PostgreSQL refuses to run its server as root, so the suites run as the
# 'postgres' user on a copy of the tree that user owns.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
export PATH=/usr/lib/postgresql/$PG_MAJOR/bin:$PATH
long=0
case "$#:${1:-}" in
    1:--long) long=1 ;;
    0:) ;;
    *) echo "usage: $0 [--long]" >&2; exit 2 ;;
esac

. "$top/test/lib.sh"
# The build (server headers, make, gcc), TAP's IPC::Run, pgbench; the
# extensions the failure-mode tests load next to ours (hook chains, a
# planner-changing extension), the fuzzer, the browser that renders
# report_html(), and pgTAP with pg_prove for the interop test.  The
# harnesses and the Prometheus test install their own.
pkgs=(postgresql-server-dev-$PG_MAJOR libipc-run-perl make gcc postgresql-contrib
      postgresql-$PG_MAJOR-hypopg postgresql-$PG_MAJOR-pg-qualstats
      postgresql-$PG_MAJOR-pg-stat-kcache postgresql-$PG_MAJOR-pgaudit sqlsmith chromium
      postgresql-$PG_MAJOR-pgtap libtap-parser-sourcehandler-pgtap-perl)
[ $long -eq 1 ] && pkgs+=(valgrind)
pa_install "${pkgs[@]}"

echo "== building and installing"
make -C "$top" -s PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
if [ "$(id -u)" -eq 0 ]; then
    make -C "$top" -s install PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
else
    sudo make -C "$top" -s install PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
fi

# Version sources must agree (control file, META.json, built script).
bash "$top/test/check-version.sh"

work=$(mktemp -d /tmp/pg_perfaudit-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -a "$top/." "$work/"
run_as=()
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$work"
    run_as=(runuser -u postgres --)
fi

status=0
log="$work/installcheck.log"
"${run_as[@]}" env PATH="$PATH" make -C "$work" installcheck \
    PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config \
    2>&1 | tee "$log" || status=1
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

if [ -f "$work/regression.diffs" ]; then
    echo "== regression.diffs"
    cat "$work/regression.diffs"
fi
for f in "$work"/tmp_check/log/regress_log_*; do
    [ -f "$f" ] || continue
    if grep -q "^not ok" "$f"; then
        echo "== $f"; tail -n 60 "$f"
    fi
done

# The scripts below run clusters of their own; their results join the
# counts.  suite NAME CMD...: a script whose last line is "NAME: N passed,
# M failed".  check NAME CMD...: a script that is one check, its exit status.
extra_pass=0 extra_fail=0
suite() {
    local name=$1 n_pass n_fail
    shift
    if ! "$@" 2>&1 | tee "$work/$name.log"; then status=1; fi
    n_pass=$(sed -n "s/^$name: \([0-9]*\) passed, \([0-9]*\) failed\$/\1/p" "$work/$name.log" | tail -n1)
    n_fail=$(sed -n "s/^$name: \([0-9]*\) passed, \([0-9]*\) failed\$/\2/p" "$work/$name.log" | tail -n1)
    extra_pass=$((extra_pass + ${n_pass:-0}))
    extra_fail=$((extra_fail + ${n_fail:-0}))
}
check() {
    local name=$1
    shift
    echo "== $name"
    if "$@" 2>&1 | tee "$work/$name.log"; then
        extra_pass=$((extra_pass + 1))
    else
        extra_fail=$((extra_fail + 1))
        status=1
    fi
}

# Application harnesses: pytest (psycopg) and PHP (PDO), each test in a
# rolled-back transaction.
suite harness bash "$top/test/harness/run.sh"
# Prometheus: the queries file against the real prometheus-postgres-exporter.
suite prometheus bash "$top/test/prometheus/run.sh"
# Fuzzing, the short pass (the long one: FUZZ_QUERIES=100000, see README):
# sqlsmith's random statements with a database-scope capture open; fails
# on any crash, assertion failure or hang.
check fuzz env FUZZ_QUERIES="${FUZZ_QUERIES:-2000}" bash "$top/test/fuzz/sqlsmith.sh"

# The long passes (--long).
if [ $long -eq 1 ]; then
    check long_fuzz env FUZZ_QUERIES=100000 FUZZ_SEED=7 bash "$top/test/fuzz/sqlsmith.sh"
    check long_memcheck bash "$top/test/valgrind/run.sh"
    check long_context_growth bash "$top/test/valgrind/context_growth.sh"
    check long_compat_headers bash "$top/test/compat/headers.sh"
    check long_pg17 bash "$top/test/compat/chroot.sh" 17
    check long_pg18 bash "$top/test/compat/chroot.sh" 18
    # PostgreSQL's own regression, isolation and plpgsql suites (15.18)
    # with pg_perfaudit preloaded, in both orders, capturing everything.
    check long_core bash "$top/test/core/run.sh"
    # Our suites and sqlsmith on an assert-enabled 15.18 build (cached),
    # and pg_regress with debug_discard_caches = 1.
    check long_cassert bash "$top/test/cassert/run.sh"
fi

# One closing line for CI: counts of pg_regress tests and TAP assertions.
reg_ok=$(grep -Ec '^(ok|test) .*\.\.\. ok|^ok [0-9]+ ' "$log" || true)
reg_fail=$(grep -Ec '\.\.\. FAILED|^not ok [0-9]+ ' "$log" || true)
tap_total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log" | tail -n1)
tap_fail=$( (grep -Eo 'Failed [0-9]+/[0-9]+ subtests' "$log" || true) | awk -F'[ /]' '{s+=$2} END {print s+0}')
tap_total=${tap_total:-0}
passed=$((reg_ok + tap_total - tap_fail + extra_pass))
failed=$((reg_fail + tap_fail + extra_fail))
if [ $status -ne 0 ] && [ $failed -eq 0 ]; then failed=1; fi
echo "tests: $passed passed, $failed failed"
exit $status

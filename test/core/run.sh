#!/usr/bin/env bash
# PostgreSQL's own regression suites against pg_perfaudit (a --long pass of
# test/run-tests.sh).  The 15.18 source (Debian's source package, see
# pa_pg_source in test/lib.sh) is configured in a build directory of its
# own and only its test programs are built (pg_regress, regress.so,
# refint/autoinc, pg_isolation_regress, isolationtester, psql); the suites then
# run against the installed server (15.20 today), as installcheck does:
#
#   core       src/test/regress/parallel_schedule, database "regression"
#   isolation  src/test/isolation/isolation_schedule, "isolation_regression"
#   plpgsql    src/pl/plpgsql/src's REGRESS list, "pl_regression"
#
# in three configurations, each on a throwaway cluster of its own:
#
#   baseline   shared_preload_libraries = 'pg_stat_statements'
#   ext        'pg_stat_statements,pg_perfaudit'
#   ext_rev    'pg_perfaudit,pg_stat_statements'
#
# all with compute_query_id = on and max_prepared_transactions = 2 (what
# pg_regress's own temp instance sets); the ext ones with perfaudit.track =
# 'all'.  Each suite's database is created before the suite, the way
# pg_regress creates it (template0 and the same ALTER DATABASE settings),
# and pg_regress runs with --use-existing: so the extension can be created
# in it first (CREATE EXTENSION pg_perfaudit) and a database-scope capture
# (perfaudit.start('core', scope => 'database')) opened by a session held
# for the whole suite; stop() at the end is timed and its statement count
# printed.
#
# Pass: no server process crashed (the server log has no "terminated by
# signal", "was terminated by", "TRAP:" or "PANIC:"), and every test that
# fails with the extension fails identically in the baseline.  Outputs are
# compared per test: those of a test that failed (results/) with
# and without the extension, after masking what is environmental:
#   - "Query Identifier: N" lines of EXPLAIN VERBOSE (compute_query_id =
#     on): the identifier hashes relation OIDs, which differ when the
#     extension's objects were created first; and with them the width of
#     the "QUERY PLAN" header and its rule of dashes, which are as wide as
#     the widest plan line (a negative identifier is one character wider).
# Tests whose output differs only because the extension is in the database
# and that say so are listed in KNOWN below with the reason; they are
# reported, not failed.
#
#     bash test/core/run.sh             (as root, Debian 12; about 25 minutes)
#     CORE_CONFIGS="baseline ext" CORE_SUITES=core bash test/core/run.sh
#     CORE_KEEP=1                       keep the work directories
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/test/lib.sh"

CORE_CONFIGS=${CORE_CONFIGS-baseline ext ext_rev}
CORE_SUITES=${CORE_SUITES:-core isolation plpgsql}
CORE_KEEP=${CORE_KEEP:-0}
cache=${PA_CACHE:-/var/cache/pg_perfaudit}

# Tests that fail with the extension for a reason the extension gives them
# on purpose, as "suite/test: reason" (none today).  opr_sanity, which
# checks every function of the database, failed on pg_perfaudit's
# _html_histogram/_html_benchmarks (IMMUTABLE but PARALLEL UNSAFE) and
# _baseline_owner (SECURITY DEFINER) until issue 14 item 9: it must pass.
KNOWN=${CORE_KNOWN-}

pa_provision core >/dev/null
pa_pg_paths

# --- the test programs, built once from the source --------------------------
src=$(pa_pg_source)
build=$cache/core-build
if [ "$(cat "$build/.pa-source" 2>/dev/null)" != "$src" ]; then
    rm -rf "$build"
    mkdir -p "$build"
    echo "== configuring $src (in $build)"
    (cd "$build" && "$src/configure" --without-readline --without-icu \
        --with-system-tzdata=/usr/share/zoneinfo >configure.log 2>&1) ||
        { tail -n 30 "$build/configure.log"; exit 1; }
    echo "$src" >"$build/.pa-source"
fi
# The suites' own psql too: the 15.18 tests expect 15.18's psql (15.20's
# reads COPY ... FROM STDIN data differently, for one).  make does nothing
# when they are built.
for dir in src/test/regress src/test/isolation src/bin/psql; do
    make -s -j"${PA_JOBS:-2}" -C "$build/$dir" >>"$build/make.log" 2>&1 ||
        { tail -n 30 "$build/make.log"; exit 1; }
done
mkdir -p "$build/bin"
ln -sf "$build/src/bin/psql/psql" "$build/bin/psql"
# The server (as postgres) loads regress.so and reads the data files.
chmod -R a+rX "$build" "$src"

# --- pg_perfaudit, built from this tree into a private directory ----------
# The clusters load it from there (Debian's extension_destdir for the
# control and script files and $libdir/ modules, dynamic_library_path for
# the preloaded library and the workers), not from the system
# installation: the suites run for half an hour and need no shared lock.
ext=$(mktemp -d /tmp/pg_perfaudit-corelib.XXXXXX)
cp -a "$top/." "$ext/src"
make -s -C "$ext/src" clean >/dev/null 2>&1 || true
pa_build_install "$ext/src" DESTDIR="$ext/root" >"$ext/build.log" 2>&1 || { cat "$ext/build.log"; exit 1; }
chmod -R a+rX "$ext"
chmod 755 "$ext"

# plpgsql's REGRESS list, as make evaluates its Makefile in the build tree.
plpgsql_tests=$(pa_make_var REGRESS "$build/src/pl/plpgsql/src")

crash_re='terminated by signal|was terminated by|TRAP:|PANIC:'
workdirs=()
failed=0
cleanup() {
    local rc=$? w
    for w in "${workdirs[@]}"; do
        work=$w
        [ -f "$w/data/postmaster.pid" ] && pa_stop_cluster
        if [ $rc -ne 0 ] || [ $failed -ne 0 ] || [ "$CORE_KEEP" = 1 ]; then
            :
        else
            rm -rf "$w"
        fi
    done
    if [ $rc -ne 0 ] || [ $failed -ne 0 ] || [ "$CORE_KEEP" = 1 ]; then
        echo "== work directories kept: ${workdirs[*]}"
    fi
    rm -rf "$ext"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }

# failed_tests DIFFS OUTDIR: an empty file in OUTDIR per test that failed.
failed_tests() {
    local diffs=$1 out=$2
    mkdir -p "$out"
    [ -f "$diffs" ] || return 0
    awk -v out="$out" '/^diff / { f = $NF; sub(/.*\//, "", f); sub(/\.out$/, "", f); printf "" > (out "/" f) }' "$diffs"
}

# mask RESULTFILE: a test's output with what is environmental masked (see
# the header): Query Identifier values, and the width of the QUERY PLAN
# header and its rule of dashes.  The outputs are compared, not the diffs:
# a header that happens to be as wide as the expected one is context in
# one diff and a change in the other.
mask() {
    sed -E 's/Query Identifier: -?[0-9]+ */Query Identifier: N/; s/^ *QUERY PLAN *$/QUERY PLAN/; s/^-+$/-/' "$1"
}

psql_at() { "${run_as[@]}" psql -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres "$@"; }

# create_db DB EXT: the database as pg_regress would create it.
create_db() {
    local db=$1 ext=$2
    psql_at -d postgres <<SQL
CREATE DATABASE "$db" TEMPLATE=template0;
ALTER DATABASE "$db" SET lc_messages TO 'C';
ALTER DATABASE "$db" SET lc_monetary TO 'C';
ALTER DATABASE "$db" SET lc_numeric TO 'C';
ALTER DATABASE "$db" SET lc_time TO 'C';
ALTER DATABASE "$db" SET bytea_output TO 'hex';
ALTER DATABASE "$db" SET timezone_abbreviations TO 'Default';
SQL
    if [ "$ext" = 1 ]; then
        psql_at -d "$db" -c 'CREATE EXTENSION pg_perfaudit'
    fi
}

# The capture session: a psql reading its commands from a fifo, held open
# for the whole suite.
cap_open() {
    local db=$1
    rm -f "$work/ctl" "$work/cap.out" "$work/cap.run" "$work/cap.stop"
    mkfifo "$work/ctl"
    chown postgres: "$work/ctl" 2>/dev/null || true
    "${run_as[@]}" psql -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d "$db" \
        <"$work/ctl" >"$work/cap.out" 2>&1 &
    cap_pid=$!
    exec 7>"$work/ctl"
    echo "SELECT perfaudit.start('core', scope => 'database') \\g $work/cap.run" >&7
    local i
    for i in $(seq 1 300); do
        [ -s "$work/cap.run" ] && return 0
        kill -0 $cap_pid 2>/dev/null || break
        sleep 0.1
    done
    echo "start() did not return:" >&2
    cat "$work/cap.out" >&2
    return 1
}
# cap_close: stop(), timed; $work/cap.stop gets "statements|ms".  (Not in
# a command substitution: the psql must be a child of the caller.)
cap_close() {
    cat >&7 <<SQL
SELECT clock_timestamp() AS pa_t0 \\gset
SELECT s.statements, round(extract(epoch FROM clock_timestamp() - :'pa_t0'::timestamptz) * 1000)
  FROM perfaudit.stop() s \\g $work/cap.stop
\\q
SQL
    exec 7>&-
    wait $cap_pid || { echo "capture session failed:" >&2; cat "$work/cap.out" >&2; return 1; }
}

# run_suite CONFIG SUITE: runs one suite; prints its figures.
run_suite() {
    local config=$1 suite=$2 ext=0 db out t0 t1 rc=0 figures=""
    [ "$config" = baseline ] || ext=1
    out=$work/$suite
    mkdir -p "$out"
    chown postgres: "$out"
    local args=(--use-existing --host="$work" --port="$port" --user=postgres
                --bindir="$build/bin" --outputdir="$out")
    case $suite in
        core)
            db=regression
            args=("$build/src/test/regress/pg_regress" "${args[@]}" --dbname=$db
                  --inputdir="$src/src/test/regress" --dlpath="$build/src/test/regress"
                  --max-concurrent-tests=20 --schedule="$src/src/test/regress/parallel_schedule") ;;
        isolation)
            db=isolation_regression
            args=("$build/src/test/isolation/pg_isolation_regress" "${args[@]}" --dbname=$db
                  --inputdir="$src/src/test/isolation"
                  --schedule="$src/src/test/isolation/isolation_schedule") ;;
        plpgsql)
            db=pl_regression
            # shellcheck disable=SC2206
            args=("$build/src/test/regress/pg_regress" "${args[@]}" --dbname=$db
                  --inputdir="$src/src/pl/plpgsql/src" $plpgsql_tests) ;;
    esac
    create_db $db $ext
    [ $ext -eq 1 ] && cap_open $db
    t0=$(now)
    "${run_as[@]}" "${args[@]}" >"$out/pg_regress.log" 2>&1 || rc=$?
    t1=$(now)
    if [ $ext -eq 1 ]; then
        cap_close
        figures=$(tr '|' ' ' <"$work/cap.stop")
        # Nested statements without a text, and the run's own counts.
        local run_id empty
        run_id=$(cat "$work/cap.run")
        empty=$(psql_at -d $db -c "SELECT count(*) || ' rows, ' || coalesce(sum(calls), 0) || ' calls'
                                     FROM perfaudit.run_statements
                                    WHERE run_id = $run_id AND btrim(query) = ''")
        figures="statements=${figures% *} stop_ms=${figures#* } empty_text=\"$empty\""
    fi
    local summary
    summary=$(grep -E 'tests? (passed|failed)' "$out/pg_regress.log" | sed 's/^ *//; s/ *$//' | tr '\n' ' ')
    echo "$config $suite: $(secs "$t0" "$t1") s, $summary(exit $rc) $figures"
    failed_tests "$out/regression.diffs" "$work/norm/$suite"
}

results=()
for config in $CORE_CONFIGS; do
    case $config in
        baseline) libs=pg_stat_statements ;;
        ext) libs=pg_stat_statements,pg_perfaudit ;;
        ext_rev) libs=pg_perfaudit,pg_stat_statements ;;
        *) echo "unknown configuration $config" >&2; exit 2 ;;
    esac
    pa_workdir pg_perfaudit-core-$config
    workdirs+=("$work")
    echo "== $config: shared_preload_libraries = '$libs' ($work, port $port)"
    extra=("compute_query_id = on"
           "max_prepared_transactions = 2" "fsync = off" "log_line_prefix = '%m [%p] %b '")
    [ "$config" = baseline ] ||
        extra+=("perfaudit.track = 'all'" "extension_destdir = '$ext/root'"
                "dynamic_library_path = '$ext/root$pkglibdir:\$libdir'")
    pa_start_cluster --preload "$libs" "${extra[@]}"
    if [ "$config" != baseline ]; then
        # The library the postmaster preloaded is the one just built.
        pid=$(head -n1 "$work/data/postmaster.pid")
        grep -q "$ext/root$pkglibdir/pg_perfaudit.so" /proc/"$pid"/maps 2>/dev/null ||
            { echo "the server did not load $ext/root$pkglibdir/pg_perfaudit.so" >&2; exit 1; }
    fi
    for suite in $CORE_SUITES; do
        run_suite "$config" "$suite" | tee "$work/$suite.figures"
    done
    pa_stop_cluster
    if grep -E "$crash_re" "$work/server.log" >/dev/null; then
        echo "FAIL $config: a server process crashed:"
        grep -E -B2 -A3 "$crash_re" "$work/server.log" | head -n 40
        failed=1
    fi
    eval "dir_$config=\$work"
done

# --- comparison with the baseline ------------------------------------------
if [[ " $CORE_CONFIGS " != *" baseline "* ]]; then
    echo "core: no baseline to compare with"
    exit $failed
fi
base=$dir_baseline
for config in $CORE_CONFIGS; do
    [ "$config" = baseline ] && continue
    eval "dir=\$dir_$config"
    for suite in $CORE_SUITES; do
        for f in "$dir/norm/$suite"/*; do
            [ -e "$f" ] || continue
            t=$(basename "$f")
            r=$dir/$suite/results/$t.out b=$base/$suite/results/$t.out
            if [ -f "$base/norm/$suite/$t" ] && [ -f "$r" ] && [ -f "$b" ] &&
               cmp -s <(mask "$r") <(mask "$b"); then
                continue
            fi
            reason=$(printf '%s\n' "$KNOWN" | sed -n "s|^$suite/$t: ||p")
            if [ -n "$reason" ]; then
                echo "known  $config $suite/$t: $reason"
                if [ "${CORE_SHOW_KNOWN:-0}" = 1 ] && [ -f "$r" ] && [ -f "$b" ]; then
                    diff -u <(mask "$b") <(mask "$r") || true
                fi
                continue
            fi
            echo "FAIL   $config $suite/$t: fails with the extension, not identically in the baseline"
            if [ -f "$r" ] && [ -f "$b" ]; then
                diff -u <(mask "$b") <(mask "$r") | head -n 60 || true
            else
                awk -v f="/$t.out" '/^diff /{p = index($0, f) > 0} p' "$dir/$suite/regression.diffs" | head -n 60
            fi
            failed=1
        done
        base_only=$(cd "$base/norm/$suite" 2>/dev/null && for f in *; do
            [ -e "$f" ] && [ ! -e "$dir/norm/$suite/$f" ] && echo "$f"; done || true)
        [ -z "$base_only" ] || echo "note   $config $suite: fail only in the baseline: $base_only"
    done
done
echo "== baseline failures (15.18 tests against the installed server, identical in every configuration):"
for suite in $CORE_SUITES; do
    echo "   $suite: $(cd "$base/norm/$suite" 2>/dev/null && ls | tr '\n' ' ')"
done
if [ $failed -eq 0 ]; then
    echo "core: PASS (no crash; no test fails with pg_perfaudit that does not fail identically without it)"
else
    echo "core: FAIL"
fi
exit $failed

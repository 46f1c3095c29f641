#!/usr/bin/env bash
# The pg_regress suite and the harness workload against a server whose
# postmaster (and so every backend, background worker and auxiliary process
# it forks) runs under valgrind memcheck, then a scan of valgrind's logs:
# every error whose stack (or the allocation/free stack of its address)
# passes through pg_perfaudit is a failure, and so is a "definitely lost"
# block allocated through it.  Errors elsewhere are listed, not failed.
#
#     bash test/valgrind/run.sh                 (as root or with sudo)
#     bash test/valgrind/run.sh regress         only the pg_regress suite
#     bash test/valgrind/run.sh harness         only the harness workload
#     bash test/valgrind/run.sh scan WORKDIR    scan the logs of a kept run again
#
# Exit status 0 (PASS) when nothing involves pg_perfaudit, pg_regress and
# the harness passed and no server process crashed; the last lines say
# which part failed.  About 3 to 5 minutes on 2 busy cores.
#
# Environment:
#     VG_ERROR_EXITCODE  valgrind's --error-exitcode (default 1, the exit
#                        status of an ordinary FATAL: the postmaster carries
#                        on, the suite runs to its end and the log scan is
#                        the verdict).  128 makes any unsuppressed error a
#                        crash and restart of the whole server: loud, but the
#                        tests that follow then fail against a server in
#                        recovery.  0 to collect core noise.
#     VG_SUPP            suppressions file (default test/valgrind/postgres.supp;
#                        "none" for none)
#     VG_GEN_SUPP=1      add --gen-suppressions=all (to extend postgres.supp)
#     VG_OPTS            more valgrind options (e.g. --track-origins=yes)
#     HARNESS_ITERS      benchmark() iterations in the harness (default 3000)
#     VG_KEEP=1          keep the work directory (kept anyway unless PASS)
#
# The stock binaries are not built with USE_VALGRIND, so memory contexts are
# opaque to memcheck: a chunk read after pfree() while its block stays
# allocated, or an overrun into the next chunk of the same block, goes
# unseen.  What it does see: uninitialised bytes of freshly malloc'd blocks
# used in a decision or a system call, use after free of whole blocks (a
# context reset or deleted), overruns past a block's end, bad frees, and
# malloc'd memory leaked.
#
# The server runs the settings of test/pg_perfaudit.conf (the pg_regress
# temp instance's); only timeouts are relaxed for valgrind's slowdown.
# Output: stdout, test/valgrind/out/valgrind.txt (the result and the log
# summary) and WORKDIR/summary.txt; the logs are in WORKDIR/vg.
#
# The whole script is one compound command, read before it runs: editing
# the file during a run does not disturb that run.
{
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/test/lib.sh"
pa_pg_paths
pg_regress=$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress
what=${1:-all}
case $what in
    all | regress | harness) ;;
    scan) [ -d "${2:-}/vg" ] || { echo "usage: $0 scan WORKDIR" >&2; exit 2; } ;;
    *) echo "usage: $0 [all|regress|harness|scan WORKDIR]" >&2; exit 2 ;;
esac

VG_ERROR_EXITCODE=${VG_ERROR_EXITCODE:-1}
VG_SUPP=${VG_SUPP:-$here/postgres.supp}
HARNESS_ITERS=${HARNESS_ITERS:-3000}

for f in "$bindir/postgres" "$pg_regress" "$pkglibdir/pg_perfaudit.so" \
         "$sharedir/extension/pg_perfaudit.control"; do
    [ -e "$f" ] || { echo "missing $f (is the extension installed?)" >&2; exit 2; }
done
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }

# Scans DIR/vg/vg.*.log into DIR/summary.txt (and stdout); fails when an
# error or a definitely lost block involves pg_perfaudit.
scan_logs() {
    echo "== scanning $(find "$1/vg" -name 'vg.*.log' | wc -l) valgrind logs"
    local rc=0
    perl "$here/scan_logs.pl" "$1" "$pkglibdir/pg_perfaudit.so" "$top/src" >"$1/summary.txt" || rc=$?
    cat "$1/summary.txt"
    return $rc
}

if [ "$what" = scan ]; then
    scan_logs "$2"
    exit
fi

pa_workdir pa-valgrind
as_pg=("${run_as[@]}")
mkdir "$work/vg" "$work/regress"
cp -r "$top/sql" "$top/expected" "$work/regress/"
cp "$here/harness.sql" "$work/"
supp_opt=()
if [ "$VG_SUPP" != none ]; then
    cp "$VG_SUPP" "$work/postgres.supp"
    supp_opt=(--suppressions="$work/postgres.supp")
fi
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work"
data=$work/data
vgpid=
status=1        # until the end is reached
keep=${VG_KEEP:-0}

stop_server() {
    [ -n "$vgpid" ] || return 0
    if kill -0 "$vgpid" 2>/dev/null; then
        # A fast shutdown can hang when it arrives during crash recovery
        # (after a crash with VG_ERROR_EXITCODE=128): then immediate.
        pa_stop_cluster 600
    fi
    # valgrind writes the postmaster's own report after the pid file is
    # gone: wait for the process itself.
    wait "$vgpid" 2>/dev/null || true
    vgpid=
}
cleanup() {
    stop_server
    if [ "$keep" = 1 ] || [ "$status" -ne 0 ]; then
        echo "work directory kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "== initdb ($work)"
# valgrind makes everything 10-30x slower: nothing may time out because of
# it (the timeouts); the log names each pid's process type, for the summary.
pa_init_cluster --conf "$top/test/pg_perfaudit.conf" "# test/valgrind/run.sh" \
    "max_prepared_transactions = 2" \
    "statement_timeout = 0" "authentication_timeout = '10min'" \
    "checkpoint_timeout = '1h'" "max_wal_size = '1GB'" \
    "log_line_prefix = '%m [%p] %b '" "log_connections = on"

vg_cmd=(valgrind --tool=memcheck --trace-children=yes --track-origins=no
        --error-exitcode="$VG_ERROR_EXITCODE" "${supp_opt[@]}"
        --num-callers=40 --leak-check=full --show-leak-kinds=definite
        --errors-for-leak-kinds=none --show-error-list=yes
        --log-file="$work/vg/vg.%p.log")
[ "${VG_GEN_SUPP:-0}" = 1 ] && vg_cmd+=(--gen-suppressions=all)
# shellcheck disable=SC2206
[ -n "${VG_OPTS:-}" ] && vg_cmd+=($VG_OPTS)

lib_id() {
    echo "$(date -u -r "$pkglibdir/pg_perfaudit.so" '+%Y-%m-%d %H:%M:%S UTC'), sha256 $(sha256sum "$pkglibdir/pg_perfaudit.so" | cut -c1-12)"
}
echo "== starting the server under valgrind (port $port)"
lib_at_start=$(lib_id)
src_at_start="$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout')$(git -C "$top" diff --quiet -- src 2>/dev/null || echo ', src/ modified')"
t_start=$(date +%s)
"${as_pg[@]}" "${vg_cmd[@]}" "$bindir/postgres" -D "$data" >"$work/server.log" 2>&1 &
vgpid=$!
for _ in $(seq 1 600); do
    "$bindir/pg_isready" -q -h "$work" -p "$port" && break
    kill -0 "$vgpid" 2>/dev/null || { echo "server did not start:"; tail -n 30 "$work/server.log"; exit 1; }
    sleep 1
done
"$bindir/pg_isready" -q -h "$work" -p "$port" || { echo "server not ready after 600 s"; exit 1; }
echo "   ready after $(( $(date +%s) - t_start )) s"

psql() { "${as_pg[@]}" "$bindir/psql" -X -h "$work" -p "$port" -U postgres "$@"; }

regress_result=skipped
t_regress=0
if [ "$what" != harness ]; then
    tests=$(pa_make_var REGRESS)
    echo "== pg_regress: $tests"
    t0=$(date +%s)
    # installcheck against the running server: without --use-existing,
    # pg_regress drops and creates contrib_regression itself, with the
    # per-database settings (lc_messages and so on) the temp instance gets.
    # shellcheck disable=SC2086
    if (cd "$work/regress" && "${as_pg[@]}" "$pg_regress" \
            --inputdir="$work/regress" --outputdir="$work/regress" \
            --bindir="$bindir" --host="$work" --port="$port" \
            --dbname=contrib_regression $tests) 2>&1 | tee "$work/regress.log"; then
        regress_result=passed
    else
        regress_result=FAILED
    fi
    t_regress=$(( $(date +%s) - t0 ))
    if [ -f "$work/regress/regression.diffs" ]; then
        echo "== regression.diffs"
        cat "$work/regress/regression.diffs"
    fi
fi

harness_result=skipped
t_harness=0
if [ "$what" != regress ]; then
    echo "== harness workload (fixture, benchmark() x $HARNESS_ITERS, capture, pgbench, concurrent, tenant stats)"
    t0=$(date +%s)
    psql -q -d postgres -c 'CREATE DATABASE pa_vg_harness'
    if psql -q -d pa_vg_harness -v ON_ERROR_STOP=1 \
            -v orgs=100 -v users=1000 -v servers=200 -v metrics_per_server=5 -v apps=1500 \
            -f "$top/test/fixtures/schema.sql" -f "$top/test/fixtures/load.sql" \
        && "${as_pg[@]}" env PGBENCH="$bindir/pgbench -h $work -p $port -U postgres pa_vg_harness" \
            "$bindir/psql" -X -h "$work" -p "$port" -U postgres -d pa_vg_harness \
            -v ON_ERROR_STOP=1 -v iters="$HARNESS_ITERS" -f "$work/harness.sql" \
            >"$work/harness.out" 2>&1; then
        harness_result=passed
    else
        harness_result=FAILED
    fi
    t_harness=$(( $(date +%s) - t0 ))
    cat "$work/harness.out"
fi

echo "== stopping the server"
stop_server
t_total=$(( $(date +%s) - t_start ))

# A process that ended on a signal or valgrind's 128 is a crash to the
# postmaster (exit 1 is an ordinary FATAL or background worker exit).
crashes=$(grep -cE 'terminated by signal|exited with exit code ([2-9]|[1-9][0-9]+)' "$work/server.log" || true)

scan_rc=0
scan_logs "$work" || scan_rc=$?

status=0
[ "$regress_result" = FAILED ] && status=1
[ "$harness_result" = FAILED ] && status=1
[ "$crashes" -ne 0 ] && status=1
[ "$scan_rc" -ne 0 ] && status=1
mkdir -p "$here/out"
{
    echo
    echo "== result"
    echo "pg_regress:         $regress_result ($t_regress s)"
    echo "harness workload:   $harness_result ($t_harness s)"
    echo "server crashes:     $crashes (server.log)"
    echo "valgrind logs:      $([ $scan_rc -eq 0 ] && echo 'nothing in pg_perfaudit' || echo 'ERRORS OR LEAKS IN PG_PERFAUDIT') ($work/summary.txt)"
    echo "valgrind wall time: $t_total s, postmaster start to exit"
    echo "library:            $pkglibdir/pg_perfaudit.so, $lib_at_start"
    [ "$(lib_id)" = "$lib_at_start" ] ||
        echo "                    (replaced during the run, now $(lib_id): the server ran the one above)"
    echo "source tree:        $src_at_start at the start"
    echo "($(valgrind --version), $("$bindir/postgres" --version), $(nproc) cores, $(date -u +%Y-%m-%d))"
    if [ "$status" -eq 0 ]; then echo "PASS"; else echo "FAIL"; fi
} | tee "$here/out/valgrind.txt"
cat "$work/summary.txt" >>"$here/out/valgrind.txt"
exit $status
}

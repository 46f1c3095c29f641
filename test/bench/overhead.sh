#!/usr/bin/env bash
# Per-query overhead of pg_perfaudit, in instructions, measured with
# valgrind's callgrind on a single-user backend (postgres --single).
#
# For each configuration the same backend runs N and then M executions of a
# prepared point select; (Ir(M) - Ir(N)) / (M - N) is the cost of one query,
# with start-up and shutdown cancelled out.  Instruction counts do not
# depend on machine load, so the ratios are repeatable.
#
#   bash test/bench/overhead.sh            (as root or as a user with sudo)
#   N=2000 M=4000 bash test/bench/overhead.sh
#
# Prints a table and writes it to test/bench/out/overhead.txt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
N=${N:-2000}
M=${M:-4000}

. "$top/test/lib.sh"
pa_setup bench

pa_workdir pg_perfaudit-bench
cleanup() {
    pa_stop_cluster
    rm -rf "$work"
}
trap cleanup EXIT

common=(-c compute_query_id=auto -c jit=off -c fsync=off -c autovacuum=off -c max_worker_processes=16)

# Setup on a normally started server, nothing preloaded: the multi-tenant
# fixture (default size) and the extension (needed for start()).  The
# measured backends are single-user ones on the same data directory, with
# the settings above and their own shared_preload_libraries.
pa_start_cluster --preload ''
"${run_as[@]}" bash "$top/test/fixtures/fixture.sh" -h "$work" -p $port -U postgres -d postgres
"${run_as[@]}" $bindir/psql -X -q -h "$work" -p $port -U postgres -d postgres \
    -c "CREATE EXTENSION pg_perfaudit" -c "CHECKPOINT"
pa_stop_cluster

# input FILE COUNT CAPTURE [TENANTS]
# Without TENANTS: a point select by primary key, no tenant (the lookup
# pg_stat_statements is compared on).  With TENANTS: first one
# tenant-scoped statement for each of TENANTS tenants (nested in a DO
# block, counted with perfaudit.track = all; the same in the N and M runs
# of a configuration, so it cancels out in the difference), then the
# measured executions spread over all TENANTS tenants: the statistics hold
# TENANTS tenants while they run.
input() {
    {
        if [ -n "${4:-}" ]; then
            echo "CREATE TEMP TABLE warm (organization_id bigint)"
            echo "SET perfaudit.track = 'all'"
            echo "DO \$\$ BEGIN FOR i IN 1..$4 LOOP PERFORM 1 FROM warm WHERE organization_id = i; END LOOP; END \$\$"
            echo "RESET perfaudit.track"
            echo "PREPARE p(bigint, bigint) AS SELECT name, email FROM app.users WHERE organization_id = \$1 AND id = \$2"
        else
            echo "PREPARE p(bigint) AS SELECT ${cols:-name, email} FROM app.users WHERE id = \$1"
        fi
        [ "$3" = yes ] && echo "SELECT perfaudit.start('bench')"
        for ((i = 1; i <= $2; i++)); do
            if [ -n "${4:-}" ]; then
                echo "EXECUTE p($(( (i * 7919) % $4 + 1 )), $(( (i * 7919) % 10000 + 1 )))"
            else
                echo "EXECUTE p($(( (i * 7919) % 10000 + 1 )))"
            fi
        done
    } > "$1"
    chmod 644 "$1"
}

# instructions PRELOAD CAPTURE COUNT TENANTS [extra server options]
instructions() {
    local out="$work/cg.$RANDOM" in="$work/in.$RANDOM"
    input "$in" "$3" "$2" "$4"
    "${run_as[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" \
        $bindir/postgres --single -D "$work/data" "${common[@]}" "${@:5}" \
        -c shared_preload_libraries="$1" postgres < "$in" > /dev/null 2>"$work/vg.log" \
        || { cat "$work/vg.log" >&2; exit 1; }
    awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

# per_query PRELOAD CAPTURE [extra server options]; TENANTS from $tenants
per_query() {
    local a b
    a=$(instructions "$1" "$2" "$N" "${tenants:-}" "${@:3}")
    b=$(instructions "$1" "$2" "$M" "${tenants:-}" "${@:3}")
    echo $(( (b - a) / (M - N) ))
}

off=(-c perfaudit.track_tenants=off)
bare=$(per_query "" no)
# Core's query-id computation, which pg_perfaudit (like pg_stat_statements)
# switches on: its cost is core's, the same for both.
qid=$(per_query "" no -c compute_query_id=on)
pgss=$(per_query "pg_stat_statements" no)
idle=$(per_query "pg_perfaudit" no "${off[@]}")
stats=$(per_query "pg_perfaudit" no)
capt=$(per_query "pg_perfaudit" yes)
both=$(per_query "pg_stat_statements,pg_perfaudit" yes)
# Flat in the number of tenants: 100 vs 100,000 tracked.
big=(-c perfaudit.max_tenants=120000 -c perfaudit.max_tenant_statements=120000)
t100=$(tenants=100 per_query "pg_perfaudit" no "${big[@]}")
t100k=$(tenants=100000 per_query "pg_perfaudit" no "${big[@]}")
# Row observation's worst case: the primary-key lookup (no tenant predicate)
# returning the tenant column, as an ORM's lazy load does: every execution
# observed while a run captures.
obs_cols="name, email, organization_id"
obs_bare=$(cols=$obs_cols per_query "" no)
obs_capt=$(cols=$obs_cols per_query "pg_perfaudit" yes)

ratio() { awk -v a="$1" -v b="$bare" 'BEGIN { printf "%.3f", a / b }'; }
verdict() { awk -v a="$1" -v b="$bare" -v t="$2" 'BEGIN { print (a / b <= t) ? "PASS" : "FAIL" }'; }
# against LABEL VALUE BASE TARGET: a row of VALUE as a ratio of BASE.
against() {
    printf '%-40s %12d %8s  <= %s %s\n' "$1" "$2" \
        "$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.3f", a / b }')" "$4" \
        "$(awk -v a="$2" -v b="$3" -v t="$4" 'BEGIN { print (a / b <= t) ? "PASS" : "FAIL" }')"
}

mkdir -p "$here/out"
{
    echo "pg_perfaudit per-query overhead: callgrind, postgres --single, prepared point select on app.users (fixture)"
    echo "PostgreSQL $($bindir/postgres --version | awk '{print $3}'), ($M - $N executions) differenced"
    printf '%-40s %12s %8s  %s\n' configuration instr/query ratio target
    printf '%-40s %12d %8s\n' "bare server" "$bare" "1.000"
    printf '%-40s %12d %8s\n' "bare server, compute_query_id=on" "$qid" "$(ratio "$qid")"
    printf '%-40s %12d %8s\n' "pg_stat_statements" "$pgss" "$(ratio "$pgss")"
    printf '%-40s %12d %8s  <= 1.01 %s\n' "pg_perfaudit, track_tenants=off, idle" "$idle" "$(ratio "$idle")" "$(verdict "$idle" 1.01)"
    printf '%-40s %12d %8s  <= pgss %s\n' "pg_perfaudit, tenant statistics (default)" "$stats" "$(ratio "$stats")" "$( [ "$stats" -le "$pgss" ] && echo PASS || echo FAIL)"
    printf '%-40s %12d %8s  <= 1.05 %s\n' "pg_perfaudit, stats + capture running" "$capt" "$(ratio "$capt")" "$(verdict "$capt" 1.05)"
    printf '%-40s %12d %8s\n' "pg_stat_statements + capture running" "$both" "$(ratio "$both")"
    echo
    echo "tenant-scoped lookup (organization_id = \$1 AND id = \$2), tenant statistics on:"
    printf '%-40s %12d\n' "100 tenants tracked" "$t100"
    against "100,000 tenants tracked" "$t100k" "$t100" 1.10
    echo
    echo "the lookup returning organization_id (observed rows), against its own bare run:"
    printf '%-40s %12d\n' "bare server" "$obs_bare"
    against "pg_perfaudit, capture, rows observed" "$obs_capt" "$obs_bare" 1.05
    echo "bare=$bare queryid=$qid pgss=$pgss idle=$idle stats=$stats capture=$capt pgss_capture=$both t100=$t100 t100k=$t100k obs_bare=$obs_bare obs_capture=$obs_capt"
} | tee "$here/out/overhead.txt"

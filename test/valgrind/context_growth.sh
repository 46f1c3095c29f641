#!/usr/bin/env bash
# Memory growth of pg_perfaudit's memory contexts over a long loop of
# captured statements, on a throwaway cluster (no valgrind).
#
#     bash test/valgrind/context_growth.sh                  (as root or with sudo)
#     ITERS=100000 MODES="plpgsql simple prepared database" BOUND_KB=64 bash test/valgrind/context_growth.sh
#
# For each mode, one backend runs ITERS iterations with a session-scope
# capture run active (perfaudit.max_run_statements raised so that every
# execution is stored, not just counted), statements for several tenants:
#
#   plpgsql   a procedure: 5 statements per iteration at nesting level 1
#             (perfaudit.track = all), tenants from a PL/pgSQL variable in
#             the predicate, from perfaudit.tenant_setting on every third
#             iteration, from a SQLCommenter tag; one EXECUTE per iteration
#             planned afresh (a sequential scan); COMMIT every 1,000.
#   simple    pgbench -t ITERS, one client, simple protocol: 6 top-level
#             statements per iteration, each parsed and planned afresh;
#             tenants from the predicate, the setting and a tag as above.
#   prepared  the same with -M prepared: cached plans, custom then generic.
#   database  the same (prepared) appending to a database-scope run that
#             another session started: the run's buffer is shared memory,
#             pgbench's backend holds only its sink.
#
# The backend samples pg_backend_memory_contexts itself at iteration 1,000
# and every 10,000: our contexts are those whose name or identifier starts
# with "pg_perfaudit" (AllocSetContextCreate in src/*.c, and the contexts
# of our hash tables, named after the table -- later releases put that name
# in the identifier), beside the backend's total.  FAIL when our contexts
# grow by more than BOUND_KB between iteration 10,000 and the last one.
# (Where plans are cached, one "plan facts" context, 1 kB, appears at the
# 60,000 sample and stays: the second sampling INSERT's generic plan, which
# the plan cache keeps after five custom plans.)
# The figures go to stdout and test/valgrind/out/context_growth.txt.
# 4 to 8 minutes for the four modes on 2 busy cores.
#
# The whole script is one compound command, read before it runs.
{
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/test/lib.sh"
pa_pg_paths
ITERS=${ITERS:-100000}
MODES=${MODES:-plpgsql simple prepared database}
BOUND_KB=${BOUND_KB:-64}

[ -e "$sharedir/extension/pg_perfaudit.control" ] ||
    { echo "pg_perfaudit is not installed" >&2; exit 2; }
[ "$ITERS" -ge 20000 ] || { echo "ITERS must be at least 20000" >&2; exit 2; }

pa_workdir pa-ctxgrowth
as_pg=("${run_as[@]}")
status=1        # until the end is reached
cleanup() {
    pa_stop_cluster
    if [ "$status" -ne 0 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

pa_start_cluster --conf "$top/test/pg_perfaudit.conf"

psql() { "${as_pg[@]}" "$bindir/psql" -X -q -h "$work" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

echo "== fixture and sampling objects"
"${as_pg[@]}" bash "$top/test/fixtures/fixture.sh" -h "$work" -p "$port" -U postgres -d postgres
psql <<'SQL'
CREATE EXTENSION pg_perfaudit;
CREATE EXTENSION pg_stat_statements;
-- (no autovacuum on the sample tables: its ANALYZE would replan the
-- sampling statements midway, one plan more or less in the figures)
CREATE TABLE growth (
    mode text, iter bigint, ours_bytes bigint, ours_used bigint, ours_contexts bigint,
    plan_facts bigint, total_bytes bigint, total_used bigint) WITH (autovacuum_enabled = off);
-- This backend's memory: ours (by context name or dynahash identifier) and all.
CREATE VIEW growth_sample AS
SELECT coalesce(sum(total_bytes) FILTER (WHERE ours), 0) AS ours_bytes,
       coalesce(sum(used_bytes) FILTER (WHERE ours), 0) AS ours_used,
       count(*) FILTER (WHERE ours) AS ours_contexts,
       count(*) FILTER (WHERE name = 'pg_perfaudit plan facts') AS plan_facts,
       sum(total_bytes) AS total_bytes,
       sum(used_bytes) AS total_used
  FROM (SELECT c.*, c.name LIKE 'pg_perfaudit%' OR coalesce(c.ident LIKE 'pg_perfaudit%', false) AS ours
          FROM pg_backend_memory_contexts c) c;
-- and ours one by one, grouped by name and identifier
CREATE TABLE growth_ctx (mode text, iter bigint, name text, ident text, contexts bigint, bytes bigint)
    WITH (autovacuum_enabled = off);
CREATE VIEW growth_ctx_sample AS
SELECT name, coalesce(ident, '') AS ident, count(*) AS contexts, sum(total_bytes) AS bytes
  FROM pg_backend_memory_contexts
 WHERE name LIKE 'pg_perfaudit%' OR ident LIKE 'pg_perfaudit%'
 GROUP BY 1, 2;
CREATE SEQUENCE growth_iter;

CREATE PROCEDURE growth_loop(iters int) LANGUAGE plpgsql AS $$
DECLARE
    i int;
    org int;
    c bigint;
    s text;
BEGIN
    FOR i IN 1..iters LOOP
        org := 1 + i % 50;
        SELECT count(*) INTO c FROM app.users WHERE organization_id = org;
        PERFORM set_config('app.org', CASE WHEN i % 3 = 0 THEN (100 + i % 5)::text ELSE '' END, false);
        SELECT hostname INTO s FROM app.servers WHERE id = 1 + i % 300;
        EXECUTE format('SELECT count(*) FROM app.applications WHERE organization_id = %s', org) INTO c;
        EXECUTE $q$/* tenant='acme' */ SELECT count(*) FROM app.plans$q$ INTO c;
        IF i % 1000 = 0 THEN
            COMMIT;
        END IF;
        IF i = 1000 OR i % 10000 = 0 THEN
            INSERT INTO growth SELECT 'plpgsql', i, * FROM growth_sample;
            INSERT INTO growth_ctx SELECT 'plpgsql', i, * FROM growth_ctx_sample;
            COMMIT;
        END IF;
    END LOOP;
END $$;
SQL

# The pgbench script: the iteration number from a sequence, the run
# started on the first and stopped on the last, samples as above.
cat >"$work/loop.sql" <<SQL
SELECT nextval('growth_iter') AS n \\gset
\\set org random(1, 50)
\\if :n = 1 and :session = 1
SELECT perfaudit.start('context growth');
\\endif
SELECT set_config('app.org', CASE WHEN :n::int % 3 = 0 THEN (100 + :n::int % 5)::text ELSE '' END, false);
SELECT id, name FROM app.users WHERE organization_id = :org::int ORDER BY id LIMIT 5;
SELECT hostname FROM app.servers WHERE id = 1 + :n::int % 300;
SELECT count(*) FROM app.applications WHERE organization_id = :org::int;
/* tenant='acme' */ SELECT count(*) FROM app.plans;
\\if :n = 1000 or :n % 10000 = 0
INSERT INTO growth SELECT NULL, :n::bigint, * FROM growth_sample;
INSERT INTO growth_ctx SELECT NULL, :n::bigint, * FROM growth_ctx_sample;
\\endif
\\if :n = $ITERS and :session = 1
SELECT statements, overflow FROM perfaudit.stop();
INSERT INTO growth SELECT NULL, -1, * FROM growth_sample;
INSERT INTO growth_ctx SELECT NULL, -1, * FROM growth_ctx_sample;
\\endif
SQL
chmod 644 "$work/loop.sql"

# Every execution stored: 7 statements per iteration at most, and margin.
max_stmts=$(( ITERS * 8 + 10000 ))
opts="-c perfaudit.max_run_statements=$max_stmts -c perfaudit.tenant_setting=app.org"
for mode in $MODES; do
    echo "== $mode: $ITERS iterations"
    t0=$(date +%s)
    case $mode in
        plpgsql)
            "${as_pg[@]}" env PGOPTIONS="$opts -c perfaudit.track=all" \
                "$bindir/psql" -X -q -h "$work" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<SQL
SELECT perfaudit.start('context growth, plpgsql') IS NOT NULL AS started;
CALL growth_loop($ITERS);
SELECT statements, overflow FROM perfaudit.stop();
INSERT INTO growth SELECT 'plpgsql', -1, * FROM growth_sample;
INSERT INTO growth_ctx SELECT 'plpgsql', -1, * FROM growth_ctx_sample;
SQL
            ;;
        simple | prepared)
            psql -c "SELECT setval('growth_iter', 1, false)"
            "${as_pg[@]}" env PGOPTIONS="$opts" "$bindir/pgbench" -n -h "$work" -p "$port" -U postgres \
                -M "$mode" -c 1 -t "$ITERS" -D session=1 -f "$work/loop.sql" postgres \
                >"$work/pgbench.$mode.log" 2>&1 || { cat "$work/pgbench.$mode.log"; exit 1; }
            ;;
        database)
            # the run is another session's; pgbench's backend appends to
            # its shared buffer through a sink
            psql -c "SELECT setval('growth_iter', 1, false)"
            "${as_pg[@]}" env PGOPTIONS="$opts" PGBENCH_OPTIONS="-c perfaudit.tenant_setting=app.org" \
                PGBENCH="$bindir/pgbench -n -h $work -p $port -U postgres -M prepared -c 1 -t $ITERS -D session=0 -f $work/loop.sql postgres" \
                LOG="$work/pgbench.$mode.log" \
                "$bindir/psql" -X -q -h "$work" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<'SQL'
SELECT perfaudit.start('context growth, database', 'database') IS NOT NULL AS started;
\! PGOPTIONS="$PGBENCH_OPTIONS" $PGBENCH > "$LOG" 2>&1
SELECT statements, overflow FROM perfaudit.stop();
SQL
            grep -q "processed: $ITERS/$ITERS" "$work/pgbench.$mode.log" || { cat "$work/pgbench.$mode.log"; exit 1; }
            ;;
        *) echo "unknown mode $mode" >&2; exit 2 ;;
    esac
    if [ "$mode" != plpgsql ]; then
        psql -c "UPDATE growth SET mode = '$mode' WHERE mode IS NULL" \
             -c "UPDATE growth_ctx SET mode = '$mode' WHERE mode IS NULL"
        grep -E '^tps|processed' "$work/pgbench.$mode.log" | sed 's/^/   /'
    fi
    echo "   $(( $(date +%s) - t0 )) s"
done

mkdir -p "$here/out"
out=$(psql -At -F ' ' <<SQL
SELECT g.mode, CASE WHEN g.iter < 0 THEN 'stopped' ELSE g.iter::text END AS at,
       g.ours_bytes, g.ours_used, g.ours_contexts, g.plan_facts, g.total_bytes, g.total_used
  FROM growth g ORDER BY g.mode, g.iter < 0, g.iter;
SQL
)
verdicts=$(psql -At -F ' ' <<SQL
SELECT g.mode,
       last.ours_bytes - ten.ours_bytes, last.ours_used - ten.ours_used,
       last.total_bytes - ten.total_bytes,
       last.ours_bytes - ten.ours_bytes <= $BOUND_KB * 1024
  FROM (SELECT DISTINCT mode FROM growth) g
  JOIN growth ten ON ten.mode = g.mode AND ten.iter = 10000
  JOIN LATERAL (SELECT * FROM growth l WHERE l.mode = g.mode AND l.iter > 0
                 ORDER BY l.iter DESC LIMIT 1) last ON true
 ORDER BY g.mode;
SQL
)
# our contexts one by one: at 10,000, at the last sample, after stop()
detail=$(psql -At -F '|' <<SQL
WITH last AS (SELECT mode, max(iter) AS iter FROM growth_ctx GROUP BY mode)
SELECT c.mode, c.name || CASE WHEN c.ident <> '' THEN ' (' || c.ident || ')' ELSE '' END,
       max(c.contexts) FILTER (WHERE c.iter = 10000) || ' / ' || coalesce(max(c.contexts) FILTER (WHERE c.iter = l.iter), 0)
           || ' / ' || CASE WHEN s.stopped THEN coalesce(max(c.contexts) FILTER (WHERE c.iter = -1), 0)::text ELSE '-' END,
       coalesce(max(c.bytes) FILTER (WHERE c.iter = 10000), 0),
       coalesce(max(c.bytes) FILTER (WHERE c.iter = l.iter), 0),
       CASE WHEN s.stopped THEN coalesce(max(c.bytes) FILTER (WHERE c.iter = -1), 0)::text ELSE '-' END
  FROM growth_ctx c JOIN last l USING (mode)
  JOIN LATERAL (SELECT EXISTS (SELECT FROM growth g WHERE g.mode = c.mode AND g.iter = -1) AS stopped) s ON true
 GROUP BY c.mode, c.name, c.ident, s.stopped ORDER BY 1, 2;
SQL
)
{
    echo "context growth: $ITERS iterations per mode, capture run active; bytes of this backend's memory contexts"
    echo "(ours = name or identifier 'pg_perfaudit%'; the run's buffer, sized at start(), is in 'pg_perfaudit run')"
    printf '%-9s %8s %12s %12s %6s %6s %12s %12s\n' mode iter ours_total ours_used ctxs facts backend_tot backend_used
    while read -r m i ob ou oc pf tb tu; do
        printf '%-9s %8s %12s %12s %6s %6s %12s %12s\n' "$m" "$i" "$ob" "$ou" "$oc" "$pf" "$tb" "$tu"
    done <<<"$out"
    echo
    echo "our contexts at iteration 10,000 / $ITERS / after stop() ('-': the run is another session's): contexts, bytes"
    while IFS='|' read -r m n c b1 b2 b3; do
        printf '  %-9s %-44s %-14s %10s %10s %10s\n' "$m" "$n" "$c" "$b1" "$b2" "$b3"
    done <<<"$detail"
    echo
    echo "growth from iteration 10,000 to $ITERS (bound for ours: $BOUND_KB kB):"
    while read -r m dob dou dtb ok; do
        v=PASS; [ "$ok" = t ] || v=FAIL
        printf '  %-9s ours %+d bytes (used %+d), backend total %+d bytes: %s\n' "$m" "$dob" "$dou" "$dtb" "$v"
    done <<<"$verdicts"
    echo "($("$bindir/postgres" --version), $(nproc) cores, $(date -u +%Y-%m-%d))"
} | tee "$here/out/context_growth.txt"

n_modes=$(wc -w <<<"$MODES")
status=0
[ "$(grep -c . <<<"$verdicts")" -eq "$n_modes" ] || { echo "FAIL: a mode has no samples"; status=1; }
if grep -q ' f$' <<<"$verdicts"; then status=1; fi
if [ "$status" -eq 0 ]; then echo PASS; else echo FAIL; fi
exit $status
}

#!/usr/bin/env bash
# The pg_perfaudit demo: builds and installs the extension, starts a
# throwaway PostgreSQL cluster with it preloaded, loads the multi-tenant
# fixture, captures an audited workload (a slow report, an N+1 loop, a
# repeated lookup, and pgbench load from outside) and prints what the runs
# recorded, then stops and removes the cluster.
#
#     bash demo/run.sh            (as root on Debian 12, or as a user with sudo)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

. "$top/test/lib.sh"
echo "== installing what is missing, building and installing pg_perfaudit"
pa_setup demo

pa_workdir pg_perfaudit-demo
cleanup() {
    pa_stop_cluster
    rm -rf "$work"
}
trap cleanup EXIT

echo "== starting a throwaway cluster on port $port (socket in $work)"
pa_start_cluster "perfaudit.track = all" "perfaudit.slow_query_ms = 5" "max_worker_processes = 16"

psql() { "${run_as[@]}" $bindir/psql -X -q -h "$work" -p $port -U postgres -v ON_ERROR_STOP=1 "$@"; }

psql -d postgres -c "CREATE DATABASE saas"
echo "== loading the multi-tenant fixture"
"${run_as[@]}" bash "$top/test/fixtures/fixture.sh" -h "$work" -p $port -U postgres -d saas >/dev/null
psql -d saas -c "CREATE EXTENSION pg_perfaudit; CREATE EXTENSION pg_stat_statements;"
psql -d saas -At -c "SELECT format('   %s organizations (10 levels), %s users, %s servers, %s metric rows, %s applications',
    (SELECT count(*) FROM app.organizations), (SELECT count(*) FROM app.users),
    (SELECT count(*) FROM app.servers), (SELECT count(*) FROM app.metrics),
    (SELECT count(*) FROM app.applications))"
# Tenant statistics are always on: start them afresh for the audited workload.
psql -d saas -At -c "SELECT perfaudit.reset()" >/dev/null

echo "== run 1: a dashboard request for organization 42, as an ORM would issue it"
psql -d saas >/dev/null <<'SQL'
SELECT perfaudit.start('dashboard request, org 42');
-- the organization and its whole subtree (a 10-level hierarchy walk)
WITH RECURSIVE tree AS (
    SELECT id, parent_id, 1 AS lvl FROM app.organizations WHERE id = 42
    UNION ALL
    SELECT o.id, o.parent_id, t.lvl + 1 FROM app.organizations o JOIN tree t ON o.parent_id = t.id
) SELECT count(*), max(lvl) FROM tree;
-- the slow one: a metrics report that scans the whole metrics table
SELECT s.region, avg(m.cpu), max(m.mem)
  FROM app.metrics m JOIN app.servers s ON s.id = m.server_id
 GROUP BY s.region ORDER BY 2 DESC;
-- N+1: the user list, then one query per user for the user's organization
SELECT id, organization_id FROM app.users WHERE organization_id = 42 ORDER BY id;
SELECT format('SELECT name, plan FROM app.organizations WHERE id = %s', organization_id)
  FROM app.users WHERE organization_id IN (42, 43, 44, 45, 46, 47) ORDER BY id LIMIT 12 \gexec
-- the same lookup repeated: the plan list, fetched again for every widget
SELECT code, name FROM app.plans ORDER BY code \g
SELECT code, name FROM app.plans ORDER BY code \g
SELECT code, name FROM app.plans ORDER BY code \g
SELECT code, name FROM app.plans ORDER BY code \g
SELECT code, name FROM app.plans ORDER BY code \g
-- applications of the organization: no index on organization_id there
SELECT name, status FROM app.applications WHERE organization_id = 42;
SELECT perfaudit.stop();
SQL

echo "== run 2: pgbench from outside (4 clients, prepared statements), captured with scope => 'database'"
cat > "$work/tenant_lookup.sql" <<'SQL'
\set org random(1, 1000)
SELECT count(*) FROM app.users WHERE organization_id = :org;
SELECT hostname FROM app.servers WHERE organization_id = :org LIMIT 5;
SQL
chmod 644 "$work/tenant_lookup.sql"
# The database-scope run must be active before the load starts and is
# stopped by the session that started it: keep that session open in a
# coprocess.
coproc OWNER { "${run_as[@]}" $bindir/psql -X -q -At -h "$work" -p $port -U postgres -d saas; }
echo "SELECT perfaudit.start('pgbench tenant lookups', 'database');" >&"${OWNER[1]}"
read -r run2 <&"${OWNER[0]}"
"${run_as[@]}" $bindir/pgbench -n -M prepared -c 4 -j 2 -t 250 -h "$work" -p $port -U postgres \
    -f "$work/tenant_lookup.sql" saas 2>/dev/null | grep -E "^(number of transactions actually processed|latency average|tps)" | sed 's/^/   /'
echo "SELECT statements FROM perfaudit.stop();" >&"${OWNER[1]}"
read -r stmts2 <&"${OWNER[0]}"
echo "\\q" >&"${OWNER[1]}"
wait "$OWNER_PID" 2>/dev/null || true
echo "   run $run2 counted $stmts2 statement executions"

echo "== benchmarks: one client, then 8 concurrent clients (background workers), over 50 organizations"
psql -d saas >/dev/null <<'SQL'
SELECT perfaudit.benchmark('SELECT id, email FROM app.users WHERE organization_id = $1 ORDER BY id LIMIT 20',
                           500, 5, ARRAY(SELECT g::text FROM generate_series(1, 50) g), 'users page');
SELECT perfaudit.benchmark_concurrent('SELECT id, email FROM app.users WHERE organization_id = $1 ORDER BY id LIMIT 20',
                                      8, 4000, ARRAY(SELECT g::text FROM generate_series(1, 50) g), 'users page, 8 clients');
SELECT perfaudit.benchmark('SELECT name, status FROM app.applications WHERE organization_id = $1',
                           200, 5, ARRAY(SELECT g::text FROM generate_series(1, 50) g), 'applications of an org');
SQL

echo "== run 3: a test suite's request mix for 8 organizations, with a benchmark, for the HTML report"
psql -d saas >/dev/null <<'SQL'
SET perfaudit.tenant_setting = 'app.current_organization_id';
SELECT perfaudit.start('request mix, 8 organizations');
-- each organization's requests, as the application sends them: the
-- organization, its users page, its servers, its busiest servers
SELECT format($f$SET app.current_organization_id = '%1$s';
SELECT name, plan FROM app.organizations WHERE id = %1$s;
SELECT id, email FROM app.users WHERE organization_id = %1$s ORDER BY id LIMIT 20;
SELECT hostname, region FROM app.servers WHERE organization_id = %1$s ORDER BY hostname;
SELECT server_id, avg(cpu), max(mem) FROM app.metrics
 WHERE organization_id = %1$s GROUP BY server_id ORDER BY 2 DESC LIMIT 10$f$, org)
  FROM generate_series(1, 8) org, generate_series(1, 3) request \gexec
-- one organization's page loads its applications one query per server (N+1)
SET app.current_organization_id = '3';
SELECT format('SELECT count(*) FROM app.applications WHERE server_id = %s', id)
  FROM app.servers WHERE organization_id = 3 ORDER BY id LIMIT 10 \gexec
RESET app.current_organization_id;
SELECT perfaudit.benchmark('SELECT id, email FROM app.users WHERE organization_id = $1 ORDER BY id LIMIT 20',
                           300, 5, ARRAY['1', '2', '3', '4', '5', '6', '7', '8'], 'users page, 8 organizations');
SELECT perfaudit.benchmark('SELECT hostname, region FROM app.servers WHERE organization_id = $1 ORDER BY hostname',
                           300, 5, ARRAY['1', '2', '3', '4', '5', '6', '7', '8'], 'servers list, 8 organizations');
SELECT perfaudit.stop();
SQL
report_html=${PA_DEMO_HTML:-$top/demo/report.html}
psql -d saas -At -c "SELECT perfaudit.report_html(3)" > "$work/report.html"
cp "$work/report.html" "$report_html"
echo "   wrote the HTML report of run 3 (report_html(3)) to $report_html ($(wc -c < "$report_html") bytes)"

echo
echo "================================ pg_perfaudit report ================================"
psql -d saas <<'SQL'
\pset footer off
\pset tuples_only on
\pset format unaligned
\echo
SELECT * FROM perfaudit.report(1);
\echo
\echo 'Run 2 (pgbench, database scope)'
SELECT format('  %s statements over %s tenants, %s ms in total, %s finding(s)',
              r.statements, (SELECT count(DISTINCT tenant) FROM perfaudit.run_statements s WHERE s.run_id = r.run_id),
              round(r.total_ms::numeric, 1), r.findings)
  FROM perfaudit.runs r WHERE run_id = 2;
\echo
\echo 'Benchmarks (perfaudit.benchmarks)'
SELECT format('  %-24s %5s x %s client(s): p50 %s ms  p95 %s ms  p99 %s ms  %s/s  %s errors%s%s',
              label, iterations, clients, round(p50_ms::numeric, 3), round(p95_ms::numeric, 3),
              round(p99_ms::numeric, 3), round(throughput_qps), errors,
              CASE WHEN clients > 1 THEN format('  (one client alone: p95 %s ms; p95 x%s)',
                                                round(single_p95_ms::numeric, 3),
                                                round(p95_degradation::numeric, 2)) ELSE '' END,
              CASE WHEN findings > 0 THEN '  seq scan of ' || array_to_string(seq_scan_tables, ', ') ELSE '' END)
  FROM perfaudit.benchmarks ORDER BY benchmark_id;
\echo
\echo 'Always-on per-tenant statistics (perfaudit.tenant_stats), busiest tenants'
\pset tuples_only off
\pset format aligned
SELECT coalesce(tenant, '(none)') AS tenant, calls, round(total_ms::numeric, 2) AS total_ms,
       round(p95_ms::numeric, 3) AS p95_ms, round(max_ms::numeric, 3) AS max_ms,
       rows, seq_scans, unscoped_calls
  FROM perfaudit.tenant_stats WHERE database = current_database()
 ORDER BY total_ms DESC LIMIT 8;
\echo 'CI checks, as a test suite would call them (true, or an ERROR with SQLSTATE PA001)'
\set ON_ERROR_STOP 0
\set VERBOSITY default
SELECT perfaudit.assert_max_queries(50, 1) AS "assert_max_queries(50)";
SELECT perfaudit.assert_query_time('SELECT id FROM app.users WHERE organization_id = $1 LIMIT 20', 50,
                                   tenants => ARRAY['1', '2', '3']) AS "org users under 50 ms at p95";
SELECT perfaudit.assert_no_memory_growth('SELECT count(*) FROM app.servers WHERE organization_id = 7') AS "no memory growth";
SELECT perfaudit.save_baseline('demo', 1) AS "baseline metrics saved";
SELECT perfaudit.assert_no_regression('demo', 1.25, 1) AS "run 1 vs its own baseline";
SELECT perfaudit.assert_no_findings(ARRAY['n_plus_one'], 1);
SELECT perfaudit.assert_no_seq_scan('SELECT name FROM app.applications WHERE organization_id = 42');
SQL
echo "====================================================================================="
echo "(the cluster in $work is stopped and removed on exit)"

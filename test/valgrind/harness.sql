-- The "harness workload" run under valgrind by test/valgrind/run.sh, on the
-- multi-tenant fixture (test/fixtures, loaded at a small size first).
-- Every code path a test suite of the extension's users would drive:
-- benchmark() as test/bench/harness_cost.sh calls it, a capture run with an
-- N+1 loop and sequential scans, a database-scope run fed by pgbench,
-- benchmark_concurrent() with 2 clients, the per-tenant statistics, the
-- assertions, baselines and a cancelled benchmark.  The output is read by a
-- person, not compared: figures are printed as relations and counts.
--
--   psql -X -v ON_ERROR_STOP=1 -v iters=3000 -v pgbench="pgbench -h ... -p ..." -f harness.sql
\set ON_ERROR_STOP 1
\pset pager off
\if :{?iters}
\else
\set iters 3000
\endif

CREATE EXTENSION pg_perfaudit;
CREATE EXTENSION pg_stat_statements;

-- Runs an SQL string and returns its error as 'SQLSTATE: message' (a
-- cancel too, which OTHERS does not cover).
CREATE FUNCTION vg_error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS OR query_canceled THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Fails the harness (ON_ERROR_STOP) unless ok.
CREATE FUNCTION vg_check(ok boolean, what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'harness check failed: %', what;
    END IF;
    RETURN true;
END $$;

-- The table of test/bench/harness_cost.sh.
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 10000) g;
VACUUM ANALYZE t;

-- The N+1 of test/t/005_fixture_workload.pl: two lookups per user of an
-- organization, from a PL/pgSQL loop.
CREATE FUNCTION user_page(org bigint) RETURNS int LANGUAGE plpgsql AS $$
DECLARE u record; n int := 0; o text;
BEGIN
    FOR u IN SELECT id, organization_id FROM app.users WHERE organization_id = org LOOP
        SELECT name INTO o FROM app.organizations WHERE id = u.organization_id;
        SELECT hostname INTO o FROM app.servers WHERE organization_id = u.organization_id LIMIT 1;
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

\echo == 1. benchmark(), the statements of harness_cost.sh, :iters iterations each
SELECT query, iterations, cardinality(samples_ms) = iterations AS all_samples,
       min_ms <= p50_ms AND p50_ms <= p95_ms AND p95_ms <= p99_ms AND p99_ms <= max_ms AS ordered,
       rows_per_call
  FROM perfaudit.benchmark('SELECT 1', :iters, 5)
UNION ALL
SELECT query, iterations, cardinality(samples_ms) = iterations,
       min_ms <= p50_ms AND p50_ms <= p95_ms AND p95_ms <= p99_ms AND p99_ms <= max_ms,
       rows_per_call
  FROM perfaudit.benchmark('SELECT v FROM t WHERE id = 42', :iters, 5);
-- tenants rotating through $1, custom then generic plans
SELECT rows_per_call > 0 AS has_rows, tenants_type, custom_plans > 0 AS custom,
       generic_plans > 0 AS generic
  FROM perfaudit.benchmark('SELECT id, email FROM app.users WHERE organization_id = $1',
                           1000, 5, ARRAY['1', '2', '3', '4'], 'users by org');
-- rollback mode: a subtransaction per execution
SELECT rows_per_call FROM perfaudit.benchmark('UPDATE t SET v = v || '''' WHERE id = $1',
                                              500, 0, ARRAY['7', '8'], 'rolled back', true);
-- a sequential scan of the index-less applications table: a seq_scan finding
SELECT seq_scans > 0 AS scanned, seq_scan_tables, findings
  FROM perfaudit.benchmark('SELECT count(*) FROM app.applications WHERE organization_id = $1',
                           100, 0, ARRAY['5']);
SELECT perfaudit.assert_no_seq_scan('SELECT v FROM t WHERE id = 3');
SELECT vg_error_of($$SELECT perfaudit.assert_no_seq_scan('SELECT count(*) FROM app.applications WHERE organization_id = 5')$$);
SELECT perfaudit.assert_query_time('SELECT v FROM t WHERE id = 42', 100000);
SELECT perfaudit.assert_no_memory_growth('SELECT v FROM t WHERE id = 42', 500);
-- argument errors and a cancelled benchmark: the error paths clean up
SELECT vg_error_of($$SELECT perfaudit.benchmark('SELECT 1; SELECT 2', 10)$$);
SELECT vg_error_of($$SELECT perfaudit.benchmark('VACUUM', 10)$$);
SELECT vg_error_of($$SELECT perfaudit.benchmark('SELEC 1', 10)$$);
SELECT vg_error_of($$SELECT perfaudit.benchmark('SELECT $2', 10)$$);
SELECT vg_error_of($$SELECT perfaudit.benchmark('SELECT 1 / (id - 500) FROM t WHERE id = $1', 10, 0, ARRAY['499', '500'])$$);
SET statement_timeout = '3s';
SELECT vg_error_of($$SELECT perfaudit.benchmark('SELECT count(*) FROM t', 10000000, 0)$$);
RESET statement_timeout;

\echo == 2. a capture run: N+1, sequential scans, unscoped reads, an error inside the run
SET perfaudit.track = 'all';
SELECT perfaudit.start('valgrind capture') AS run \gset
SELECT user_page(7) AS users_of_7;
SELECT user_page(8) AS users_of_8;
SELECT count(*) FROM app.applications WHERE organization_id = 3;
SELECT count(*) FROM app.applications WHERE organization_id = 4;
SELECT count(*) FROM app.users;
SELECT count(*) FROM app.users u JOIN app.servers s ON s.organization_id = u.organization_id
 WHERE u.organization_id = 9;
/* tenant='11' */ SELECT count(*) FROM app.metrics WHERE server_id = 3;
SELECT vg_error_of('SELECT 1 / 0 FROM app.users WHERE organization_id = 5');
BEGIN;
SELECT count(*) FROM app.servers WHERE organization_id = 6;
ROLLBACK;
DO $$
DECLARE i int;
BEGIN
    FOR i IN 1..200 LOOP
        PERFORM name FROM app.organizations WHERE id = i;
    END LOOP;
END $$;
SELECT statements > 0 AS has_statements, findings > 0 AS has_findings, overflow, scope
  FROM perfaudit.stop();
SELECT kind, count(*) FROM perfaudit.findings WHERE run_id = :run GROUP BY kind ORDER BY kind COLLATE "C";
SELECT vg_check(count(DISTINCT kind) FILTER (WHERE kind IN ('n_plus_one', 'seq_scan')) = 2,
                'the capture run finds the N+1 and the sequential scans') AS findings_ok
  FROM perfaudit.findings WHERE run_id = :run;
SELECT count(*) > 0 AS statements_stored FROM perfaudit.run_statements WHERE run_id = :run;
SELECT count(*) > 0 AS report_rows FROM perfaudit.report(:run);
SELECT perfaudit.report_json(:run) IS NOT NULL AS has_json;
SELECT vg_error_of(format('SELECT perfaudit.assert_max_queries(1, %s)', :run));
SELECT vg_error_of(format('SELECT perfaudit.assert_no_findings(ARRAY[''n_plus_one''], %s)', :run));
-- a discarded run and misuse
SELECT perfaudit.start('discarded') IS NOT NULL AS started;
SELECT vg_error_of($$SELECT perfaudit.start('second')$$);
SELECT count(*) FROM t WHERE id < 10;
SELECT perfaudit.discard_run();
SELECT vg_error_of('SELECT perfaudit.stop()');
-- a run over more statements than fit (overflow counted, nothing lost but detail)
SET perfaudit.max_run_statements = 100;
SELECT perfaudit.start('overflow') IS NOT NULL AS started;
DO $$
DECLARE i int;
BEGIN
    FOR i IN 1..150 LOOP
        EXECUTE format('SELECT %s AS c%s FROM t WHERE id = 1', i, i);
    END LOOP;
END $$;
SELECT overflow > 0 AS overflowed FROM perfaudit.stop();
RESET perfaudit.max_run_statements;
SET perfaudit.track = 'top';

\echo == 3. a database-scope run fed by pgbench (2 clients)
\set pgbench_script `mktemp`
\setenv PGBENCH_SCRIPT :pgbench_script
\! printf '%s\n' '\set org random(1, 50)' 'SELECT id, name FROM app.users WHERE organization_id = :org ORDER BY id LIMIT 20;' 'SELECT count(*) FROM app.applications WHERE organization_id = :org;' "SELECT name FROM app.plans WHERE code = 'team';" > "$PGBENCH_SCRIPT"
SELECT perfaudit.start('pgbench', 'database') AS db_run \gset
\! $PGBENCH -n -M prepared -c 2 -j 2 -t 50 -f "$PGBENCH_SCRIPT" > /dev/null && echo pgbench done
\! rm -f "$PGBENCH_SCRIPT"
SELECT vg_check(statements >= 300, 'database run counts the 300 pgbench statements') AS all_counted,
       vg_check(findings > 0, 'database run has findings') AS has_findings, scope
  FROM perfaudit.stop();
SELECT vg_check(count(DISTINCT tenant) > 1, 'several tenants in the database run') AS several_tenants
  FROM perfaudit.run_statements WHERE run_id = :db_run;

\echo == 4. benchmark_concurrent(), 2 clients
SELECT clients, iterations, vg_check(errors = 0, 'no errors in benchmark_concurrent') AS no_errors,
       cardinality(samples_ms) AS samples,
       min_ms <= p50_ms AND p50_ms <= p95_ms AND p95_ms <= max_ms AS ordered,
       throughput_qps > 0 AS has_throughput, p95_degradation > 0 AS has_degradation
  FROM perfaudit.benchmark_concurrent('SELECT count(*) FROM app.users WHERE organization_id = $1',
                                      2, 400, ARRAY['1', '2', '3', '4'], 'concurrent users by org');
CREATE TABLE conc_log (organization_id int, note text);
SELECT errors, cardinality(samples_ms) AS samples
  FROM perfaudit.benchmark_concurrent('INSERT INTO conc_log VALUES ($1, ''x'')', 2, 100,
                                      ARRAY['1', '2'], NULL, 0, true);
SELECT errors, error_counts
  FROM perfaudit.benchmark_concurrent('SELECT 1 / (id - 3) FROM t WHERE id = $1', 2, 20,
                                      ARRAY['1', '3'], NULL, 0);
SELECT vg_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 2, 1)$$);

\echo == 5. per-tenant statistics
SELECT perfaudit.reset() IS NOT NULL AS reset_done;
SET perfaudit.tenant_setting = 'app.org';
DO $$
DECLARE i int;
BEGIN
    FOR i IN 1..300 LOOP
        PERFORM set_config('app.org', (i % 12)::text, false);
        EXECUTE 'SELECT count(*) FROM app.servers WHERE hostname = $1' USING 'srv-' || i || '.example.test';
    END LOOP;
END $$;
RESET app.org;
RESET perfaudit.tenant_setting;
SELECT count(*) FROM app.users WHERE organization_id = 21;
SELECT count(*) FROM app.users WHERE organization_id = 22;
/* tenant='23' */ SELECT count(*) FROM app.plans;
SELECT vg_check(count(*) >= 3, 'tenant_stats has the tenants') AS tenants_seen, sum(calls) > 0 AS calls_counted,
       bool_and(p95_ms <= max_ms) AS p95_sane
  FROM perfaudit.tenant_stats;
SELECT count(*) > 0 AS statements_seen FROM perfaudit.tenant_statements;
SELECT tenants > 0 AS has_tenants, tenant_statements > 0 AS has_statements, evictions
  FROM perfaudit.tenant_stats_info();

\echo == 6. baselines
DELETE FROM perfaudit.benchmarks;
SELECT perfaudit.start('baseline workload') IS NOT NULL AS started;
SELECT count(*) FROM app.users WHERE organization_id = 3;
SELECT v FROM t WHERE id = 42;
SELECT run_id AS base_run FROM perfaudit.stop() \gset
SELECT perfaudit.save_baseline('valgrind', :base_run) IS NOT NULL AS saved;
SELECT perfaudit.export_baseline('valgrind') AS doc \gset
SELECT perfaudit.import_baseline(jsonb_set(:'doc'::jsonb, '{name}', '"valgrind copy"')) IS NOT NULL AS imported;
SELECT perfaudit.start('after') IS NOT NULL AS started;
SELECT count(*) FROM app.users WHERE organization_id = 3;
SELECT v FROM t WHERE id = 42;
SELECT statements FROM perfaudit.stop();
SELECT perfaudit.assert_no_regression('valgrind', 1000);

\echo == done

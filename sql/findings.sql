-- Findings at stop(): n_plus_one, repeated_query, slow_query; tenants from
-- the session setting and from a SQLCommenter tag; the run assertions.
SET perfaudit.track = 'top';
SET perfaudit.n_plus_one_threshold = 5;
-- items is a tenant table (organization_id): the sections up to "plan
-- predicates" look at other kinds, so they name a column it lacks.
SET perfaudit.tenant_column = 'not_a_column';

-- An N+1 as an ORM issues it: a list, then one lookup per row.
SELECT perfaudit.start('n+1') AS run_n1 \gset
SELECT format('SELECT name FROM items WHERE id = %s', id)
  FROM items WHERE organization_id = 3 ORDER BY id LIMIT 6 \gexec
SELECT statements, findings FROM perfaudit.stop();
SELECT kind, severity, calls, tenant, detail->>'distinct_params' AS distinct_params,
       detail->'source'->>'rows' AS source_rows,
       detail->'source'->>'query' LIKE 'SELECT format(%' AS source_is_the_list
  FROM perfaudit.findings WHERE run_id = :run_n1 ORDER BY kind COLLATE "C";

-- Just below the threshold: 4 lookups, no finding.
SELECT perfaudit.start('below threshold') AS run_below \gset
SELECT format('SELECT name FROM items WHERE id = %s', id)
  FROM items WHERE organization_id = 4 ORDER BY id LIMIT 4 \gexec
SELECT statements, findings FROM perfaudit.stop();

-- Identical repeats are repeated_query, not n_plus_one.
SELECT perfaudit.start('repeats') AS run_rep \gset
SELECT name FROM items WHERE id = 1;
SELECT name FROM items WHERE id = 1;
SELECT name FROM items WHERE id = 1;
SELECT name FROM items WHERE id = 1;
SELECT name FROM items WHERE id = 1;
SELECT statements, findings FROM perfaudit.stop();
SELECT kind, severity, calls, detail->>'identical_calls' AS identical
  FROM perfaudit.findings WHERE run_id = :run_rep;

-- A PL/pgSQL loop is an N+1 too, with track = 'all'.
SET perfaudit.track = 'all';
SELECT perfaudit.start('plpgsql loop') AS run_loop \gset
DO $$
DECLARE v text;
BEGIN
    FOR i IN 1..7 LOOP
        SELECT name INTO v FROM items WHERE id = i;
    END LOOP;
END $$;
SELECT statements, findings FROM perfaudit.stop();
SELECT kind, calls, (detail->>'nesting_level')::int AS level
  FROM perfaudit.findings WHERE run_id = :run_loop;
-- The query a FOR loop walks ends after the loop's lookups, and is still
-- named as their source.
SELECT perfaudit.start('plpgsql for query') AS run_for \gset
DO $$
DECLARE r record; v text;
BEGIN
    FOR r IN SELECT id FROM items WHERE id <= 6 ORDER BY id LOOP
        SELECT name INTO v FROM items WHERE id = r.id;
    END LOOP;
END $$;
SELECT statements, findings FROM perfaudit.stop();
SELECT kind, detail->'source'->>'query' AS source,
       (detail->'source'->>'rows')::int AS source_rows
  FROM perfaudit.findings WHERE run_id = :run_for;
SET perfaudit.track = 'top';

-- slow_query: executions over perfaudit.slow_query_ms.
SET perfaudit.slow_query_ms = 1;
SELECT perfaudit.start('slow') AS run_slow \gset
SELECT pg_sleep(0.01);
SELECT 1 AS fast;
SELECT statements, findings FROM perfaudit.stop();
SELECT kind, severity, calls, detail->>'slow_calls' AS slow_calls, query
  FROM perfaudit.findings WHERE run_id = :run_slow;
RESET perfaudit.slow_query_ms;

-- Tenant from the session setting, read at execution time: 3 lookups for
-- each of two tenants are below the threshold per tenant.
SET perfaudit.tenant_setting = 'app.current_organization_id';
SELECT perfaudit.start('per tenant') AS run_ten \gset
SET app.current_organization_id = '7';
SELECT name FROM items WHERE id = 11;
SELECT name FROM items WHERE id = 12;
SELECT name FROM items WHERE id = 13;
SET app.current_organization_id = '8';
SELECT name FROM items WHERE id = 14;
SELECT name FROM items WHERE id = 15;
SELECT name FROM items WHERE id = 16;
SELECT statements, findings FROM perfaudit.stop();
SELECT tenant, calls, distinct_params FROM perfaudit.run_statements
 WHERE run_id = :run_ten ORDER BY tenant COLLATE "C";

-- A prepared statement keeps following the setting across the switch from
-- custom to generic plans.
PREPARE by_id(int) AS SELECT name FROM items WHERE id = $1;
SELECT perfaudit.start('prepared tenants') AS run_prep \gset
SET app.current_organization_id = '21';
EXECUTE by_id(1); EXECUTE by_id(2); EXECUTE by_id(3); EXECUTE by_id(4);
SET app.current_organization_id = '22';
EXECUTE by_id(5); EXECUTE by_id(6); EXECUTE by_id(7); EXECUTE by_id(8);
SELECT statements, findings FROM perfaudit.stop();
SELECT tenant, calls FROM perfaudit.run_statements
 WHERE run_id = :run_prep ORDER BY tenant COLLATE "C";
DEALLOCATE by_id;
RESET app.current_organization_id;
RESET perfaudit.tenant_setting;

-- Tenant from a SQLCommenter tag (with other keys, URL-encoded).
SELECT perfaudit.start('tagged') AS run_tag \gset
SELECT name FROM items WHERE id = 21 /*tenant='42'*/;
SELECT name FROM items WHERE id = 22 /*controller='users',tenant='org%2043'*/;
SELECT name FROM items WHERE id = 23 /* no tag here */;
SELECT statements FROM perfaudit.stop();
SELECT tenant, calls FROM perfaudit.run_statements
 WHERE run_id = :run_tag ORDER BY tenant COLLATE "C" NULLS LAST;

-- Plan predicates: tenants from organization_id = const / $n / IN (...),
-- sequential scans with an index suggestion, unscoped tenant reads.
RESET perfaudit.tenant_column;
SET enable_bitmapscan = off;
SELECT perfaudit.start('predicates') AS run_pred \gset
SELECT count(*) FROM items WHERE organization_id = 3;
PREPARE by_org(int) AS SELECT count(*) FROM items WHERE organization_id = $1 AND name = 'item 5';
SET plan_cache_mode = force_generic_plan;
EXECUTE by_org(5);
EXECUTE by_org(6);
RESET plan_cache_mode;
SELECT count(*) FROM items WHERE organization_id IN (1, 2);
SELECT name FROM items WHERE id = 7;
SELECT statements, findings FROM perfaudit.stop();
SELECT tenant, calls, query FROM perfaudit.run_statements
 WHERE run_id = :run_pred ORDER BY query COLLATE "C", tenant COLLATE "C";
SELECT kind, relation, tenant, suggestion FROM perfaudit.findings
 WHERE run_id = :run_pred ORDER BY kind COLLATE "C", tenant COLLATE "C", query COLLATE "C";
DEALLOCATE by_org;
RESET enable_bitmapscan;

-- A small table's sequential scan is no finding.
CREATE TABLE small_lookup (code text PRIMARY KEY, label text);
INSERT INTO small_lookup VALUES ('a', 'A'), ('b', 'B');
ANALYZE small_lookup;
SELECT perfaudit.start('small table') AS run_small \gset
SELECT label FROM small_lookup WHERE label = 'A';
SELECT statements, findings FROM perfaudit.stop();

-- Row-level security scopes a tenant table only for roles it applies to.
CREATE TABLE rls_items (organization_id int, v text);
INSERT INTO rls_items VALUES (1, 'one'), (2, 'two');
ALTER TABLE rls_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_org ON rls_items
    USING (organization_id = current_setting('app.org', true)::int);
CREATE ROLE pa_rls_user;
GRANT SELECT ON rls_items TO pa_rls_user;
SET app.org = '1';
SET ROLE pa_rls_user;
SELECT perfaudit.start('rls as normal role') AS run_rls \gset
SELECT v FROM rls_items;
SELECT statements, findings FROM perfaudit.stop();
RESET ROLE;
SELECT perfaudit.start('rls as superuser') AS run_rls_su \gset
SELECT count(*) FROM rls_items;
SELECT statements, findings FROM perfaudit.stop();
SELECT kind, relation FROM perfaudit.findings WHERE run_id = :run_rls_su;
DROP TABLE rls_items;
DROP ROLE pa_rls_user;
RESET app.org;

-- Assertions: true when they hold, PA001 when not, 22023 for bad input.
SET perfaudit.tenant_column = 'not_a_column';
SELECT perfaudit.start('budget') AS run_budget \gset
SELECT name FROM items WHERE id = 1;
SELECT name FROM items WHERE id = 2;
SELECT statements FROM perfaudit.stop();
SELECT perfaudit.assert_max_queries(2) AS within_budget;
SELECT perfaudit.assert_max_queries(10, :run_budget) AS explicit_run;
SELECT perfaudit.assert_no_findings() AS clean;
SELECT pa_error_of('SELECT perfaudit.assert_max_queries(1)') AS over_budget;
SELECT pa_error_of('SELECT perfaudit.assert_max_queries(-1)') AS negative_budget;
SELECT pa_error_of(format('SELECT perfaudit.assert_no_findings(run_id => %s)', :run_n1)) AS n1_found;
SELECT pa_error_of(format('SELECT perfaudit.assert_no_findings(ARRAY[%L], %s)', 'repeated_query', :run_rep)) AS repeats_found;
SELECT perfaudit.assert_no_findings(ARRAY['slow_query', 'seq_scan'], :run_n1) AS other_kinds_clean;
SELECT pa_error_of($$SELECT perfaudit.assert_no_findings(ARRAY['n_plus_1'])$$) AS unknown_kind;
SELECT pa_error_of('SELECT perfaudit.assert_max_queries(1, -5)') AS no_such_run;
-- the DETAIL carries the numbers (run ids masked)
CREATE FUNCTION pa_error_detail_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN regexp_replace(d, 'Run [0-9]+', 'Run N', 'g');
END $$;
SELECT pa_error_detail_of(format('SELECT perfaudit.assert_max_queries(1, %s)', :run_budget)) AS budget_detail;
SELECT pa_error_detail_of(format('SELECT perfaudit.assert_no_findings(run_id => %s)', :run_n1)) AS findings_detail;
DROP FUNCTION pa_error_detail_of(text);
-- a fresh session has no stopped run to default to
\c
SELECT pa_error_of('SELECT perfaudit.assert_max_queries(1)') AS fresh_session;

-- The ways PostgreSQL surprises a hook extension (the numbers are those of
-- the failure-mode table in docs/reliability.md), each followed by
-- the statement that proves the state is still right: counted once, at the
-- right nesting level, for the right tenant.
SET perfaudit.track = 'top';
SET perfaudit.tenant_setting = 'app.org';

-- 2. Errors at every stage: a parse error, an error two functions deep, a
-- statement timeout, our own assertion failing.  The next statement is a
-- top-level statement of the session's tenant.
CREATE FUNCTION fm_inner(n int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RETURN 10 / n;
END $$;
CREATE FUNCTION fm_outer(n int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RETURN fm_inner(n) + (SELECT count(*) FROM items WHERE organization_id = 3);
END $$;
SET app.org = '3';
SELECT perfaudit.start('errors') AS run_err \gset
SELEC 1;
SELECT name FROM items WHERE id = 1;
\set VERBOSITY terse
SELECT fm_outer(0);
\set VERBOSITY default
SELECT name FROM items WHERE id = 2;
SET statement_timeout = '50ms';
SELECT pg_sleep(1);
RESET statement_timeout;
SELECT name FROM items WHERE id = 3;
SELECT pa_error_of($$SELECT perfaudit.assert_no_seq_scan('SELECT count(*) FROM items')$$) AS own_assertion;
SELECT name FROM items WHERE id = 4;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, tenant, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_err ORDER BY query COLLATE "C";

-- 3. An error caught two levels deep in PL/pgSQL, and ROLLBACK TO SAVEPOINT
-- after an error in the middle of a statement: counts stay right (with
-- track = all the caught statement's siblings are nested statements).
SET perfaudit.track = 'all';
SELECT perfaudit.start('caught') AS run_caught \gset
DO $$
BEGIN
    BEGIN
        PERFORM fm_outer(0);
    EXCEPTION WHEN division_by_zero THEN
        PERFORM name FROM items WHERE id = 5;
    END;
    PERFORM name FROM items WHERE id = 6;
END $$;
BEGIN;
SAVEPOINT s;
SELECT id / (id - 7) FROM items WHERE id IN (6, 7, 8) ORDER BY id;
ROLLBACK TO SAVEPOINT s;
SELECT name FROM items WHERE id = 9;
COMMIT;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_caught ORDER BY nesting_level, query COLLATE "C";

-- 4, 5. Executors that do not nest: two cursors read in turns, one held
-- over COMMIT, and a PL/pgSQL FOR loop whose body runs a query per row (the
-- N+1 shape).  A cursor is one statement, its query at the DECLARE's
-- level, however many FETCHes (a WITH HOLD cursor's rows are all read at
-- COMMIT).  (The cursors' queries differ in their ORDER BY, so that they
-- stay apart on every major.)
SELECT perfaudit.start('cursors') AS run_cur \gset
BEGIN;
DECLARE a CURSOR FOR SELECT id FROM items WHERE organization_id = 3 ORDER BY id;
DECLARE h CURSOR WITH HOLD FOR SELECT id FROM items WHERE organization_id = 4 ORDER BY id, name;
FETCH 2 FROM a;
FETCH 2 FROM h;
FETCH 2 FROM a;
COMMIT;
FETCH 2 FROM h;
CLOSE h;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT id FROM items WHERE organization_id = 3 AND id < 150 ORDER BY id LOOP
        PERFORM name FROM items WHERE id = r.id;
    END LOOP;
END $$;
-- A cursor read in chunks (Django's QuerySet.iterator()): its FETCHes are
-- neither an N+1 nor a repeated query.
BEGIN;
DECLARE chunked CURSOR FOR SELECT id FROM items WHERE organization_id = 5 ORDER BY id, organization_id;
\o /dev/null
FETCH 10 FROM chunked;
FETCH 10 FROM chunked;
FETCH 10 FROM chunked;
FETCH 10 FROM chunked;
FETCH 10 FROM chunked;
FETCH 10 FROM chunked;
\o
CLOSE chunked;
COMMIT;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, rows, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_cur ORDER BY nesting_level, query COLLATE "C";
SELECT kind, query FROM perfaudit.findings
 WHERE run_id = :run_cur AND kind IN ('n_plus_one', 'repeated_query');

-- 6. Nested sources beyond functions: a row trigger that queries per row,
-- a procedure (CALL), a data-modifying CTE, and foreign-key checks (which
-- run through internal SPI and are not statements of the run).
CREATE TABLE fm_orders (id int PRIMARY KEY, item_id int REFERENCES items, organization_id int);
CREATE TABLE fm_audit (item_name text);
CREATE FUNCTION fm_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fm_audit SELECT name FROM items WHERE id = NEW.item_id;
    RETURN NEW;
END $$;
CREATE TRIGGER fm_audit_trg AFTER INSERT ON fm_orders FOR EACH ROW EXECUTE FUNCTION fm_audit_row();
CREATE PROCEDURE fm_proc(n int) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM count(*) FROM items WHERE organization_id = n;
END $$;
SELECT perfaudit.start('nested sources') AS run_ns \gset
INSERT INTO fm_orders SELECT g, g, 3 FROM generate_series(1, 4) g;
CALL fm_proc(3);
WITH moved AS (DELETE FROM fm_audit RETURNING item_name)
SELECT count(*) FROM moved;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_ns ORDER BY nesting_level, query COLLATE "C";

-- 8. A PL/pgSQL function's tenant parameter: its statement is prepared once
-- and turns generic, and each call is still attributed to the tenant it
-- was called for.  Likewise a PREPAREd statement under force_generic_plan.
CREATE FUNCTION fm_count(p_org int) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*) FROM items WHERE organization_id = p_org);
END $$;
RESET app.org;
SELECT perfaudit.start('generic') AS run_gen \gset
SELECT fm_count(g % 3 + 1) FROM generate_series(1, 9) g;
SET plan_cache_mode = force_generic_plan;
PREPARE fm_p(int) AS SELECT count(*) FROM items WHERE organization_id = $1;
EXECUTE fm_p(11);
EXECUTE fm_p(12);
EXECUTE fm_p(12);
RESET plan_cache_mode;
SELECT statements FROM perfaudit.stop();
SELECT tenant, calls, nesting_level, left(query, 40) AS query FROM perfaudit.run_statements
 WHERE run_id = :run_gen ORDER BY nesting_level, tenant COLLATE "C", query COLLATE "C";
DEALLOCATE fm_p;

-- 11. EXPLAIN EXECUTE and EXPLAIN ANALYZE of DML in a rolled-back
-- transaction: counted as one statement each, no row changed.
SET perfaudit.track = 'top';
PREPARE fm_q(int) AS SELECT name FROM items WHERE id = $1;
SELECT perfaudit.start('explain') AS run_ex \gset
EXPLAIN (COSTS OFF) EXECUTE fm_q(1);
BEGIN;
\o /dev/null
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) UPDATE fm_audit SET item_name = item_name;
\o
ROLLBACK;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_ex ORDER BY query COLLATE "C";
DEALLOCATE fm_q;

-- 20. Inside an aborted transaction our functions fail like any other
-- (25P02), and a statement of a rolled-back transaction is still counted.
SELECT perfaudit.start('aborted') AS run_ab \gset
BEGIN;
SELECT name FROM items WHERE id = 1;
SELECT 1 / 0;
SELECT perfaudit.active_run();
ROLLBACK;
SELECT statements FROM perfaudit.stop();

-- 21. The tenant setting: SET LOCAL reverts at ROLLBACK, a SECURITY
-- DEFINER function's SET clause applies inside it only, RESET ALL and
-- DISCARD ALL clear it.  The setting takes precedence over a predicate
-- naming another tenant (the documented order), and the mismatch is a
-- cross_tenant_query finding.
CREATE FUNCTION fm_as_org_5() RETURNS text LANGUAGE sql SECURITY DEFINER
    SET app.org = '5' AS $$ SELECT name FROM items WHERE id = 21 $$;
SET perfaudit.track = 'all';
SET app.org = '1';
SELECT perfaudit.start('tenant setting') AS run_ts \gset
BEGIN;
SET LOCAL app.org = '2';
SELECT name FROM items WHERE id = 22;
ROLLBACK;
SELECT name FROM items WHERE id = 23;
SELECT fm_as_org_5();
SELECT name FROM items WHERE id = 24;
SELECT count(*) FROM items WHERE organization_id = 7;
SELECT statements FROM perfaudit.stop();
SELECT tenant, calls, nesting_level, query FROM perfaudit.run_statements
 WHERE run_id = :run_ts ORDER BY nesting_level, query COLLATE "C";
SELECT kind, tenant, message, query FROM perfaudit.findings
 WHERE run_id = :run_ts AND kind = 'cross_tenant_query';
RESET ALL;
SELECT current_setting('app.org', true) IS NULL OR current_setting('app.org', true) = '' AS cleared_by_reset_all;
SET perfaudit.tenant_setting = 'app.org';
SET app.org = '1';
DISCARD ALL;
SELECT current_setting('app.org', true) IS NULL OR current_setting('app.org', true) = '' AS cleared_by_discard_all;
SELECT current_setting('perfaudit.tenant_setting') AS tenant_setting_after_discard;

-- 21. A tag names the tenant of its own statement only, also when several
-- statements are sent in one query string; a tag may also precede its
-- statement (from 18 on, a statement's location starts after it).
SELECT perfaudit.start('tags in one string') AS run_tag \gset
SELECT count(*) FROM items WHERE organization_id = 4 \; SELECT 1 AS tagged /*tenant='acme'*/;
SELECT min(id) AS untagged FROM items \; /*tenant='beta'*/ SELECT max(id) AS tagged_before FROM items;
SELECT statements FROM perfaudit.stop();
-- (a leading comment is part of the statement's text before 18, not after)
SELECT tenant, regexp_replace(query, '^/\*[^*]*\*/\s*', '') COLLATE "C" AS query
  FROM perfaudit.run_statements WHERE run_id = :run_tag ORDER BY 2;

-- 22. compute_query_id = off: a warning at start(), and statements are kept
-- apart by their text instead of all becoming one statement.
SET perfaudit.track = 'top';
SET compute_query_id = off;
SELECT perfaudit.start('no query ids') AS run_noq \gset
SELECT name FROM items WHERE id = 31;
SELECT name FROM items WHERE id = 32;
SELECT count(*) FROM items WHERE id = 33;
SELECT statements, findings FROM perfaudit.stop();
SELECT query, calls, queryid <> 0 AS has_id FROM perfaudit.run_statements
 WHERE run_id = :run_noq ORDER BY query COLLATE "C";
RESET compute_query_id;

-- 23. Plan invalidation: a prepared statement re-planned after DROP INDEX
-- and CREATE INDEX is inspected anew each time.
SET perfaudit.seq_scan_min_rows = 100;
CREATE TABLE fm_big (id int, organization_id int, v text);
INSERT INTO fm_big SELECT g, g % 50, 'v' FROM generate_series(1, 5000) g;
CREATE INDEX fm_big_id ON fm_big (id);
ANALYZE fm_big;
PREPARE fm_b(int) AS SELECT v FROM fm_big WHERE id = $1;
SELECT perfaudit.start('invalidation 1') AS run_i1 \gset
EXECUTE fm_b(1);
SELECT statements FROM perfaudit.stop();
DROP INDEX fm_big_id;
SELECT perfaudit.start('invalidation 2') AS run_i2 \gset
EXECUTE fm_b(2);
SELECT statements FROM perfaudit.stop();
CREATE INDEX fm_big_id ON fm_big (id);
SELECT perfaudit.start('invalidation 3') AS run_i3 \gset
EXECUTE fm_b(3);
SELECT statements FROM perfaudit.stop();
SELECT r.label, s.seq_scans,
       (SELECT count(*) FROM perfaudit.findings f WHERE f.run_id = r.run_id AND f.kind = 'seq_scan') AS seq_scan_findings
  FROM perfaudit.runs r JOIN perfaudit.run_statements s USING (run_id)
 WHERE r.run_id IN (:run_i1, :run_i2, :run_i3) ORDER BY r.run_id;
DEALLOCATE fm_b;

-- 24. A planner-changing extension: hypothetical indexes (hypopg) show in
-- EXPLAIN only; nothing is executed, nothing crashes.
CREATE EXTENSION hypopg;
SELECT count(*) AS hypothetical FROM hypopg_create_index('CREATE INDEX ON fm_big (organization_id)');
CREATE FUNCTION fm_explain_mentions(q text, pattern text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF line LIKE pattern THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END $$;
SELECT perfaudit.start('hypopg') AS run_hypo \gset
SELECT fm_explain_mentions('SELECT v FROM fm_big WHERE organization_id = 3',
                           '%btree_fm_big_organization_id%') AS plans_hypothetical_index;
SELECT count(*) FROM fm_big WHERE organization_id = 3;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, seq_scans FROM perfaudit.run_statements
 WHERE run_id = :run_hypo ORDER BY query COLLATE "C";
SELECT hypopg_reset();
DROP EXTENSION hypopg;

-- 25. Plan shapes: a partitioned table (Append of seq scans), a seq scan in
-- a CTE and in a subplan, TABLESAMPLE (a sample scan, not a seq scan), a
-- catalog table (counted, but no finding: it cannot take an index), a
-- small table (counted, below seq_scan_min_rows).
CREATE TABLE fm_part (id int, organization_id int) PARTITION BY RANGE (id);
CREATE TABLE fm_part_1 PARTITION OF fm_part FOR VALUES FROM (0) TO (3000);
CREATE TABLE fm_part_2 PARTITION OF fm_part FOR VALUES FROM (3000) TO (6000);
INSERT INTO fm_part SELECT g, g % 50 FROM generate_series(0, 5999) g;
CREATE TABLE fm_small (id int, organization_id int);
INSERT INTO fm_small VALUES (1, 1), (2, 2);
ANALYZE fm_part, fm_small;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT perfaudit.start('shapes') AS run_sh \gset
SELECT count(*) FROM fm_part WHERE organization_id = 3;
WITH c AS MATERIALIZED (SELECT id FROM fm_big WHERE organization_id = 4) SELECT count(*) FROM c;
SELECT count(*) FROM fm_small s WHERE EXISTS (SELECT 1 FROM fm_big b WHERE b.id = s.id + 4000 AND b.organization_id = s.organization_id);
SELECT count(*) >= 0 AS sampled FROM fm_big TABLESAMPLE SYSTEM (10) REPEATABLE (1);
SELECT count(*) > 0 AS catalog FROM pg_class WHERE relname LIKE 'fm%';
SELECT count(*) FROM fm_small WHERE organization_id = 1;
SELECT statements FROM perfaudit.stop();
RESET enable_indexscan;
RESET enable_bitmapscan;
SELECT left(query, 50) AS query, seq_scans FROM perfaudit.run_statements
 WHERE run_id = :run_sh ORDER BY query COLLATE "C";
SELECT relation, left(query, 50) AS query FROM perfaudit.findings
 WHERE run_id = :run_sh AND kind = 'seq_scan' ORDER BY relation COLLATE "C", query COLLATE "C";

RESET perfaudit.seq_scan_min_rows;
RESET perfaudit.tenant_setting;
RESET perfaudit.track;
DROP TABLE fm_orders, fm_audit, fm_big, fm_part, fm_small;
DROP FUNCTION fm_inner, fm_outer, fm_audit_row, fm_count, fm_as_org_5, fm_explain_mentions;
DROP PROCEDURE fm_proc;

-- 20. An assertion in a REPEATABLE READ transaction whose snapshot predates
-- the stored run says so, instead of blaming privileges.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT 1 AS snapshot_taken;
SELECT perfaudit.start('repeatable read') IS NOT NULL AS started;
SELECT name FROM items WHERE id = 1;
SELECT statements FROM perfaudit.stop();
SELECT regexp_replace(pa_error_of('SELECT perfaudit.assert_max_queries(5)'), 'run [0-9]+', 'run #') AS in_snapshot;
COMMIT;
SELECT perfaudit.assert_max_queries(5) AS after_commit;

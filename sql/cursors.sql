-- A server-side cursor is one execution of its query, as the frameworks
-- count it (Django's QuerySet.iterator(): DECLARE ... WITH HOLD, FETCH
-- several times, CLOSE), with the rows of all its fetches, and its query
-- is analysed at the DECLARE's level: under track = 'top' too.
SET perfaudit.track = 'top';
SELECT perfaudit.start('cursors') AS run_c \gset
BEGIN;
DECLARE "_django_curs_1_sync_1" NO SCROLL CURSOR WITH HOLD FOR SELECT id, name FROM items;
\o /dev/null
FETCH FORWARD 100 FROM "_django_curs_1_sync_1";
FETCH FORWARD 100 FROM "_django_curs_1_sync_1";
\o
CLOSE "_django_curs_1_sync_1";
COMMIT;
-- the same query on its own: the same queryid, so the same group
\o /dev/null
SELECT id, name FROM items;
\o
-- a cursor over one tenant's rows, and a cursor named "for"
BEGIN;
DECLARE "for" CURSOR FOR SELECT id FROM items WHERE organization_id = 7 ORDER BY id;
FETCH 3 FROM "for";
MOVE 2 IN "for";
CLOSE "for";
COMMIT;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, rows, tenant, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_c ORDER BY query COLLATE "C";
SELECT kind, tenant, relation FROM perfaudit.findings
 WHERE run_id = :run_c ORDER BY kind, relation;
-- A cursor still open when the run stops is one of its statements, with
-- the rows fetched so far (assert_max_queries(0) must not pass).
BEGIN;
SELECT perfaudit.start('open cursor') AS run_open \gset
DECLARE still_open CURSOR FOR SELECT id FROM items WHERE organization_id = 8 ORDER BY id;
FETCH 4 FROM still_open;
SELECT statements FROM perfaudit.stop();
FETCH 2 FROM still_open;
CLOSE still_open;
COMMIT;
SELECT query, calls, rows, tenant FROM perfaudit.run_statements WHERE run_id = :run_open;
SELECT pa_error_of(format('SELECT perfaudit.assert_max_queries(0, %s)', :run_open)) AS zero_fails;
RESET perfaudit.track;
-- A cursor whose (sub)transaction is rolled back before CLOSE (a test's
-- savepoint, Django's atomic() around a partly read .iterator()): what it
-- fetched was sent, and it counts, as the application counted it.
SET perfaudit.track = 'top';
SELECT perfaudit.start('rolled back cursors') AS run_rb \gset
BEGIN;
SAVEPOINT test_case;
DECLARE in_savepoint CURSOR FOR SELECT id FROM items WHERE organization_id = 3 ORDER BY id;
\o /dev/null
FETCH 5 FROM in_savepoint;
\o
ROLLBACK TO SAVEPOINT test_case;
DECLARE in_transaction CURSOR FOR SELECT id FROM items WHERE organization_id = 4 ORDER BY id;
\o /dev/null
FETCH 2 FROM in_transaction;
\o
ROLLBACK;
-- one whose FETCH failed: not counted, as a failed statement is not
BEGIN;
DECLARE failing CURSOR FOR SELECT 1 / (id - id) FROM items WHERE organization_id = 5;
FETCH 1 FROM failing;
ROLLBACK;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, rows, tenant FROM perfaudit.run_statements
 WHERE run_id = :run_rb ORDER BY query COLLATE "C";
-- A SCROLL WITH HOLD cursor is read again from its start when its
-- transaction commits: its rows are the result's, not fetched + all.
SELECT count(*) AS org6_rows FROM items WHERE organization_id = 6;
SELECT perfaudit.start('scroll with hold') AS run_sh \gset
BEGIN;
DECLARE held SCROLL CURSOR WITH HOLD FOR SELECT id FROM items WHERE organization_id = 6 ORDER BY id;
\o /dev/null
FETCH 3 FROM held;
\o
COMMIT;
\o /dev/null
FETCH ALL FROM held;
\o
CLOSE held;
BEGIN;
DECLARE held_forward NO SCROLL CURSOR WITH HOLD FOR SELECT id FROM items WHERE organization_id = 6 ORDER BY id;
\o /dev/null
FETCH 3 FROM held_forward;
\o
COMMIT;
CLOSE held_forward;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, rows FROM perfaudit.run_statements
 WHERE run_id = :run_sh ORDER BY query COLLATE "C";
RESET perfaudit.track;
-- PL/pgSQL cursors (nested, under track = 'all'): one statement each,
-- rows summed over the fetches, the tenant of the query.
SET perfaudit.track = 'all';
CREATE FUNCTION cursor_walk(org int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  c CURSOR FOR SELECT id FROM items WHERE organization_id = org ORDER BY id;
  r record;
  n int := 0;
  c2 refcursor;
  v int;
BEGIN
  FOR r IN c LOOP
    n := n + 1;
  END LOOP;
  OPEN c2 FOR SELECT id FROM items WHERE organization_id = org;
  LOOP
    FETCH c2 INTO v;
    EXIT WHEN NOT FOUND;
    n := n + 1;
  END LOOP;
  CLOSE c2;
  RETURN n;
END $$;
SELECT perfaudit.start('plpgsql cursors') AS run_pl \gset
SELECT cursor_walk(7) AS rows_walked;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, rows, tenant, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_pl ORDER BY nesting_level, query COLLATE "C";
DROP FUNCTION cursor_walk(int);
RESET perfaudit.track;

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

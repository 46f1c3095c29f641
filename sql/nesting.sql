-- Nested statements: counted with perfaudit.track = 'all', not with 'top'.
CREATE FUNCTION item_names(n int) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        RETURN QUERY SELECT name FROM items WHERE id = i;
    END LOOP;
END $$;

CREATE FUNCTION item_count_sql() RETURNS bigint LANGUAGE sql AS
$$ SELECT count(*) FROM items WHERE organization_id = 3 $$;

CREATE TABLE audit_log (item_id int, at timestamptz DEFAULT now());
CREATE FUNCTION log_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (item_id) VALUES (NEW.id);
    RETURN NEW;
END $$;
CREATE TRIGGER items_log AFTER UPDATE ON items FOR EACH ROW EXECUTE FUNCTION log_item();

-- track = top: only what the client sent.
SET perfaudit.track = 'top';
SELECT perfaudit.start('top') AS run_top \gset
SELECT count(*) FROM item_names(5);
SELECT item_count_sql();
UPDATE items SET name = name WHERE id <= 3;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_top ORDER BY nesting_level, query COLLATE "C";

-- track = all: the loop's 5 lookups, the SQL function's query and the
-- trigger's 3 inserts are nested statements of the run.
SET perfaudit.track = 'all';
SELECT perfaudit.start('all') AS run_all \gset
SELECT count(*) FROM item_names(5);
SELECT item_count_sql();
UPDATE items SET name = name WHERE id <= 3;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, distinct_params, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_all ORDER BY nesting_level, query COLLATE "C";

-- A PL/pgSQL loop issuing the same lookup with the same value: one
-- distinct parameter value; with the loop variable: one per iteration.
SELECT perfaudit.start('plpgsql params') AS run_pl \gset
DO $$
DECLARE v text; unused int := 0;
BEGIN
    FOR i IN 1..4 LOOP
        unused := unused + 1;   -- a variable the lookup does not use
        SELECT name INTO v FROM items WHERE id = 7;
        SELECT name INTO v FROM items WHERE id = i;
    END LOOP;
END $$;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, distinct_params, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_pl ORDER BY nesting_level, query COLLATE "C";

-- A run started inside a function call counts what follows, not the
-- statement that started it; likewise for the one that stops it.
SELECT perfaudit.start('inside DO') IS NOT NULL AS started;
SELECT name FROM items WHERE id = 8;
DO $$ BEGIN PERFORM perfaudit.stop(); END $$;
SELECT statements FROM perfaudit.runs WHERE label = 'inside DO';

-- Nesting level is back to 0 after errors at depth: the next statement is
-- counted as top level.
SET perfaudit.track = 'top';
CREATE FUNCTION fail_deep(n int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    IF n = 0 THEN RETURN 1 / 0; END IF;
    RETURN fail_deep(n - 1);
END $$;
\set VERBOSITY terse
SELECT fail_deep(3);
\set VERBOSITY default
SELECT perfaudit.start('after error') AS run_err \gset
SELECT name FROM items WHERE id = 9;
\set VERBOSITY terse
SELECT fail_deep(2);
\set VERBOSITY default
SELECT name FROM items WHERE id = 10;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_err ORDER BY query COLLATE "C";

-- An exception caught in PL/pgSQL leaves the counts right.
SET perfaudit.track = 'all';
SELECT perfaudit.start('caught') AS run_caught \gset
DO $$
BEGIN
    BEGIN
        PERFORM fail_deep(2);
    EXCEPTION WHEN division_by_zero THEN
        PERFORM name FROM items WHERE id = 11;
    END;
END $$;
SELECT name FROM items WHERE id = 12;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_caught ORDER BY nesting_level, query COLLATE "C";
RESET perfaudit.track;

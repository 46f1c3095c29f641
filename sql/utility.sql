-- Utility statements: which count, and what is nested under them.
SET perfaudit.track = 'top';
SELECT perfaudit.start('utility') AS run_u \gset
CREATE TABLE scratch (a int);                          -- counted
INSERT INTO scratch SELECT generate_series(1, 10);     -- counted (executor)
EXPLAIN (COSTS OFF) SELECT * FROM scratch;             -- counted once, nothing executed
-- (plans are not printed: their format changes between majors)
\o /dev/null
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM scratch; -- counted once
\o
BEGIN;                                                 -- not counted
SAVEPOINT s1;                                          -- not counted
DECLARE c CURSOR FOR SELECT a FROM scratch ORDER BY a; -- its query: one statement
FETCH 3 FROM c;                                        -- part of it (rows summed)
FETCH 3 FROM c;                                        -- part of it
CLOSE c;                                               -- part of it
RELEASE SAVEPOINT s1;                                  -- not counted
COMMIT;                                                -- not counted
SET search_path = public;                              -- not counted
COPY scratch TO STDOUT;                                -- counted
DROP TABLE scratch;                                    -- counted
SELECT statements FROM perfaudit.stop();
SELECT query, calls, rows, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_u ORDER BY query COLLATE "C";

-- With track = all, the query under EXPLAIN ANALYZE is a nested statement;
-- the cursor is its query at the DECLARE's level (counted once, however
-- many FETCHes), as at track = top.
SET perfaudit.track = 'all';
CREATE TABLE scratch (a int);
INSERT INTO scratch SELECT generate_series(1, 10);
SELECT perfaudit.start('utility all') AS run_ua \gset
\o /dev/null
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM scratch;
\o
BEGIN;
DECLARE c CURSOR FOR SELECT a FROM scratch ORDER BY a;
FETCH 4 FROM c;
FETCH 4 FROM c;
FETCH 4 FROM c;
CLOSE c;
COMMIT;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, rows, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_ua ORDER BY nesting_level, query COLLATE "C";
DROP TABLE scratch;
RESET perfaudit.track;

-- DDL counts once with track = 'all' too.  Core runs the parts of some
-- statements as sub-commands through ProcessUtility (the CREATE INDEX of a
-- PRIMARY KEY or UNIQUE constraint, the CREATE SEQUENCE and ALTER SEQUENCE
-- of a serial column, what LIKE and ALTER TABLE expand to, the statements
-- of CREATE SCHEMA ... CREATE): they are part of their statement, not
-- nested statements.  What a statement really runs (the foreign key's
-- validation query) stays nested; so does DDL run by a DO block or a
-- function, once each.
SET perfaudit.track = 'all';
CREATE FUNCTION ddl_in_function() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    CREATE TABLE ddl_fn (i int PRIMARY KEY, s serial UNIQUE);
END $$;
SELECT perfaudit.start('ddl once') AS run_d \gset
CREATE TABLE ddl_pk (i int PRIMARY KEY);
CREATE TABLE ddl_uq (i int UNIQUE, j int UNIQUE);
CREATE TABLE ddl_serial (i serial, j bigserial PRIMARY KEY);
CREATE TABLE ddl_like (LIKE ddl_uq INCLUDING ALL);
ALTER TABLE ddl_like ADD CONSTRAINT ddl_like_pk PRIMARY KEY (i);
ALTER TABLE ddl_pk ADD COLUMN k serial, ADD CONSTRAINT ddl_pk_k UNIQUE (k);
ALTER TABLE ddl_serial ADD CONSTRAINT ddl_serial_fk FOREIGN KEY (i) REFERENCES ddl_pk (i);
CREATE SCHEMA ddl_s CREATE TABLE t (i int PRIMARY KEY) CREATE SEQUENCE q;
DO $$ BEGIN CREATE TABLE ddl_do (i int PRIMARY KEY, s serial); END $$;
SELECT ddl_in_function();
SELECT statements FROM perfaudit.stop();
SELECT regexp_replace(query, '\s+', ' ', 'g') AS query, calls, nesting_level
  FROM perfaudit.run_statements
 WHERE run_id = :run_d ORDER BY nesting_level, query COLLATE "C";
-- pg_stat_statements agrees: one entry per DDL statement.
SELECT count(*) FILTER (WHERE query LIKE 'CREATE TABLE ddl_%') AS pgss_create_table,
       max(calls) FILTER (WHERE query LIKE 'CREATE TABLE ddl_%') AS pgss_max_calls
  FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database());
DROP SCHEMA ddl_s CASCADE;
DROP TABLE ddl_serial, ddl_pk, ddl_uq, ddl_like, ddl_do, ddl_fn;
DROP FUNCTION ddl_in_function();

-- Statements without source text: a SQL function with a SQL-standard body
-- runs its statements from stored parse trees, with an empty source string
-- and no query identifier.  Each gets its deparsed text and an identifier
-- of its own (not one row "" for every such statement of every function).
CREATE TABLE body_t (i int);
CREATE FUNCTION body_add(x int) RETURNS bigint LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO body_t VALUES (x);
    SELECT count(*) FROM body_t;
END;
CREATE FUNCTION body_sum() RETURNS bigint LANGUAGE sql
BEGIN ATOMIC
    SELECT sum(i) FROM body_t;
    SELECT sum(i) + 1 FROM body_t;
END;
SELECT perfaudit.start('sql body') AS run_b \gset
SELECT body_add(g) FROM generate_series(1, 3) g;
SELECT body_sum();
SELECT body_sum();
SELECT statements FROM perfaudit.stop();
SELECT regexp_replace(query, '\s+', ' ', 'g') AS query, calls, nesting_level
  FROM perfaudit.run_statements
 WHERE run_id = :run_b ORDER BY nesting_level, query COLLATE "C";
SELECT count(DISTINCT queryid) AS nested_ids, count(*) FILTER (WHERE query = '') AS empty_texts
  FROM perfaudit.run_statements WHERE run_id = :run_b AND nesting_level > 0;
DROP FUNCTION body_add(int), body_sum();
DROP TABLE body_t;
RESET perfaudit.track;
